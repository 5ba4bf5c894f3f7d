import { bindServePortEarly } from './early-bind.js';

// Before anything heavy is loaded (see early-bind.ts).
const prebound = await bindServePortEarly(process.argv);
const { main } = await import('./index.js');

// A reader that went away (`teampass-ws --help | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

// Long-running commands (serve, tail-logs -f) keep the event loop alive themselves; the exit
// code is set here, never inside a command or a core module.
process.exitCode = await main(process.argv, undefined, prebound);
// serve closed it on its way out; a usage error or a failed start may not have.
await prebound?.close();
