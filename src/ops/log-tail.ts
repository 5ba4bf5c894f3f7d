import { open, stat, type FileHandle } from 'node:fs/promises';
import { TeampassWsError } from '../errors.js';
import type { LogFilter } from './log-filter.js';
import { parseLogLine, type LogRecord } from './log-record.js';

const CHUNK_BYTES = 64 * 1024;

/** Lines of the file from the last to the first; `end` is where reading starts (exclusive). */
async function* linesBackward(fh: FileHandle, end: number): AsyncGenerator<string> {
  let pos = end;
  let carry: Buffer = Buffer.alloc(0);
  while (pos > 0) {
    const size = Math.min(CHUNK_BYTES, pos);
    pos -= size;
    const chunk = Buffer.alloc(size);
    await fh.read(chunk, 0, size, pos);
    let buf = Buffer.concat([chunk, carry]);
    let nl = buf.lastIndexOf(0x0a);
    while (nl !== -1) {
      yield buf.subarray(nl + 1).toString('utf8');
      buf = buf.subarray(0, nl);
      nl = buf.lastIndexOf(0x0a);
    }
    carry = buf;
  }
  yield carry.toString('utf8');
}

export interface TailResult {
  records: LogRecord[];
  /** Byte offset just after the last complete line: where following continues. */
  endOffset: number;
}

/**
 * The last `count` lines that pass the filter, oldest first, read backwards in chunks so a large
 * log costs only what is shown. Text lines wait for the record above them to be judged with it.
 * With --since the scan stops at the first record older than the cutoff (logs are appended in
 * time order).
 */
export async function tailFile(file: string, count: number, filter: LogFilter, options: { includePartial?: boolean } = {}): Promise<TailResult> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TeampassWsError('IO', `Cannot read the log file ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code ?? String(err)}.`, {
      suggestion:
        code === 'EACCES'
          ? 'Run as the daemon user or root (sudo -u www-data teampass-ws tail-logs …).'
          : 'Check --log-file (or log_file in the config); with -f the command waits for the file to appear.',
    });
  }
  try {
    const { size } = await fh.stat();
    // A last line without its newline is still being written: a follower shows it once complete.
    let endOffset = size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) {
        const tailStart = Math.max(0, size - CHUNK_BYTES * 16);
        const buf = Buffer.alloc(size - tailStart);
        await fh.read(buf, 0, buf.length, tailStart);
        const nl = buf.lastIndexOf(0x0a);
        endOffset = nl === -1 ? (tailStart === 0 ? 0 : size) : tailStart + nl + 1;
      }
    }
    const picked: LogRecord[] = [];
    let pending: LogRecord[] = [];
    let first = true;
    const take = (records: LogRecord[]) => {
      for (const r of records) if (picked.length < count && filter.grepMatches(r)) picked.push(r);
    };
    const end = options.includePartial === false ? endOffset : size;
    if (count > 0 && end > 0) {
      for await (const line of linesBackward(fh, end)) {
        // The file's final newline ends the last line; it does not start an empty one.
        if (first && line === '' && end > 0) {
          first = false;
          continue;
        }
        first = false;
        const record = parseLogLine(line);
        const verdict = filter.acceptAlone(record);
        if (verdict === undefined) {
          pending.push(record);
          continue;
        }
        if (verdict) take([...pending, record]);
        pending = [];
        if (picked.length >= count) break;
        if (filter.since && record.time && record.time < filter.since) break;
      }
      if (picked.length < count && filter.orphanVerdict) take(pending);
    }
    return { records: picked.reverse(), endOffset };
  } finally {
    await fh.close();
  }
}

export interface FollowOptions {
  pollMs?: number;
  /** Where reading starts in the file as it is now; undefined for its end. */
  startOffset?: number;
  onRecord(record: LogRecord): void;
  /** Rotation, truncation, waiting for the file: said to the person, not part of the log. */
  onNotice(message: string): void;
}

export interface Follower {
  /** Stops following; resolves once the last read finished. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Follows a log file like `tail -F`: by name, so a rotated file (renamed, a new one created) is
 * read to its end and the new one followed from its start, and a truncated file (copytruncate)
 * is read again from the top. Polls rather than using fs.watch, which misses renames on some
 * file systems and behaves differently on each.
 */
export function followFile(file: string, filter: LogFilter, options: FollowOptions): Follower {
  const pollMs = options.pollMs ?? 250;
  let fh: FileHandle | undefined;
  let ino: number | undefined;
  let pos = 0;
  let partial = '';
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let announcedMissing = false;

  const emitText = (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const record = parseLogLine(line);
      if (filter.accept(record)) options.onRecord(record);
    }
  };

  const readToEnd = async (handle: FileHandle) => {
    const { size } = await handle.stat();
    while (pos < size) {
      const length = Math.min(1024 * 1024, size - pos);
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      emitText(buf.subarray(0, bytesRead).toString('utf8'));
    }
  };

  const openCurrent = async (offset: number | 'end'): Promise<boolean> => {
    try {
      const handle = await open(file, 'r');
      const st = await handle.stat();
      fh = handle;
      ino = st.ino;
      pos = offset === 'end' ? st.size : Math.min(offset, st.size);
      partial = '';
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (!announcedMissing) options.onNotice(`${file} does not exist (yet); waiting for it to appear`);
      announcedMissing = true;
      return false;
    }
  };

  const tick = async (): Promise<void> => {
    if (!fh) {
      if (!(await openCurrent(0))) return;
      if (announcedMissing) options.onNotice(`${file} appeared; following it`);
      announcedMissing = false;
    }
    const handle = fh!;
    let named: Awaited<ReturnType<typeof stat>> | undefined;
    try {
      named = await stat(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (named && named.ino !== ino) {
      // Rotated: finish the old file (the writer may have added lines before letting go), then switch.
      await readToEnd(handle);
      if (partial) emitText('\n');
      await handle.close();
      fh = undefined;
      options.onNotice(`${file} was rotated; following the new file`);
      if (await openCurrent(0)) await readToEnd(fh!);
      return;
    }
    const { size } = await handle.stat();
    if (size < pos) {
      options.onNotice(`${file} was truncated; reading it from the start`);
      pos = 0;
      partial = '';
    }
    await readToEnd(handle);
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick()
        .catch((err: unknown) => options.onNotice(`cannot read ${file}: ${(err as Error).message}`))
        .finally(schedule);
    }, pollMs);
  };

  running = (async () => {
    if (await openCurrent(options.startOffset ?? 'end')) await readToEnd(fh!);
  })()
    .catch((err: unknown) => options.onNotice(`cannot read ${file}: ${(err as Error).message}`))
    .finally(schedule);

  let stopping: Promise<void> | undefined;
  return {
    stop: () =>
      (stopping ??= (async () => {
        stopped = true;
        clearTimeout(timer);
        await running;
        clearTimeout(timer);
        await fh?.close();
        fh = undefined;
      })()),
  };
}
