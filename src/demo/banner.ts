import type { DemoInfo } from './prepare.js';

export interface DemoBanner {
  /** Said loudly (as warnings): this is not TeamPass. */
  warnings: string[];
  /** The page, the users and their tokens. */
  lines: string[];
}

/** What `serve --demo` prints once it listens: the page to open and a token per demo user. */
export function demoBanner(demo: DemoInfo, demoUrl: string, emitDbArgument = ''): DemoBanner {
  const warnings = [
    'DEMO MODE: NOT CONNECTED TO TEAMPASS.',
    `Users, folders and items are a demo dataset in ${demo.database}. To serve TeamPass, name its database (--teampass-root or --db).`,
  ];
  const width = Math.max(...demo.users.map((u) => u.login.length));
  const lines = [
    `Demo page: ${demoUrl}`,
    `Demo users (websocket tokens valid ${demo.tokenTtlHours} h, reusable):`,
    ...demo.users.map((u) => `  ${u.login.padEnd(width)}  ${u.token}  ${u.role}`),
    'Fire an event from another terminal, in this folder:',
    `  npx teampass-ws emit item_created item_id=100 folder_id=3 label='Hello from the CLI' created_by=1${emitDbArgument ? ` --db '${emitDbArgument}'` : ''}`,
  ];
  return { warnings, lines };
}
