/**
 * A TeamPass installation's settings.php, read as text, and the database settings it holds.
 *
 * php-defines.ts reads the constants without running the file.
 *
 * The database password (clear or decrypted) and the raw DB_PASSWD (3.1's API JWT secret) never
 * appear in an error message, and the objects returned here redact them when inspected or
 * serialised, so a stray console.log or JSON dump cannot leak them.
 */
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { TeampassWsError } from '../errors.js';
import { decryptDefuse, isDefuseEncrypted, loadDefuseKey } from './defuse.js';
import { parsePhpDefines, parseSettingsPhp, type PhpDefine, type PhpValue } from './php-defines.js';

export type TeampassVersion = '3.1' | '3.2';

export interface TeampassInstall {
  version: TeampassVersion;
  /** Absolute path of the TeamPass root folder. */
  root: string;
  settingsPath: string;
  /**
   * The defuse key file: the first candidate that exists, else the first candidate (so errors
   * can name it), or null when settings.php names no key file at all.
   */
  keyFilePath: string | null;
  /** Every place the key file was looked for, in order. */
  keyFileCandidates: string[];
  settings: Record<string, string | boolean | number>;
  defines: PhpDefine[];
}

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
/** The key file name TeamPass used before SECUREFILE existed. */
export const LEGACY_KEY_FILE_NAME = 'teampass-seckey.txt';
const MAX_SETTINGS_BYTES = 1024 * 1024;
const MAX_KEY_FILE_BYTES = 4096;
const REDACTED = '[redacted]';

const LAYOUTS: ReadonlyArray<{ version: TeampassVersion; relative: string }> = [
  { version: '3.2', relative: path.join('app', 'config', 'settings.php') },
  { version: '3.1', relative: path.join('includes', 'config', 'settings.php') },
];

const ROOT_SUGGESTION =
  "--teampass-root must point at TeamPass's root folder (the one holding index.php, e.g. /var/www/html/teampass), " +
  'not at its config folder or at settings.php itself.';

function whoAmI(): string {
  let name = 'unknown';
  try {
    name = os.userInfo().username;
  } catch {
    name = process.env.USER ?? name;
  }
  const uid = typeof process.getuid === 'function' ? ` (uid ${process.getuid()})` : '';
  return `user "${name}"${uid}`;
}

async function statOrNull(p: string): Promise<{ isFile: boolean; isDir: boolean; size: number } | { error: NodeJS.ErrnoException } | null> {
  try {
    const st = await stat(p);
    return { isFile: st.isFile(), isDir: st.isDirectory(), size: st.size };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return null;
    return { error: e };
  }
}

function withSuggestion(err: TeampassWsError): { suggestion?: string } {
  return err.suggestion === undefined ? {} : { suggestion: err.suggestion };
}

function firstDefine(defines: PhpDefine[], name: string): PhpDefine | undefined {
  return defines.find((d) => d.name === name);
}

