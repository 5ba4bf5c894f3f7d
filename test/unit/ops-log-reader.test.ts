import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { LogFilter, parseSince } from '../../src/ops/log-filter.js';
import { formatRecord, jsonRecord } from '../../src/ops/log-format.js';
import { parseLogLine } from '../../src/ops/log-record.js';
import { tailFile } from '../../src/ops/log-tail.js';
import { cleanupTempDirs, tempDir } from '../helpers/backends.js';

const JSON_LINE = '{"level":"warn","message":"slow consumer","timestamp":"2025-01-01T10:01:00.000Z","user_id":5,"bytes":1024}';
const PHP_LINE = '[2025-01-01 11:00:00] [WARNING] Auth failed for {user} {"user_id":7,"ip":"1.2.3.4"}';

describe('log lines', () => {
  after(cleanupTempDirs);

  it("reads this project's winston JSON lines", () => {
    const r = parseLogLine(JSON_LINE);
    expect(r).to.deep.include({ format: 'json', level: 'warn', message: 'slow consumer' });
    expect(r.time?.toISOString()).to.equal('2025-01-01T10:01:00.000Z');
    expect(r.meta).to.deep.equal({ user_id: 5, bytes: 1024 });
  });

  it("reads TeamPass's PHP log lines, context JSON split from a message that holds braces", () => {
    const r = parseLogLine(PHP_LINE);
    expect(r).to.deep.include({ format: 'php', level: 'warn', levelLabel: 'WARNING', message: 'Auth failed for {user}' });
    expect(r.meta).to.deep.equal({ user_id: 7, ip: '1.2.3.4' });
    expect(r.time?.getTime()).to.equal(new Date(2025, 0, 1, 11, 0, 0).getTime());
    expect(parseLogLine('[2025-01-01 11:00:00] [INFO] Server started').meta).to.deep.equal({});
    expect(parseLogLine('[2025-01-01 11:00:00] [DEBUG] list [1,2]').meta).to.deep.equal({ context: [1, 2] });
  });

  it('keeps anything else as text, never failing', () => {
    for (const raw of ['', 'Error: boom', '{"not":"a log line"}', '{broken json', '[2025-01-01] [INFO] short date', '\u0000\u00ff']) {
      const r = parseLogLine(raw);
      expect(r.format, raw).to.equal('text');
      expect(formatRecord(r, false)).to.equal(raw);
      expect(JSON.parse(jsonRecord(r))).to.deep.equal({ message: raw, malformed: true });
    }
    expect(parseLogLine('plain\r').raw).to.equal('plain');
  });

  it('prints JSON lines raw with --json, and PHP lines in the same shape', () => {
    expect(jsonRecord(parseLogLine(JSON_LINE))).to.equal(JSON_LINE);
    expect(JSON.parse(jsonRecord(parseLogLine(PHP_LINE)))).to.deep.include({ level: 'warn', message: 'Auth failed for {user}', user_id: 7, source_format: 'php' });
  });

  it('formats a line for a person, with colours only when asked', () => {
    const plain = formatRecord(parseLogLine(JSON_LINE), false);
    expect(plain).to.match(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} WARN  slow consumer \{"user_id":5,"bytes":1024\}$/);
    expect(formatRecord(parseLogLine(JSON_LINE), true)).to.contain('\u001b[');
  });

  it('parses --since durations and times', () => {
    const now = new Date('2025-01-01T12:00:00.000Z');
    expect(parseSince('10m', now).toISOString()).to.equal('2025-01-01T11:50:00.000Z');
    expect(parseSince('2h', now).toISOString()).to.equal('2025-01-01T10:00:00.000Z');
    expect(parseSince('1d', now).toISOString()).to.equal('2024-12-31T12:00:00.000Z');
    expect(parseSince('90s', now).toISOString()).to.equal('2025-01-01T11:58:30.000Z');
    expect(parseSince('2025-01-01T08:00:00Z', now).toISOString()).to.equal('2025-01-01T08:00:00.000Z');
    expect(parseSince('2025-01-01 08:00', now).getTime()).to.equal(new Date(2025, 0, 1, 8, 0).getTime());
    expect(parseSince('2025-01-01', now).getTime()).to.equal(new Date(2025, 0, 1).getTime());
    for (const bad of ['10', 'yesterday', '1x', '2025-13-45', '']) expect(() => parseSince(bad, now), bad).to.throw(/neither a duration nor a date/);
  });

  it('filters by level, user, time and pattern; text lines follow the record above them', () => {
    const lines = [
      '{"level":"info","message":"a","timestamp":"2025-01-01T10:00:00Z","user_id":1}',
      '{"level":"error","message":"b","timestamp":"2025-01-01T11:00:00Z","user_id":2}',
      'Error: b failed',
      '    at x (y.js:1:1)',
      '{"level":"debug","message":"c","timestamp":"2025-01-01T12:00:00Z","user_login":"alice"}',
      'continuation of c',
    ];
    const run = (options: ConstructorParameters<typeof LogFilter>[0]) => {
      const filter = new LogFilter({ now: new Date('2025-01-01T12:30:00Z'), ...options });
      return lines.filter((l) => filter.accept(parseLogLine(l)));
    };
    expect(run({})).to.deep.equal(lines);
    expect(run({ level: 'warn' })).to.deep.equal(lines.slice(1, 4));
    expect(run({ level: 'WARN' }), 'case does not matter').to.deep.equal(lines.slice(1, 4));
    expect(() => run({ level: 'warning' }), 'only the listed levels').to.throw(/not a log level/);
    expect(run({ user: '2' })).to.deep.equal(lines.slice(1, 4));
    expect(run({ user: 'alice' })).to.deep.equal(lines.slice(4));
    expect(run({ since: '1h' })).to.deep.equal(lines.slice(4));
    expect(run({ grep: 'fail|^cont' })).to.deep.equal([lines[2], lines[5]]);
    expect(() => new LogFilter({ level: 'loud' })).to.throw(/not a log level/);
    expect(() => new LogFilter({ grep: '(' })).to.throw(/not a valid regular expression/);
    const orphan = new LogFilter({ level: 'info' });
    expect(orphan.accept(parseLogLine('text before any record')), 'no record to judge it by').to.equal(false);
  });

  it('tails the last N matching lines of a file, reading backwards', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'big.log');
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++) lines.push(JSON.stringify({ level: i % 10 === 0 ? 'error' : 'info', message: `line ${i} ${'x'.repeat(40)}`, timestamp: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString() }));
    writeFileSync(file, `${lines.join('\n')}\n`);
    const last = await tailFile(file, 3, new LogFilter({}));
    expect(last.records.map((r) => r.message?.split(' ')[1])).to.deep.equal(['4997', '4998', '4999']);
    const errors = await tailFile(file, 2, new LogFilter({ level: 'error' }));
    expect(errors.records.map((r) => r.message?.split(' ')[1])).to.deep.equal(['4980', '4990']);
    const none = await tailFile(file, 0, new LogFilter({}));
    expect(none.records).to.deep.equal([]);
    expect(none.endOffset).to.equal(Buffer.byteLength(`${lines.join('\n')}\n`));

    writeFileSync(file, 'first\nsecond\npartial');
    const partial = await tailFile(file, 5, new LogFilter({}));
    expect(partial.records.map((r) => r.raw)).to.deep.equal(['first', 'second', 'partial']);
    expect(partial.endOffset, 'a follower resumes at the unfinished line').to.equal('first\nsecond\n'.length);
    const forFollow = await tailFile(file, 5, new LogFilter({}), { includePartial: false });
    expect(forFollow.records.map((r) => r.raw)).to.deep.equal(['first', 'second']);

    writeFileSync(file, '');
    expect((await tailFile(file, 5, new LogFilter({}))).records).to.deep.equal([]);
    let missing: Error | undefined;
    await tailFile(path.join(dir, 'nope.log'), 5, new LogFilter({})).catch((err: Error) => (missing = err));
    expect(missing?.message).to.match(/Cannot read the log file .*nope\.log: no such file/);
  });
});
