/**
 * The database settings of a TeamPass installation, read from its settings.php, with DB_PASSWD
 * decrypted by the installation's defuse key when it is encrypted.
 *
 * The database password (clear or decrypted) and the raw DB_PASSWD (3.1's API JWT secret) never
 * appear in an error message, and the objects returned here redact them when inspected or
 * serialised.
 */
import { readFile, stat } from 'node:fs/promises';
import { TeampassWsError } from '../errors.js';
import { decryptDefuse, isDefuseEncrypted, loadDefuseKey } from './defuse.js';
import { findTeampassInstall, whoAmI, withSuggestion, type TeampassInstall, type TeampassVersion } from './install.js';
import type { PhpDefine, PhpValue } from './php-defines.js';
import { redactable, REDACTED } from './redact.js';

/** DB_SSL as TeamPass writes it: false, or its array with TeamPass's key names (key, cert, ca_cert, ca_path, cipher). */
export type TeampassSsl = boolean | Record<string, string>;

export interface TeampassDbSettings {
  host: string;
  port: number;
  user: string;
  /** Clear text: DB_PASSWD decrypted, or DB_PASSWD itself when it was not encrypted. */
  password: string;
  database: string;
  prefix: string;
  ssl: TeampassSsl;
  encoding: string;
  /** MYSQLI_OPT_CONNECT_TIMEOUT from DB_CONNECT_OPTIONS, in seconds, when present. */
  connectTimeoutSec?: number;
}

export interface TeampassSettings {
  version: TeampassVersion;
  root: string;
  settingsPath: string;
  /** The key file that decrypted DB_PASSWD; null when DB_PASSWD was in clear text. */
  keyFilePath: string | null;
  passwordEncrypted: boolean;
  db: TeampassDbSettings;
  /** DB_PASSWD exactly as in the file (unescaped): TeamPass 3.1 signs its API JWTs with it. */
  rawDbPasswd: string;
}

export const DEFAULT_DB_PREFIX = 'teampass_';
export const DEFAULT_DB_PORT = 3306;
export const DEFAULT_DB_ENCODING = 'utf8mb4';
const MAX_KEY_FILE_BYTES = 4096;

function firstDefine(defines: PhpDefine[], name: string): PhpDefine | undefined {
  return defines.find((d) => d.name === name);
}

function settingsInvalid(settingsPath: string, problem: string, suggestion?: string): TeampassWsError {
  return new TeampassWsError('SETTINGS_INVALID', `${settingsPath}: ${problem}`, {
    suggestion: suggestion ?? 'Compare it with the settings.php TeamPass\'s installer writes, or restore it from a backup.',
  });
}

async function readKeyFile(install: TeampassInstall): Promise<{ key: Buffer; keyFilePath: string }> {
  const { keyFilePath, keyFileCandidates: candidates, settingsPath } = install;
  const access = `The user running teampass-ws, ${whoAmI()}, needs read access to the key file and execute access to its folders, e.g. by joining the web server's group.`;
  if (keyFilePath === null) {
    throw new TeampassWsError('KEY_FILE', `DB_PASSWD in ${settingsPath} is encrypted but settings.php names no key file (no SECUREFILE or SECUREPATH define).`, {
      suggestion: 'Restore the SECUREPATH/SECUREFILE lines from a backup of settings.php; the key file lives outside the web root and its name is random.',
    });
  }
  let text: string;
  try {
    const st = await stat(keyFilePath);
    if (!st.isFile()) {
      throw new TeampassWsError('KEY_FILE', `The key file ${keyFilePath} is not a regular file.`, {
        suggestion: `SECUREPATH/SECUREFILE in ${settingsPath} must name TeamPass's key file.`,
      });
    }
    if (st.size > MAX_KEY_FILE_BYTES) {
      throw new TeampassWsError('KEY_FILE', `The key file ${keyFilePath} is ${st.size} bytes; a defuse key file is 136 characters.`, {
        suggestion: `SECUREPATH/SECUREFILE in ${settingsPath} must name TeamPass's key file.`,
      });
    }
    text = await readFile(keyFilePath, 'latin1');
  } catch (err) {
    if (err instanceof TeampassWsError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const tried = candidates.length > 1 ? ` (looked for ${candidates.join(', ')})` : '';
      throw new TeampassWsError('KEY_FILE', `The key file ${keyFilePath} named by ${settingsPath} does not exist${tried}.`, {
        suggestion: `Restore the key file from a backup of the TeamPass server: without it the encrypted DB_PASSWD cannot be decrypted. ${access}`,
        cause: err,
      });
    }
    throw new TeampassWsError('KEY_FILE', `The key file ${keyFilePath} cannot be read by ${whoAmI()} (${code ?? 'error'}).`, { suggestion: access, cause: err });
  }
  return { key: loadDefuseKey(text, `The key file ${keyFilePath}`), keyFilePath };
}

function sslFrom(value: PhpValue | undefined): TeampassSsl {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') return value !== '' && value !== '0';
  if (value.kind !== 'array') return false;
  const out: Record<string, string> = {};
  for (const { key, value: v } of value.entries) {
    if (typeof key === 'string' && typeof v === 'string' && v !== '') out[key] = v;
  }
  return Object.keys(out).length > 0 ? out : false;
}

