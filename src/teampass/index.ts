export {
  createDefuseKey,
  decryptDefuse,
  decryptDefuseToBuffer,
  encryptDefuse,
  isDefuseEncrypted,
  loadDefuseKey,
  trimDefuseTrailingWhitespace,
  DEFUSE_CIPHERTEXT_HEADER,
  DEFUSE_INFO_AUTHENTICATION,
  DEFUSE_INFO_ENCRYPTION,
  DEFUSE_IV_BYTES,
  DEFUSE_KEY_BYTES,
  DEFUSE_KEY_HEADER,
  DEFUSE_MAC_BYTES,
  DEFUSE_SALT_BYTES,
} from './defuse.js';
export type { EncryptDefuseOptions } from './defuse.js';
export { findTeampassInstall, keyFileCandidates, LEGACY_KEY_FILE_NAME } from './install.js';
export type { TeampassInstall, TeampassVersion } from './install.js';
export { parsePhpDefines, parseSettingsPhp } from './php-defines.js';
export type { ParsePhpOptions, PhpArray, PhpConstantRef, PhpDefine, PhpExpression, PhpScalar, PhpValue } from './php-defines.js';
export { readTeampassSettings, DEFAULT_DB_ENCODING, DEFAULT_DB_PORT, DEFAULT_DB_PREFIX } from './settings.js';
export type { TeampassDbSettings, TeampassSettings, TeampassSsl } from './settings.js';
export { locateTeampass, USUAL_TEAMPASS_ROOTS } from './locate.js';
