import type { TargetType } from '../db/rows.js';
import { TeampassWsError } from '../errors.js';
import { eventSpec, FIELD_TYPE_NAMES, FIELD_TYPES, hasFieldType, KNOWN_EVENT_TYPES, MAX_ID, type EventSpec } from './events-catalogue.js';
import type { Payload } from './payload.js';

export interface TargetFlags {
  folder?: string;
  user?: string;
  kb?: boolean;
  broadcast?: boolean;
  excludeUser?: string;
}

export interface EventRowPlan {
  targetType: TargetType;
  targetId: number | null;
}

export interface EmitPlan {
  eventType: string;
  known: boolean;
  rows: EventRowPlan[];
  /** The payload as stored: the given fields, then exclude_user_id and server_timestamp. */
  payload: Payload;
  /** How the target was chosen, for the person reading the output. */
  targetSource: 'flag' | 'catalogue';
  /** Things worth saying that do not stop the write. */
  warnings: string[];
}

export interface PlanInput {
  eventType: string;
  payload: Payload;
  target: TargetFlags;
  force?: boolean;
  /** Unix seconds for server_timestamp, as PHP's time(). */
  nowSec: number;
}

export function parseId(value: string, flag: string): number {
  const text = value.trim();
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_ID) {
    throw new TeampassWsError('INPUT', `${flag} needs a numeric id from 1 to ${MAX_ID}, not "${value}".`, {
      suggestion: `Give the TeamPass id, e.g. ${flag} 12.`,
    });
  }
  return Number(text);
}

/** A payload field as a target id, or undefined when it does not hold one. */
function idFromPayload(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= MAX_ID) return value;
  if (typeof value === 'string' && /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= MAX_ID) return Number(value);
  return undefined;
}

/** Levenshtein distance, to suggest the event type a typo meant. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = distance(name, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

const EVENT_TYPE = /^[A-Za-z0-9_.:-]{1,50}$/;

function checkEventType(eventType: string, force: boolean): EventSpec | undefined {
  if (!EVENT_TYPE.test(eventType)) {
    throw new TeampassWsError('INPUT', `"${eventType}" is not a usable event type: use 1 to 50 letters, digits, "_", ".", ":" or "-".`, {
      suggestion: `TeamPass's event types look like item_created; known ones: ${KNOWN_EVENT_TYPES.join(', ')}.`,
    });
  }
  const spec = eventSpec(eventType);
  if (!spec && !force) {
    const near = closest(eventType.toLowerCase(), KNOWN_EVENT_TYPES);
    throw new TeampassWsError('INPUT', `"${eventType}" is not an event TeamPass writes.`, {
      suggestion: near
        ? `Did you mean ${near}? To send "${eventType}" anyway, add --force.`
        : `Known events: ${KNOWN_EVENT_TYPES.join(', ')}. To send another type anyway (TeamPass's client ignores events it does not know), add --force.`,
    });
  }
  return spec;
}

function missingFields(spec: EventSpec, payload: Payload): string | undefined {
  const has = (field: string) => Object.prototype.hasOwnProperty.call(payload, field) && payload[field] !== undefined;
  if (spec.required.some((set) => set.every(has))) return undefined;
  if (spec.required.length === 1) return `missing ${spec.required[0].filter((f) => !has(f)).join(', ')}`;
  return `it needs either ${spec.required.map((set) => set.join(', ')).join(' or ')}`;
}

/** The catalogue's fields of this event whose value is not of the type TeamPass writes. */
function mistypedFields(spec: EventSpec, payload: Payload): Array<{ field: string; expected: string; value: unknown }> {
  const fields = new Set(spec.required.flat());
  const out: Array<{ field: string; expected: string; value: unknown }> = [];
  for (const field of fields) {
    const type = FIELD_TYPES[field];
    const value = payload[field];
    if (type === undefined || value === undefined || hasFieldType(type, value)) continue;
    out.push({ field, expected: FIELD_TYPE_NAMES[type], value });
  }
  return out;
}

/** An explicit --folder naming another folder than the payload's: TeamPass's page would refresh the wrong one. */
function folderMismatch(spec: EventSpec | undefined, payload: Payload, folder: number): string | undefined {
  const fields = spec?.target === 'folder' ? spec.targetFields ?? [] : ['folder_id'];
  const named = fields.map((field) => ({ field, id: idFromPayload(payload[field]) })).filter((n) => n.id !== undefined);
  if (named.length === 0 || named.some((n) => n.id === folder)) return undefined;
  return `--folder ${folder} sends it to folder ${folder}, but the payload's ${named.map((n) => `${n.field} is ${n.id}`).join(' and ')}`;
}

function explicitTarget(flags: TargetFlags): EventRowPlan | undefined {
  const given = [
    flags.folder !== undefined ? '--folder' : undefined,
    flags.user !== undefined ? '--user' : undefined,
    flags.kb ? '--kb' : undefined,
    flags.broadcast ? '--broadcast' : undefined,
  ].filter((f): f is string => Boolean(f));
  if (given.length > 1) {
    throw new TeampassWsError('USAGE', `Give one target, not ${given.join(' and ')}.`, {
      suggestion: 'An event goes to one folder (--folder ID), one user (--user ID), the knowledge base (--kb) or everyone (--broadcast).',
    });
  }
  if (flags.folder !== undefined) return { targetType: 'folder', targetId: parseId(flags.folder, '--folder') };
  if (flags.user !== undefined) return { targetType: 'user', targetId: parseId(flags.user, '--user') };
  if (flags.kb) return { targetType: 'kb', targetId: null };
  if (flags.broadcast) return { targetType: 'broadcast', targetId: null };
  return undefined;
}

