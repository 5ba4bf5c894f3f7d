/**
 * The database password (clear or decrypted) and the raw DB_PASSWD (3.1's API JWT secret) must
 * never appear in output: the objects that hold them redact them when inspected or serialised,
 * so a stray console.log or JSON dump cannot leak them.
 */
import { inspect } from 'node:util';

export const REDACTED = '[redacted]';

/** Makes `target` show as `redact(target)` to util.inspect and JSON.stringify. */
export function redactable<T extends object>(target: T, redact: (value: T) => object): T {
  Object.defineProperty(target, 'toJSON', { value: function (this: T) { return redact(this); }, enumerable: false });
  Object.defineProperty(target, inspect.custom, {
    value: function (this: T, _depth: number, options: object) {
      return inspect(redact(this), options);
    },
    enumerable: false,
  });
  return target;
}
