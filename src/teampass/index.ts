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
export {
  findTeampassInstall,
  keyFileCandidates,
  parsePhpDefines,
  parseSettingsPhp,
  readTeampassSettings,
  DEFAULT_DB_ENCODING,
  DEFAULT_DB_PORT,
  DEFAULT_DB_PREFIX,
  LEGACY_KEY_FILE_NAME,
} from './settings.js';
export type {
  ParsePhpOptions,
  PhpArray,
  PhpConstantRef,
  PhpDefine,
  PhpExpression,
  PhpScalar,
  PhpValue,
  TeampassDbSettings,
  TeampassInstall,
  TeampassSettings,
  TeampassSsl,
  TeampassVersion,
} from './settings.js';
export { locateTeampass, USUAL_TEAMPASS_ROOTS } from './locate.js';
