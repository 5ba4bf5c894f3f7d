/** Conversions of the drivers' loose column values, used by the repositories only. */

export const toNullableNumber = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

export const toNullableText = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));

/** A count or aggregate: mysql2 returns BIGINT and DECIMAL results as strings. */
export const toCount = (value: unknown): number => Number(value ?? 0);

/** The ids of an insert: mysql2 and better-sqlite3 both answer with the new id first. */
export const insertedId = (result: unknown): number => Number((result as unknown[])[0]);

/** The driver's error number and code, when the error has them. */
export function driverError(err: unknown): { errno?: unknown; code?: unknown } {
  if (typeof err !== 'object' || err === null) return {};
  return { errno: 'errno' in err ? err.errno : undefined, code: 'code' in err ? err.code : undefined };
}