const isZero = (value: unknown): boolean => value === 0 || value === '0';

function inferredTargets(eventType: string, spec: EventSpec | undefined, payload: Payload, force: boolean, warnings: string[]): EventRowPlan[] {
  const howTo = 'Name the target with --folder ID, --user ID, --kb or --broadcast.';
  if (!spec) {
    throw new TeampassWsError('INPUT', `No target for "${eventType}": it is not in the event catalogue, so its target cannot be inferred.`, { suggestion: howTo });
  }
  if (spec.target === 'kb' || spec.target === 'broadcast') return [{ targetType: spec.target, targetId: null }];
  const ids: number[] = [];
  for (const field of spec.targetFields ?? []) {
    const id = idFromPayload(payload[field]);
    if (id === undefined || ids.includes(id)) continue;
    ids.push(id);
    if (!spec.rowPerTarget) break;
  }
  if (ids.length === 0 && spec.zeroTarget && (spec.targetFields ?? []).some((field) => isZero(payload[field]))) {
    // Refused by default: the row would reach nobody. --force writes it as TeamPass does.
    const what = `${eventType} of ${spec.zeroTarget} goes to ${spec.target} 0, which no daemon delivers (TeamPass writes it and its PHP daemon drops it)`;
    if (!force) {
      throw new TeampassWsError('INPUT', `${what}.`, {
        suggestion: `Send it to a ${spec.target}'s subscribers with --${spec.target} ID, or to everyone with --broadcast; --force writes it as TeamPass does.`,
      });
    }
    warnings.push(`${what}; written anyway because of --force`);
    return [{ targetType: spec.target, targetId: 0 }];
  }
  if (ids.length === 0) {
    const flag = spec.target === 'folder' ? '--folder ID' : '--user ID';
    const fields = spec.targetFields?.length ? ` (no numeric ${spec.targetFields.join(' or ')} in the payload)` : '';
    throw new TeampassWsError('INPUT', `No target for ${eventType}: it goes to a ${spec.target}${fields}.`, { suggestion: `Add ${flag}. ${howTo}` });
  }
  return ids.map((targetId) => ({ targetType: spec.target, targetId }));
}

/**
 * Validates an event the way an admin means it and decides its rows, without touching the
 * database: every error here happens before anything is written.
 */
export function planEvent(input: PlanInput): EmitPlan {
  const force = Boolean(input.force);
  const warnings: string[] = [];
  const spec = checkEventType(input.eventType, force);

  if (spec) {
    const missing = missingFields(spec, input.payload);
    if (missing) {
      if (!force) {
        throw new TeampassWsError('INPUT', `The payload of ${input.eventType} is incomplete: ${missing}.`, {
          suggestion: `TeamPass writes ${spec.required.map((s) => s.join(', ')).join(' or ')}. Add the fields, or --force to send it as it is.`,
        });
      }
      warnings.push(`payload incomplete (${missing}); sent anyway because of --force`);
    }
    for (const { field, expected, value } of mistypedFields(spec, input.payload)) {
      if (!force) {
        throw new TeampassWsError('INPUT', `${field} of ${input.eventType} must be ${expected}, not ${JSON.stringify(value)}.`, {
          suggestion: `Give ${field} as ${expected} (key=value turns digits into a number; key:=<json> takes JSON), or --force to send it as it is.`,
        });
      }
      warnings.push(`${field} ${JSON.stringify(value)} is not ${expected}; sent anyway because of --force`);
    }
    for (const [field, allowed] of Object.entries(spec.values ?? {})) {
      const value = input.payload[field];
      if (value !== undefined && !allowed.includes(String(value))) {
        if (!force) {
          throw new TeampassWsError('INPUT', `${field} of ${input.eventType} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}.`, {
            suggestion: 'Use one of those values, or --force to send it as it is.',
          });
        }
        warnings.push(`${field} ${JSON.stringify(value)} is not one TeamPass writes; sent anyway because of --force`);
      }
    }
  }

  const explicit = explicitTarget(input.target);
  const rows = explicit ? [explicit] : inferredTargets(input.eventType, spec, input.payload, force, warnings);
  if (spec?.teampassProducer === false) {
    warnings.push(`TeamPass has no producer of ${input.eventType}: its page may not handle it`);
  }
  if (explicit && spec && spec.target !== explicit.targetType) {
    warnings.push(`TeamPass sends ${input.eventType} to a ${spec.target}, not to a ${explicit.targetType}`);
  }
  const mismatch = explicit?.targetType === 'folder' && explicit.targetId !== null ? folderMismatch(spec, input.payload, explicit.targetId) : undefined;
  if (mismatch) warnings.push(mismatch);

  const payload: Payload = { ...input.payload };
  if (input.target.excludeUser !== undefined) payload.exclude_user_id = parseId(input.target.excludeUser, '--exclude-user');
  // As TeamPass's producer: the server's own clock, whatever the caller put there.
  payload.server_timestamp = input.nowSec;

  return { eventType: input.eventType, known: Boolean(spec), rows, payload, targetSource: explicit ? 'flag' : 'catalogue', warnings };
}

export function describeTarget(row: EventRowPlan): string {
  return row.targetId === null ? row.targetType : `${row.targetType} ${row.targetId}`;
}
