import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { TeampassWsError } from '../errors.js';

export type Payload = Record<string, unknown>;

export interface PayloadSources {
  /** --data: one JSON object. */
  data?: string;
  /** --data-file: a file holding one JSON object; '-' reads standard input. */
  dataFile?: string;
  /** key=value (string, or a number when it looks like one) and key:=<json> arguments. */
  pairs?: readonly string[];
  cwd?: string;
  readStdin?: () => Promise<string>;
}

const PAYLOAD_HELP = `Give the payload as --data '{"item_id": 5, "folder_id": 3}', --data-file payload.json, or key=value pairs (key:=<json> for arrays and objects).`;

function parseObject(text: string, where: string): Payload {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TeampassWsError('INPUT', `The payload from ${where} is not valid JSON: ${(err as Error).message}.`, { suggestion: PAYLOAD_HELP });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new TeampassWsError('INPUT', `The payload from ${where} must be one JSON object, not ${kind}.`, { suggestion: PAYLOAD_HELP });
  }
  return value as Payload;
}

// Integers without leading zeros and plain decimals: "007" or "1e3" stay text, as a person means them.
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?$/;

/** One key=value or key:=<json> argument. */
export function parsePair(arg: string): [string, unknown] {
  const raw = arg.indexOf(':=');
  const eq = arg.indexOf('=');
  if (raw > 0 && raw < eq) {
    const key = arg.slice(0, raw);
    const text = arg.slice(raw + 2);
    try {
      return [key, JSON.parse(text)];
    } catch (err) {
      throw new TeampassWsError('INPUT', `The value of "${key}" (${arg}) is not valid JSON: ${(err as Error).message}.`, {
        suggestion: `key:=<json> takes JSON, e.g. folders:='[1,2]'; use key=value for text.`,
      });
    }
  }
  if (eq <= 0) {
    throw new TeampassWsError('INPUT', `"${arg}" is not a key=value pair.`, { suggestion: PAYLOAD_HELP });
  }
  const key = arg.slice(0, eq);
  const value = arg.slice(eq + 1);
  if (NUMBER.test(value)) {
    const n = Number(value);
    if (Number.isFinite(n) && (value.includes('.') || Number.isSafeInteger(n))) return [key, n];
  }
  return [key, value];
}

/** Builds the payload: --data or --data-file first, then key=value pairs on top. */
export async function readPayload(sources: PayloadSources): Promise<Payload> {
  if (sources.data !== undefined && sources.dataFile !== undefined) {
    throw new TeampassWsError('USAGE', '--data and --data-file cannot be combined.', { suggestion: 'Give the payload one way (key=value pairs may be added to either).' });
  }
  let payload: Payload = {};
  if (sources.data !== undefined) payload = parseObject(sources.data, '--data');
  if (sources.dataFile !== undefined) {
    let text: string;
    if (sources.dataFile === '-') {
      if (!sources.readStdin) throw new TeampassWsError('INPUT', 'Standard input is not available for --data-file -.');
      text = await sources.readStdin();
    } else {
      const file = path.resolve(sources.cwd ?? process.cwd(), sources.dataFile);
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new TeampassWsError('INPUT', `Cannot read --data-file ${file}: ${code === 'ENOENT' ? 'no such file' : code ?? String(err)}.`, {
          suggestion: 'Check the path, and that this user may read the file.',
        });
      }
    }
    payload = parseObject(text, `--data-file ${sources.dataFile}`);
  }
  for (const arg of sources.pairs ?? []) {
    const [key, value] = parsePair(arg);
    payload[key] = value;
  }
  return payload;
}
