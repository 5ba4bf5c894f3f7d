import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../src/log/index.js';
import { cleanupTempDirs, tempDir } from '../helpers/backends.js';
import { RepeatedFailureLog } from '../../src/log/index.js';

describe('logger: lines after close', () => {
  after(() => cleanupTempDirs());

  it('drops a line logged after close() instead of throwing "write after end" (a late summary timer)', async () => {
    const file = path.join(tempDir('tpws-log-'), 'ws.log');
    const logger = createLogger({ level: 'info', file, fileCheckIntervalMs: 0 });
    logger.error('before close');
    const repeated = new RepeatedFailureLog(logger, 'Could not do it', 50);
    repeated.failed({ n: 1 });
    repeated.failed({ n: 2 });
    await logger.close();
    // The repeat's summary fires after the logger ended; so does a late line of any kind.
    logger.warn('after close');
    await new Promise((resolve) => setTimeout(resolve, 120));
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { message: string });
    expect(lines.map((l) => l.message)).to.deep.equal(['before close', 'Could not do it']);
  });
});
