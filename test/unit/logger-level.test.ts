import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../src/log/index.js';
import { cleanupTempDirs, tempDir } from '../helpers/backends.js';

/** Meta whose field counts how often it is read: a line that is formatted reads it. */
function countingMeta(): { meta: Record<string, unknown>; reads: () => number } {
  let reads = 0;
  const meta = {};
  Object.defineProperty(meta, 'connection', {
    enumerable: true,
    get() {
      reads += 1;
      return 'c-1';
    },
  });
  return { meta, reads: () => reads };
}

describe('logger: lines below the level', () => {
  after(() => cleanupTempDirs());

  it('never formats a line below the level (no serialising a line per connection that no one keeps)', async () => {
    const file = path.join(tempDir('tpws-log-'), 'ws.log');
    const logger = createLogger({ level: 'warn', file, fileCheckIntervalMs: 0 });
    const debug = countingMeta();
    const info = countingMeta();
    logger.debug('Connection refused', debug.meta);
    logger.info('Connection established', info.meta);
    const warned = countingMeta();
    logger.warn('Slow consumer closed', warned.meta);
    await logger.close();
    expect(debug.reads(), 'debug meta read at level warn').to.equal(0);
    expect(info.reads(), 'info meta read at level warn').to.equal(0);
    expect(warned.reads(), 'a line at the level is formatted').to.be.greaterThan(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: string; message: string; connection: string });
    expect(lines.map((l) => [l.level, l.message, l.connection])).to.deep.equal([['warn', 'Slow consumer closed', 'c-1']]);
  });

  it('writes every level at or above the one set, with its meta', async () => {
    const file = path.join(tempDir('tpws-log-'), 'ws.log');
    const logger = createLogger({ level: 'debug', file, fileCheckIntervalMs: 0 });
    logger.debug('d', { a: 1 });
    logger.info('i');
    logger.warn('w', { b: 2 });
    logger.error('e');
    await logger.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.level, l.message, l.a ?? l.b ?? null])).to.deep.equal([
      ['debug', 'd', 1],
      ['info', 'i', null],
      ['warn', 'w', 2],
      ['error', 'e', null],
    ]);
  });
});
