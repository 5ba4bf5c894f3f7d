import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin', 'teampass-ws');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
}

/** Environment for a child CLI: the test's TEAMPASS_WS_* variables never leak into it. */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TEAMPASS_WS_')) env[k] = v;
  return { ...env, NO_COLOR: '1', FORCE_COLOR: '0', ...extra };
}

/** Runs `teampass-ws <args>` as a process, as an admin would. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return runNode([BIN, ...args], `teampass-ws ${args.join(' ')}`, opts);
}

/** Runs a Node.js script (`argv`: the script, then its arguments) as a process, output collected. */
export function runNode(argv: string[], label: string, opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: opts.cwd ?? ROOT, env: cliEnv(opts.env), stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${label} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export interface RunningCli {
  child: ChildProcess;
  /** Standard output and standard error, interleaved as they arrived. */
  output(): string;
  /** Standard output alone. */
  stdout(): string;
  /** Resolves when stdout+stderr match; rejects on exit or timeout with what was printed. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const shellQuote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/** Starts a long-running command (serve, tail-logs -f) as a process. */
export function startCli(args: string[], opts: CliOptions = {}): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: cliEnv(opts.env), stdio: 'pipe' });
  return watchChild(child);
}

/** Starts a long-running command with a lower open-file limit (util-linux's prlimit), as a small LimitNOFILE would. */
export function startCliWithFileLimit(args: string[], openFiles: number, opts: CliOptions = {}): RunningCli {
  const child = spawn('prlimit', [`--nofile=${openFiles}`, '--', process.execPath, BIN, ...args], { cwd: opts.cwd ?? ROOT, env: cliEnv(opts.env), stdio: 'pipe' });
  return watchChild(child);
}

/**
 * Starts a command on a terminal of its own (standard input and output a pseudo-terminal, made
 * by util-linux's `script`), as an admin typing it would; SIGTERM to `script` reaches it.
 */
export function startCliOnTerminal(args: string[], opts: CliOptions = {}): RunningCli {
  const command = [process.execPath, BIN, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: opts.cwd ?? ROOT, env: cliEnv(opts.env), stdio: 'pipe' });
  return watchChild(child);
}

function watchChild(child: ChildProcess): RunningCli {
  let out = '';
  let stdout = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) w();
  };
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    onData(d);
  });
  child.stderr!.on('data', onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => {
      exitCode = code ?? (signal ? null : code);
      for (const w of [...waiters]) w();
      resolve(code);
    }),
  );
  return {
    child,
    output: () => out,
    stdout: () => stdout,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (m) {
            cleanup();
            resolve(m);
          } else if (exitCode !== undefined) {
            cleanup();
            reject(new Error(`process exited (${exitCode}) before printing ${pattern}:\n${out}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern}:\n${out}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (exitCode === undefined) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