function nonEmptyString(v: string | boolean | number | undefined): string | undefined {
  if (typeof v === 'number') return String(v);
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Where TeamPass keeps the defuse key, per layout:
 * - 3.2: `<root>/secrets/<SECUREFILE>`; a SECUREPATH line, if an upgraded file kept one, is tried next.
 * - 3.1: `SECUREPATH/SECUREFILE`.
 * - SECUREPATH without SECUREFILE (TeamPass before SECUREFILE existed): `SECUREPATH/teampass-seckey.txt`.
 * - SECUREFILE without SECUREPATH: SECUREFILE is then the key file's path, and when nothing is
 *   there the legacy file name is tried in that folder.
 * Relative paths are taken from the TeamPass root, as TeamPass's own scripts run from there.
 */
export function keyFileCandidates(version: TeampassVersion, root: string, settings: Record<string, string | boolean | number>): string[] {
  const securePath = nonEmptyString(settings.SECUREPATH);
  const secureFile = nonEmptyString(settings.SECUREFILE);
  const inRoot = (p: string): string => path.resolve(root, p);
  const candidates: string[] = [];
  if (secureFile && version === '3.2') candidates.push(path.join(root, 'secrets', secureFile));
  if (securePath && secureFile) candidates.push(path.join(inRoot(securePath), secureFile));
  if (securePath && !secureFile) candidates.push(path.join(inRoot(securePath), LEGACY_KEY_FILE_NAME));
  if (!securePath && secureFile && version === '3.1') {
    candidates.push(inRoot(secureFile), path.join(path.dirname(inRoot(secureFile)), LEGACY_KEY_FILE_NAME));
  }
  return [...new Set(candidates)];
}

/** Finds settings.php under a TeamPass root, parses it and locates the key file. */
export async function findTeampassInstall(root: string): Promise<TeampassInstall> {
  const absRoot = path.resolve(root);
  const rootStat = await statOrNull(absRoot);
  if (rootStat === null) {
    throw new TeampassWsError('SETTINGS_NOT_FOUND', `The TeamPass root ${absRoot} does not exist.`, { suggestion: ROOT_SUGGESTION });
  }
  if ('error' in rootStat) {
    throw new TeampassWsError('SETTINGS_NOT_FOUND', `The TeamPass root ${absRoot} cannot be read by ${whoAmI()} (${rootStat.error.code}).`, {
      suggestion: `Give the user running teampass-ws read and execute access to ${absRoot}. ${ROOT_SUGGESTION}`,
    });
  }
  if (!rootStat.isDir) {
    throw new TeampassWsError('SETTINGS_NOT_FOUND', `The TeamPass root ${absRoot} is a file, not a folder.`, { suggestion: ROOT_SUGGESTION });
  }

  const tried: string[] = [];
  let found: { version: TeampassVersion; settingsPath: string; size: number } | undefined;
  for (const layout of LAYOUTS) {
    const candidate = path.join(absRoot, layout.relative);
    tried.push(`${candidate} (${layout.version}.x)`);
    const st = await statOrNull(candidate);
    if (st === null) continue;
    if ('error' in st) {
      throw new TeampassWsError('SETTINGS_NOT_FOUND', `${candidate} exists but cannot be read by ${whoAmI()} (${st.error.code}).`, {
        suggestion: 'The user running teampass-ws needs read access to settings.php and to the folders above it (usually by joining the web server\'s group).',
      });
    }
    if (st.isFile) {
      found = { version: layout.version, settingsPath: candidate, size: st.size };
      break;
    }
  }
  if (!found) {
    let suggestion = ROOT_SUGGESTION;
    const direct = await statOrNull(path.join(absRoot, 'settings.php'));
    if (direct !== null && !('error' in direct) && direct.isFile) {
      suggestion = `${absRoot} looks like TeamPass's config folder; use --teampass-root ${path.resolve(absRoot, '..', '..')}. ${ROOT_SUGGESTION}`;
    }
    throw new TeampassWsError('SETTINGS_NOT_FOUND', `No TeamPass settings.php under ${absRoot}: tried ${tried.join(' and ')}.`, { suggestion });
  }

  const { version, settingsPath } = found;
  if (found.size > MAX_SETTINGS_BYTES) {
    throw new TeampassWsError('SETTINGS_INVALID', `${settingsPath} is ${found.size} bytes, far larger than a TeamPass settings.php.`, {
      suggestion: 'Check that this is TeamPass\'s own settings.php and restore it from a backup if it was overwritten.',
    });
  }
  let text: string;
  try {
    text = await readFile(settingsPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new TeampassWsError('SETTINGS_NOT_FOUND', `${settingsPath} exists but cannot be read by ${whoAmI()} (${code}).`, {
      suggestion: 'The user running teampass-ws needs read access to settings.php (usually by joining the web server\'s group, e.g. www-data or apache).',
      cause: err,
    });
  }
  let defines: PhpDefine[];
  try {
    defines = parsePhpDefines(text, { file: settingsPath });
  } catch (err) {
    if (err instanceof TeampassWsError) {
      throw new TeampassWsError(err.code, err.message.replace(/^settings\.php/, settingsPath), withSuggestion(err));
    }
    throw err;
  }
  if (defines.length === 0) {
    throw new TeampassWsError('SETTINGS_INVALID', `${settingsPath} holds no define("NAME", "value") lines.`, {
      suggestion: 'TeamPass\'s installer writes DB_HOST, DB_USER, DB_PASSWD, DB_NAME… as define() lines; restore settings.php from a backup or re-run the installer.',
    });
  }
  const settings = parseSettingsPhp(text, { file: settingsPath });
  const candidates = keyFileCandidates(version, absRoot, settings);
  let keyFilePath: string | null = candidates[0] ?? null;
  for (const candidate of candidates) {
    const st = await statOrNull(candidate);
    if (st !== null && ('error' in st || st.isFile)) {
      keyFilePath = candidate;
      break;
    }
  }
  return redactable(
    { version, root: absRoot, settingsPath, keyFilePath, keyFileCandidates: candidates, settings, defines },
    (i) => ({
      ...i,
      settings: 'DB_PASSWD' in i.settings ? { ...i.settings, DB_PASSWD: REDACTED } : i.settings,
      defines: i.defines.map((d) => (d.name === 'DB_PASSWD' ? { ...d, value: REDACTED } : d)),
    }),
  );
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

function redactable<T extends object>(target: T, redact: (value: T) => object): T {
  Object.defineProperty(target, 'toJSON', { value: function (this: T) { return redact(this); }, enumerable: false });
  Object.defineProperty(target, inspect.custom, {
    value: function (this: T, _depth: number, options: object) {
      return inspect(redact(this), options);
    },
    enumerable: false,
  });
  return target;
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
