/**
 * defuse/php-encryption v2, the format TeamPass encrypts DB_PASSWD with, rebuilt on node:crypto so
 * the daemon never has to run PHP. Key file: hex(DEF00000 || key[32] || sha256(header || key)).
 * Ciphertext: hex(DEF50200 || salt[32] || iv[16] || aes-256-ctr(data) || hmac-sha256[32]), with the
 * MAC and AES keys derived from the raw key by RFC 5869 HKDF-SHA256 over that salt.
 *
 * Nothing here ever puts key material, ciphertext or plaintext into an error message: in TeamPass
 * 3.1 the ciphertext itself is the API's JWT secret.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { TeampassWsError } from '../errors.js';

export const DEFUSE_KEY_HEADER = Buffer.from([0xde, 0xf0, 0x00, 0x00]);
/** KeyProtectedByPassword's header: recognised only to explain why such a file cannot be used. */
const DEFUSE_PASSWORD_KEY_HEADER = Buffer.from([0xde, 0xf1, 0x00, 0x00]);
export const DEFUSE_CIPHERTEXT_HEADER = Buffer.from([0xde, 0xf5, 0x02, 0x00]);
export const DEFUSE_KEY_BYTES = 32;
export const DEFUSE_SALT_BYTES = 32;
export const DEFUSE_IV_BYTES = 16;
export const DEFUSE_MAC_BYTES = 32;
const HEADER_BYTES = 4;
const CHECKSUM_BYTES = 32;
const KEY_FILE_BYTES = HEADER_BYTES + DEFUSE_KEY_BYTES + CHECKSUM_BYTES;
const MIN_CIPHERTEXT_BYTES = HEADER_BYTES + DEFUSE_SALT_BYTES + DEFUSE_IV_BYTES + DEFUSE_MAC_BYTES;
export const DEFUSE_INFO_AUTHENTICATION = 'DefusePHP|V2|KeyForAuthentication';
export const DEFUSE_INFO_ENCRYPTION = 'DefusePHP|V2|KeyForEncryption';

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** The characters defuse's Encoding::trimTrailingWhitespace drops: NUL, tab, LF, CR, space. */
export function trimDefuseTrailingWhitespace(text: string): string {
  return text.replace(/[\0\t\n\r ]+$/, '');
}

function keyFileError(source: string, problem: string): TeampassWsError {
  return new TeampassWsError('KEY_FILE', `${source} is not a defuse key file: ${problem}.`, {
    suggestion:
      'Point teampass-ws at the key file TeamPass itself uses (SECUREPATH/SECUREFILE in 3.1, <root>/secrets/<SECUREFILE> in 3.2); ' +
      `it holds ${KEY_FILE_BYTES * 2} hexadecimal characters starting with "def00000".`,
  });
}

/**
 * Parses the ascii-safe key text (the content of TeamPass's key file) into the 32 raw key bytes.
 * `source` names the file in error messages.
 */
export function loadDefuseKey(asciiHex: string, source = 'The key'): Buffer {
  const hex = trimDefuseTrailingWhitespace(asciiHex);
  if (hex.length === 0) throw keyFileError(source, 'it is empty');
  if (!HEX_RE.test(hex)) throw keyFileError(source, 'it is not hexadecimal text');
  const bytes = Buffer.from(hex, 'hex');
  const header = bytes.subarray(0, HEADER_BYTES);
  if (bytes.length >= HEADER_BYTES && header.equals(DEFUSE_PASSWORD_KEY_HEADER)) {
    throw keyFileError(source, 'it is a password-protected defuse key (header def10000), which TeamPass does not use');
  }
  if (bytes.length < HEADER_BYTES || !header.equals(DEFUSE_KEY_HEADER)) {
    throw keyFileError(source, 'it does not start with the key header def00000');
  }
  if (bytes.length !== KEY_FILE_BYTES) {
    throw keyFileError(source, `it holds ${bytes.length} bytes where a key has ${KEY_FILE_BYTES} (${KEY_FILE_BYTES * 2} hex characters)`);
  }
  const body = bytes.subarray(0, HEADER_BYTES + DEFUSE_KEY_BYTES);
  const checksum = bytes.subarray(HEADER_BYTES + DEFUSE_KEY_BYTES);
  const expected = createHash('sha256').update(body).digest();
  if (!timingSafeEqual(checksum, expected)) {
    throw new TeampassWsError('KEY_CHECKSUM', `${source} is corrupted: its SHA-256 checksum does not match the key it carries.`, {
      suggestion:
        'The file was truncated or edited. Restore it from a backup of the TeamPass server; without the original key the encrypted ' +
        'DB_PASSWD cannot be decrypted (re-running TeamPass\'s installer/upgrade writes a new key and a new DB_PASSWD).',
    });
  }
  return Buffer.from(body.subarray(HEADER_BYTES));
}

/** A new random key as the text TeamPass writes to its key file (no trailing newline). */
export function createDefuseKey(rawKey?: Buffer): string {
  const key = rawKey ?? randomBytes(DEFUSE_KEY_BYTES);
  assertRawKey(key);
  const body = Buffer.concat([DEFUSE_KEY_HEADER, key]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]).toString('hex');
}

function assertRawKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== DEFUSE_KEY_BYTES) {
    throw new TeampassWsError('INPUT', `A defuse key must be ${DEFUSE_KEY_BYTES} raw bytes (use loadDefuseKey on the key file text).`);
  }
}

function deriveKeys(key: Buffer, salt: Buffer): { authKey: Buffer; encKey: Buffer } {
  return {
    authKey: Buffer.from(hkdfSync('sha256', key, salt, DEFUSE_INFO_AUTHENTICATION, DEFUSE_KEY_BYTES)),
    encKey: Buffer.from(hkdfSync('sha256', key, salt, DEFUSE_INFO_ENCRYPTION, DEFUSE_KEY_BYTES)),
  };
}

export interface EncryptDefuseOptions {
  /** Fixed salt and IV make reproducible fixtures; leave them out for real use. */
  salt?: Buffer;
  iv?: Buffer;
}

/** Crypto::encrypt($plaintext, $key) with hex output, as TeamPass's installer writes DB_PASSWD. */
export function encryptDefuse(plaintext: string | Buffer, key: Buffer, options: EncryptDefuseOptions = {}): string {
  assertRawKey(key);
  const salt = options.salt ?? randomBytes(DEFUSE_SALT_BYTES);
  const iv = options.iv ?? randomBytes(DEFUSE_IV_BYTES);
  if (salt.length !== DEFUSE_SALT_BYTES || iv.length !== DEFUSE_IV_BYTES) {
    throw new TeampassWsError('INPUT', `A defuse salt is ${DEFUSE_SALT_BYTES} bytes and an IV ${DEFUSE_IV_BYTES} bytes.`);
  }
  const { authKey, encKey } = deriveKeys(key, salt);
  const cipher = createCipheriv('aes-256-ctr', encKey, iv);
  const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  const signed = Buffer.concat([DEFUSE_CIPHERTEXT_HEADER, salt, iv, cipher.update(data), cipher.final()]);
  const mac = createHmac('sha256', authKey).update(signed).digest();
  return Buffer.concat([signed, mac]).toString('hex');
}

function formatError(problem: string): TeampassWsError {
  return new TeampassWsError('DECRYPT_FAILED', `DB_PASSWD is not a defuse v2 ciphertext: ${problem}.`, {
    suggestion:
      'TeamPass treats any DB_PASSWD starting with "def" as encrypted. If this is a clear-text password, TeamPass cannot use it either; ' +
      'otherwise the value was cut or altered when settings.php was edited: restore settings.php from a backup.',
  });
}

/** Crypto::decrypt($ciphertext, $key) for hex input, returning the plaintext bytes. */
export function decryptDefuseToBuffer(ciphertextHex: string, key: Buffer): Buffer {
  assertRawKey(key);
  if (!HEX_RE.test(ciphertextHex)) throw formatError('it is not an even-length hexadecimal string');
  const bytes = Buffer.from(ciphertextHex, 'hex');
  if (bytes.length < MIN_CIPHERTEXT_BYTES) {
    throw formatError(`it is ${bytes.length} bytes long, shorter than the ${MIN_CIPHERTEXT_BYTES} bytes of an empty message`);
  }
  if (!bytes.subarray(0, HEADER_BYTES).equals(DEFUSE_CIPHERTEXT_HEADER)) {
    throw formatError('its version header is not def50200');
  }
  const saltEnd = HEADER_BYTES + DEFUSE_SALT_BYTES;
  const ivEnd = saltEnd + DEFUSE_IV_BYTES;
  const macStart = bytes.length - DEFUSE_MAC_BYTES;
  const salt = bytes.subarray(HEADER_BYTES, saltEnd);
  const iv = bytes.subarray(saltEnd, ivEnd);
  const { authKey, encKey } = deriveKeys(key, salt);
  const expected = createHmac('sha256', authKey).update(bytes.subarray(0, macStart)).digest();
  if (!timingSafeEqual(expected, bytes.subarray(macStart))) {
    throw new TeampassWsError(
      'DECRYPT_FAILED',
      'DB_PASSWD failed its integrity check (HMAC mismatch): either the key file is not the one this DB_PASSWD was encrypted with, or the value was altered.',
      {
        suggestion:
          'Check that SECUREPATH/SECUREFILE (3.1) or <root>/secrets/<SECUREFILE> (3.2) is the key file of this very installation and that ' +
          'settings.php and the key file come from the same backup; a key file regenerated by a reinstall cannot decrypt an older DB_PASSWD.',
      },
    );
  }
  const decipher = createDecipheriv('aes-256-ctr', encKey, iv);
  return Buffer.concat([decipher.update(bytes.subarray(ivEnd, macStart)), decipher.final()]);
}

/** Like decryptDefuseToBuffer, decoded as UTF-8 (settings.php is written as UTF-8). */
export function decryptDefuse(ciphertextHex: string, key: Buffer): string {
  return decryptDefuseToBuffer(ciphertextHex, key).toString('utf8');
}

/** TeamPass's own rule (defuseReturnDecrypted): a value is encrypted exactly when it starts with "def". */
export function isDefuseEncrypted(value: string): boolean {
  return value.startsWith('def');
}
