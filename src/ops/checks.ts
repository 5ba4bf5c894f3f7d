import { databaseChecks } from './check-db.js';
import { environmentChecks, configurationChecks } from './check-env.js';
import { portCheck } from './check-port.js';
import type { CheckDef, CheckInput, CheckResult, CheckState, CheckStatus, CheckVerdict } from './check-types.js';

export type { CheckDef, CheckInput, CheckResult, CheckState, CheckStatus, CheckVerdict } from './check-types.js';

export interface CheckHooks {
  onStart?(check: CheckDef): void;
  onResult?(result: CheckResult): void;
}

/**
 * Runs every check in order, each one line with its verdict and, when something is wrong, the
 * fix. A check that throws is an error of its own, never the end of the run.
 */
export async function runChecks(input: CheckInput, hooks: CheckHooks = {}): Promise<CheckResult[]> {
  const state: CheckState = { input };
  const checks: CheckDef[] = [...configurationChecks(), ...databaseChecks(), portCheck(), ...environmentChecks()];
  const results: CheckResult[] = [];
  try {
    for (const check of checks) {
      hooks.onStart?.(check);
      let verdict: CheckVerdict;
      try {
        verdict = await check.run(state);
      } catch (err) {
        const e = err as Error & { suggestion?: string };
        verdict = { status: 'error', detail: e.message, ...(e.suggestion ? { fix: e.suggestion } : {}) };
      }
      const result: CheckResult = { id: check.id, title: check.title, ...verdict };
      results.push(result);
      hooks.onResult?.(result);
    }
  } finally {
    await state.db?.close();
  }
  return results;
}

export function summarise(results: readonly CheckResult[]): Record<CheckStatus, number> {
  const out: Record<CheckStatus, number> = { ok: 0, warning: 0, error: 0, skipped: 0 };
  for (const r of results) out[r.status] += 1;
  return out;
}
