import { closeSync, mkdirSync, openSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { TeampassWsError } from '../errors.js';

/** Kernel interfaces: writing there is never a log, and some of their files block a reader forever. */
const KERNEL_TREES = ['/proc', '/sys'];

const EXAMPLE = '/var/log/teampass-ws/teampass-ws.log';

function why(code: string | undefined): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EEXIST':
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'the disk is full';
    default:
      return code ?? 'unknown error';
  }
}

/** The path with every existing part resolved (symbolic links followed), so /proc behind a link is seen. */
function resolvedSoFar(file: string): string {
  let head = file;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(realpathSync(head), ...rest);
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return file;
      rest.unshift(path.basename(head));
      head = parent;
    }
  }
}

/**
 * Checks `file` can be the log before anything is created, then creates its folder and the file:
 * every way this fails is one error that names the path and says what to do.
 */
export function prepareLogFile(file: string): string {
  const resolved = path.resolve(file);
  const real = resolvedSoFar(resolved);
  const tree = KERNEL_TREES.find((t) => real === t || real.startsWith(`${t}/`));
  if (tree) {
    throw new TeampassWsError('CONFIG_INVALID', `log_file ${resolved} is under ${tree}, a kernel interface, not a place for a log.`, {
      suggestion: `Set log_file (--log-file) to a file on disk, e.g. ${EXAMPLE}.`,
    });
  }
  const existing = statOrUndefined(resolved);
  if (existing?.isDirectory()) {
    throw new TeampassWsError('CONFIG_INVALID', `log_file ${resolved} is a folder, not a file.`, {
      suggestion: `Name a file in it: --log-file ${path.join(resolved, 'teampass-ws.log')}.`,
    });
  }
  const dir = path.dirname(resolved);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TeampassWsError('IO', `Cannot create the log folder ${dir}: ${why(code)}.`, {
      suggestion:
        code === 'EACCES' || code === 'EPERM'
          ? `Create it for the daemon's user: sudo install -d -o www-data -g www-data -m 0750 ${dir} (or choose another --log-file).`
          : `Set --log-file to a path whose folders can exist, e.g. ${EXAMPLE}.`,
    });
  }
  try {
    closeSync(openSync(resolved, 'a'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TeampassWsError('IO', `Cannot write the log file ${resolved}: ${why(code)}.`, {
      suggestion: `Let the daemon's user write it (sudo chown www-data: ${resolved}), or choose another --log-file.`,
    });
  }
  return resolved;
}

function statOrUndefined(file: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}
