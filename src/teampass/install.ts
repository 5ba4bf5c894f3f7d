/**
 * A TeamPass installation on disk: which settings.php it has (the 3.2 layout, app/config, or the
 * 3.1 one, includes/config), hence its version, the constants in that file and where the defuse
 * key file that encrypts DB_PASSWD should be.
 */
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TeampassWsError } from '../errors.js';
import { parsePhpDefines, parseSettingsPhp, type PhpDefine } from './php-defines.js';
import { redactable, REDACTED } from './redact.js';

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

/** The key file name TeamPass used before SECUREFILE existed. */
export const LEGACY_KEY_FILE_NAME = 'teampass-seckey.txt';
const MAX_SETTINGS_BYTES = 1024 * 1024;

const LAYOUTS: ReadonlyArray<{ version: TeampassVersion; relative: string }> = [
  { version: '3.2', relative: path.join('app', 'config', 'settings.php') },
  { version: '3.1', relative: path.join('includes', 'config', 'settings.php') },
];

const ROOT_SUGGESTION =
  "--teampass-root must point at TeamPass's root folder (the one holding index.php, e.g. /var/www/html/teampass), " +
  'not at its config folder or at settings.php itself.';

/** The account this process runs as, for errors about file access. */
export function whoAmI(): string {
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

export function withSuggestion(err: TeampassWsError): { suggestion?: string } {
  return err.suggestion === undefined ? {} : { suggestion: err.suggestion };
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