function connectTimeoutFrom(value: PhpValue | undefined): number | undefined {
  if (value === null || typeof value !== 'object' || value.kind !== 'array') return undefined;
  for (const { key, value: v } of value.entries) {
    const isTimeout = (key !== null && typeof key === 'object' && key.name === 'MYSQLI_OPT_CONNECT_TIMEOUT') || key === 0;
    if (isTimeout && typeof v === 'number' && v > 0) return v;
  }
  return undefined;
}

/**
 * Everything teampass-ws needs from a TeamPass installation to reach its database, with
 * DB_PASSWD decrypted when it is encrypted (TeamPass's rule: it starts with "def").
 */
export async function readTeampassSettings(root: string): Promise<TeampassSettings> {
  const install = await findTeampassInstall(root);
  const { settingsPath, defines } = install;

  const missing: string[] = [];
  const notLiteral: string[] = [];
  const text = (name: string, required: boolean): string | undefined => {
    const def = firstDefine(defines, name);
    if (def === undefined) {
      if (required) missing.push(name);
      return undefined;
    }
    const v = def.value;
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    if (required || (v !== null && typeof v === 'object')) notLiteral.push(`${name} (line ${def.line})`);
    return undefined;
  };

  const host = text('DB_HOST', true);
  const user = text('DB_USER', true);
  const rawDbPasswd = text('DB_PASSWD', true);
  const database = text('DB_NAME', true);
  const portText = text('DB_PORT', false);
  const prefixText = text('DB_PREFIX', false);
  const encodingText = text('DB_ENCODING', false);

  if (missing.length > 0) {
    throw settingsInvalid(settingsPath, `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not defined.`,
      'TeamPass\'s installer writes DB_HOST, DB_USER, DB_PASSWD and DB_NAME; restore settings.php from a backup or re-run the installer.');
  }
  if (notLiteral.length > 0) {
    throw settingsInvalid(
      settingsPath,
      `${notLiteral.join(', ')} ${notLiteral.length > 1 ? 'are' : 'is'} not a literal string: a PHP expression, or a double-quoted string with an unescaped $ that PHP reads as a variable.`,
      'teampass-ws reads settings.php as text and never runs it: write the value as a quoted string, with $ escaped as \\$ inside double quotes.',
    );
  }
  const empty = (['DB_HOST', 'DB_USER', 'DB_NAME'] as const).filter((_, i) => [host, user, database][i] === '');
  if (empty.length > 0) {
    throw settingsInvalid(settingsPath, `${empty.join(', ')} ${empty.length > 1 ? 'are' : 'is'} empty.`,
      'This is the blank template, not a configured settings.php: point --teampass-root at an installed TeamPass, or finish TeamPass\'s installation first.');
  }

  let port = DEFAULT_DB_PORT;
  if (portText !== undefined && portText.trim() !== '') {
    const trimmed = portText.trim();
    port = /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw settingsInvalid(settingsPath, `DB_PORT "${portText}" is not a TCP port (1-65535).`);
    }
  }
  const prefix = prefixText ?? DEFAULT_DB_PREFIX;
  if (!/^[A-Za-z0-9_$]*$/.test(prefix)) {
    throw settingsInvalid(settingsPath, `DB_PREFIX "${prefix}" holds characters other than letters, digits, _ and $.`,
      'teampass-ws builds table names from DB_PREFIX, so it only accepts what a MySQL identifier allows unquoted; TeamPass\'s installer default is "teampass_".');
  }
  const encoding = encodingText !== undefined && encodingText !== '' ? encodingText : DEFAULT_DB_ENCODING;

  const passwordEncrypted = isDefuseEncrypted(rawDbPasswd!);
  let password = rawDbPasswd!;
  let keyFilePath: string | null = null;
  if (passwordEncrypted) {
    const loaded = await readKeyFile(install);
    keyFilePath = loaded.keyFilePath;
    try {
      password = decryptDefuse(rawDbPasswd!, loaded.key);
    } catch (err) {
      if (err instanceof TeampassWsError) {
        throw new TeampassWsError(err.code, `${err.message} DB_PASSWD comes from ${settingsPath}; the key file is ${keyFilePath}.`, withSuggestion(err));
      }
      throw err;
    } finally {
      loaded.key.fill(0);
    }
  }

  const connectTimeoutSec = connectTimeoutFrom(firstDefine(defines, 'DB_CONNECT_OPTIONS')?.value);
  const db: TeampassDbSettings = redactable(
    {
      host: host!,
      port,
      user: user!,
      password,
      database: database!,
      prefix,
      ssl: sslFrom(firstDefine(defines, 'DB_SSL')?.value),
      encoding,
      ...(connectTimeoutSec !== undefined ? { connectTimeoutSec } : {}),
    },
    (d) => ({ ...d, password: REDACTED }),
  );
  return redactable(
    { version: install.version, root: install.root, settingsPath, keyFilePath, passwordEncrypted, db, rawDbPasswd: rawDbPasswd! },
    (s) => ({ ...s, db: { ...s.db, password: REDACTED }, rawDbPasswd: REDACTED }),
  );
}
