import { quoteIdent, tableExists } from './inspect.js';
import type { WsMigration } from './types.js';

/** TeamPass's own defaults for the settings its admin panel reads. */
export const WEBSOCKET_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['websocket_enabled', '0'],
  ['websocket_port', '8080'],
  ['websocket_host', '127.0.0.1'],
];

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

export const websocketSettings: WsMigration = {
  name: '20260101000100_websocket_settings',
  description: "misc rows websocket_enabled / websocket_port / websocket_host, only where absent (values set in TeamPass's admin panel are kept)",
  async planUp(db) {
    // Without TeamPass's misc table there is nothing to seed (a bare database).
    if (!(await tableExists(db, db.t.misc))) return [];
    const q = (n: string) => quoteIdent(db, n);
    const hasCreatedAt = await db.knex.schema.hasColumn(db.t.misc, 'created_at');
    const out: string[] = [];
    for (const [name, value] of WEBSOCKET_SETTINGS) {
      const exists = await db.knex(db.t.misc).where({ type: 'admin', intitule: name }).first();
      if (exists) continue;
      const cols = ['type', 'intitule', 'valeur', ...(hasCreatedAt ? ['created_at'] : [])].map(q).join(', ');
      const created = db.client === 'mysql' ? 'UNIX_TIMESTAMP()' : "CAST(strftime('%s','now') AS TEXT)";
      const values = [literal('admin'), literal(name), literal(value), ...(hasCreatedAt ? [created] : [])].join(', ');
      // Guarded by NOT EXISTS so two migrate runs racing each other never insert a duplicate row.
      out.push(
        `INSERT INTO ${q(db.t.misc)} (${cols}) SELECT ${values} FROM (SELECT 1 AS one) AS seed ` +
          `WHERE NOT EXISTS (SELECT 1 FROM ${q(db.t.misc)} WHERE ${q('type')} = 'admin' AND ${q('intitule')} = ${literal(name)})`,
      );
    }
    return out;
  },
  async planDown() {
    // The rows belong to TeamPass's admin panel once they exist: rolling back leaves them.
    return [];
  },
};
