import { CloseCode, errorFrame, localEvent, type ErrorCode, type RequestId, type RevocationFrame } from '../protocol/index.js';
import type { Connection } from './connection.js';
import type { ServerContext } from './context.js';
import type { ItemTarget } from './presence.js';

/** Sends an error reply and counts it. */
export function sendError(ctx: Pick<ServerContext, 'metrics'>, target: { sendJson(v: unknown): void }, code: ErrorCode, message: string, requestId?: RequestId): void {
  ctx.metrics.clientErrors.inc({ error_code: code });
  target.sendJson(errorFrame(code, message, requestId));
}

/** item_viewers_changed to the folder's subscribers, serialised once. */
export function broadcastItemViewers(ctx: Pick<ServerContext, 'presence' | 'registry'>, target: ItemTarget): void {
  const frame = JSON.stringify(
    localEvent('item_viewers_changed', { item_id: target.itemId, folder_id: target.folderId, viewers: ctx.presence.itemViewers(target.folderId, target.itemId) }),
  );
  for (const connection of [...ctx.registry.folderSubscribers(target.folderId)]) {
    if (connection.mayAccessFolder(target.folderId)) connection.send(frame);
  }
}

export function broadcastKbViewers(ctx: Pick<ServerContext, 'presence' | 'registry'>, kbId: number): void {
  const frame = JSON.stringify(localEvent('kb_viewers_changed', { kb_id: kbId, viewers: ctx.presence.kbViewers(kbId) }));
  for (const connection of [...ctx.registry.kbSubscribers()]) {
    if (connection.mayUseKb()) connection.send(frame);
  }
}

/**
 * Drops every subscription of the user's connections that the current verdict no longer allows,
 * telling each client (DESIGN.md: `unsubscribed` with reason access_revoked). Runs synchronously
 * after the verdict changed, so no later event of a dropped folder reaches the client.
 */
export function revokeLostAccess(ctx: ServerContext, userId: number): number {
  let dropped = 0;
  for (const connection of [...ctx.registry.byUser(userId)]) {
    for (const folderId of connection.folders) {
      if (connection.mayAccessFolder(folderId)) continue;
      ctx.registry.unsubscribeFolder(connection, folderId);
      const frame: RevocationFrame = { type: 'response', status: 'success', action: 'unsubscribed', channel: 'folder', folder_id: folderId, reason: 'access_revoked' };
      connection.sendJson(frame);
      for (const target of ctx.presence.stopItemView(connection, folderId, null)) broadcastItemViewers(ctx, target);
      ctx.logger.info('Folder access revoked: subscription dropped', { connection: connection.id, user_id: userId, folder_id: folderId });
      dropped += 1;
    }
    if (connection.kbSubscribed && !connection.mayUseKb()) {
      ctx.registry.unsubscribeKb(connection);
      const frame: RevocationFrame = { type: 'response', status: 'success', action: 'unsubscribed', channel: 'kb', reason: 'access_revoked' };
      connection.sendJson(frame);
      for (const kbId of ctx.presence.stopKbView(connection, null)) broadcastKbViewers(ctx, kbId);
      ctx.logger.info('KB access revoked: subscription dropped', { connection: connection.id, user_id: userId });
      dropped += 1;
    }
  }
  return dropped;
}

/** Reads the user's access again and drops what it no longer allows. */
export async function refreshAccess(ctx: ServerContext, userId: number): Promise<void> {
  await ctx.access.recompute(userId);
  revokeLostAccess(ctx, userId);
}

/** A session_expired event, then 4401: what TeamPass's page expects when its session is over. */
export function endConnection(ctx: Pick<ServerContext, 'logger'>, connection: Connection, reason: string): void {
  ctx.logger.info('Session over: connection closed', { connection: connection.id, user_id: connection.userId, reason });
  connection.sendJson(localEvent('session_expired', { reason }));
  connection.close(CloseCode.AuthFailed, 'session expired');
}
