import { main } from './index.js';

// Long-running commands (serve, tail-logs -f) keep the event loop alive themselves; the exit
// code is set here, never inside a command or a core module.
process.exitCode = await main(process.argv);
