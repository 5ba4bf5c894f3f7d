// Bundles the browser client into one dependency-free script that defines the global
// TeamPassWebSocket class, as TeamPass's own client does.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const entry = 'src/client/index.ts';
if (existsSync(entry)) {
  await build({
    entryPoints: [entry],
    bundle: true,
    format: 'iife',
    target: ['es2019'],
    outfile: 'dist/client/teampass-websocket.js',
    logLevel: 'warning',
  });
}
