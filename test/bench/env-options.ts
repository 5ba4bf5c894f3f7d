/** Bench and soak sizes read from environment variables, each checked before anything starts. */

/** A bench setting given wrongly: said in one line, without a stack. */
export class BenchInputError extends Error {}

export interface WholeNumberSpec {
  min: number;
  max: number;
  fallback: number;
  /** Why the range is what it is, shown with a bad value. */
  why: string;
}

/** The variable's whole number, or `fallback` when it is unset or empty. */
export function wholeNumberFromEnv(env: NodeJS.ProcessEnv, name: string, spec: WholeNumberSpec): number {
  const { min, max, fallback, why } = spec;
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new BenchInputError(`${name}=${raw} is not usable: give a whole number from ${min} to ${max} (${why}), or unset it for ${fallback}.`);
  }
  return value;
}
