import { accessFingerprints } from '../access/index.js';
import { apiSessionKey, apiSessionRefused, apiSessionVerdicts, loadUsers, sessionEnd } from '../auth/index.js';
import type { Database } from '../db/index.js';
import type { ServerContext } from './context.js';
import { endConnection, refreshAccess } from './notify.js';

/**
 * The periodic check (every session_check_sec) of what can change behind a live connection:
 * TeamPass logouts and session ends, disabled or deleted accounts, expired or revoked API
 * tokens, and role or grant changes (folder access recomputed, lost subscriptions dropped;
 * every verdict at least every access_refresh_sec). One round of queries for all users.
 */
export class SessionMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly signatures = new Map<number, string>();

  constructor(
    private readonly ctx: ServerContext,
    private readonly db: Database,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.ctx.config.session_check_sec * 1000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One check; overlapping calls share the running one. */
  tick(): Promise<void> {
    this.running ??= this.check()
      .catch((err: Error) => this.ctx.logger.warn('Periodic session check failed; connections are kept until the database answers', { error: err.message }))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async check(): Promise<void> {
    const { ctx } = this;
    // One small query: enable_kb, cpassman_url or the API secret changed in TeamPass's admin panel show within a check.
    await ctx.settings.refresh();
    const userIds = ctx.registry.userIds();
    const connected = new Set(userIds);
    ctx.access.retainOnly(connected);
    for (const userId of [...this.signatures.keys()]) if (!connected.has(userId)) this.signatures.delete(userId);
    if (userIds.length === 0) return;

    const users = await loadUsers(this.db, userIds);
    const nowSec = Math.floor(Date.now() / 1000);
    for (const connection of [...ctx.registry.all()]) {
      // A user who connected while the rows were read is not in them: their authentication just checked the same.
      if (!connected.has(connection.userId)) continue;
      const expired = connection.identity.expiresAtMs !== null && connection.identity.expiresAtMs <= Date.now();
      const reason = sessionEnd(users.get(connection.userId), connection.identity, nowSec) ?? (expired ? 'token_expired' : null);
      if (reason) endConnection(ctx, connection, reason);
    }

    const withJti = [...ctx.registry.all()].filter((c) => c.identity.jti !== null);
    if (withJti.length > 0) {
      const sessions = withJti.map((c) => ({ jti: c.identity.jti!, userId: c.userId }));
      const verdicts = await apiSessionVerdicts(this.db, sessions);
      for (const [i, connection] of withJti.entries()) {
        const verdict = verdicts.get(apiSessionKey(sessions[i]));
        if (!apiSessionRefused(verdict) || !ctx.registry.has(connection)) continue;
        ctx.logger.info('API token revoked: connection closed', { connection: connection.id, user_id: connection.userId, api_session: verdict });
        endConnection(ctx, connection, 'token_revoked');
      }
    }

    const fingerprints = await accessFingerprints(this.db, userIds);
    // The switches every verdict depends on: turning one off in TeamPass's admin panel sends no event.
    const switches = `${ctx.settings.enabled('enable_pf_feature')}|${ctx.settings.enabled('enable_kb')}`;
    for (const userId of userIds) {
      const user = users.get(userId);
      const signature = `${fingerprints.get(userId)}|${user?.admin}|${user?.personal_folder}|${switches}`;
      const previous = this.signatures.get(userId);
      this.signatures.set(userId, signature);
      const changed = previous !== undefined && previous !== signature;
      if ((changed || ctx.access.isStale(userId)) && ctx.registry.countForUser(userId) > 0) await refreshAccess(ctx, userId);
    }
  }
}
