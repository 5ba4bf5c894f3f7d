import type {
  ClientMessage,
  PongFrame,
  ResponseFrame,
  StatsFrame,
  StatusFrame,
  SubscribeFolderMessage,
  SubscribeKbMessage,
} from '../protocol/index.js';
import { CloseCode, unixNow, unknownActionMessage } from '../protocol/index.js';
import type { Connection } from './connection.js';
import type { ReplayScope } from '../delivery.js';
import type { ServerContext } from './context.js';
import { broadcastItemViewers, broadcastKbViewers, refreshAccess, sendError } from './notify.js';

/** A denial is re-checked against the database when the cached verdict is older than this (ms). */
const RECHECK_AFTER_MS = 2000;

const KB_ID_REQUIRED = 'data.kb_id is required.';
const KB_DENIED = "Access denied to knowledge base: the KB channel needs TeamPass's enable_kb setting and is not available to administrators.";

/** Answers one validated message, in the PHP daemon's reply shapes (TEAMPASS.md). */
export async function handleMessage(ctx: ServerContext, connection: Connection, message: ClientMessage): Promise<void> {
  const requestId = message.request_id;
  const reply = (frame: ResponseFrame | PongFrame | StatusFrame | StatsFrame) => connection.sendJson(frame);
  const ok = { type: 'response', status: 'success', request_id: requestId } as const;
  switch (message.action) {
    case 'authenticate':
      // The PHP daemon has no such action: once logged in, TeamPass's reply is the same.
      return sendError(ctx, connection, 'unknown_action', unknownActionMessage('authenticate'), requestId);
    case 'subscribe':
      return message.channel === 'folder' ? subscribeFolder(ctx, connection, message) : subscribeKb(ctx, connection, message);
    case 'unsubscribe': {
      if (message.channel === 'kb') {
        ctx.registry.unsubscribeKb(connection);
        for (const kbId of ctx.presence.stopKbView(connection, null)) broadcastKbViewers(ctx, kbId);
        return reply({ ...ok, action: 'unsubscribed', channel: 'kb' });
      }
      ctx.registry.unsubscribeFolder(connection, message.folder_id);
      for (const target of ctx.presence.stopItemView(connection, message.folder_id, null)) broadcastItemViewers(ctx, target);
      return reply({ ...ok, action: 'unsubscribed', channel: 'folder', folder_id: message.folder_id });
    }
    case 'ping':
      return reply({ type: 'pong', timestamp: unixNow(), request_id: requestId });
    case 'pong':
      return;
    case 'get_status': {
      const { identity } = connection;
      return reply({
        type: 'status',
        connected: true,
        user_id: identity.userId,
        user_login: identity.login,
        user_display_name: identity.displayName,
        auth_method: identity.method,
        subscriptions: connection.subscriptionNames(),
        connected_at: connection.connectedAtSec,
        server_time: unixNow(),
        request_id: requestId,
      });
    }
    case 'get_stats':
      if (!connection.isAdmin) return sendError(ctx, connection, 'forbidden', 'Admin access required.', requestId);
      return reply({ type: 'stats', stats: ctx.registry.stats(), server_time: unixNow(), request_id: requestId });
    case 'start_item_view': {
      const folderId = await ctx.locks.itemFolder(message.item_id);
      if (folderId === null) return sendError(ctx, connection, 'not_found', 'Item not found.', requestId);
      if (!(await mayAccessFolder(ctx, connection, folderId))) return sendError(ctx, connection, 'forbidden', 'Access denied to this item folder.', requestId);
      for (const target of ctx.presence.startItemView(connection, folderId, message.item_id)) broadcastItemViewers(ctx, target);
      return reply({ ...ok, action: 'item_view_started', item_id: message.item_id, folder_id: folderId, viewers: ctx.presence.itemViewers(folderId, message.item_id) });
    }
    case 'stop_item_view': {
      let folderId = message.folder_id;
      if (message.item_id !== null) folderId = (await ctx.locks.itemFolder(message.item_id)) ?? folderId;
      for (const target of ctx.presence.stopItemView(connection, folderId, message.item_id)) broadcastItemViewers(ctx, target);
      return reply({ ...ok, action: 'item_view_stopped', item_id: message.item_id, folder_id: folderId });
    }
    case 'start_kb_view': {
      if (!(await mayUseKb(ctx, connection))) return sendError(ctx, connection, 'forbidden', KB_DENIED, requestId);
      if (message.kb_id === null) return sendError(ctx, connection, 'invalid_request', KB_ID_REQUIRED, requestId);
      if (!(await ctx.locks.kbExists(message.kb_id))) return sendError(ctx, connection, 'not_found', 'KB article not found.', requestId);
      for (const kbId of ctx.presence.startKbView(connection, message.kb_id)) broadcastKbViewers(ctx, kbId);
      return reply({ ...ok, action: 'kb_view_started', kb_id: message.kb_id, viewers: ctx.presence.kbViewers(message.kb_id) });
    }
    case 'stop_kb_view': {
      for (const kbId of ctx.presence.stopKbView(connection, message.kb_id)) broadcastKbViewers(ctx, kbId);
      return reply({ ...ok, action: 'kb_view_stopped', kb_id: message.kb_id });
    }
    case 'renew_item_lock':
      if (!(await ctx.locks.renewItemLock(message.item_id, connection.userId))) {
        return sendError(ctx, connection, 'no_lock', 'No active lock found for this item.', requestId);
      }
      return reply({ ...ok, action: 'lock_renewed', item_id: message.item_id });
    case 'renew_kb_lock':
      if (!(await mayUseKb(ctx, connection))) return sendError(ctx, connection, 'forbidden', KB_DENIED, requestId);
      if (message.kb_id === null) return sendError(ctx, connection, 'invalid_request', KB_ID_REQUIRED, requestId);
      if (!(await ctx.locks.renewKbLock(message.kb_id, connection.userId))) {
        return sendError(ctx, connection, 'no_lock', 'No active lock found for this KB article.', requestId);
      }
      return reply({ ...ok, action: 'kb_lock_renewed', kb_id: message.kb_id });
  }
}

async function subscribeFolder(ctx: ServerContext, connection: Connection, message: SubscribeFolderMessage): Promise<void> {
  const folderId = message.folder_id;
  if (!(await mayAccessFolder(ctx, connection, folderId))) {
    ctx.logger.warn('Folder access denied', { connection: connection.id, user_id: connection.userId, folder_id: folderId });
    return sendError(ctx, connection, 'forbidden', 'Access denied to this folder.', message.request_id);
  }
  const since = message.since_event_id ?? (connection.isSubscribedToFolder(folderId) ? undefined : connection.takeRecoverySince(`folder:${folderId}`));
  let lockedItems: Awaited<ReturnType<ServerContext['locks']['lockedItems']>> = [];
  const recovered = await recoverWhileSubscribing(ctx, connection, since, { folderId }, async () => {
    ctx.registry.subscribeFolder(connection, folderId);
    try {
      lockedItems = await ctx.locks.lockedItems(folderId, connection.userId);
    } catch (err) {
      ctx.logger.warn('Could not read the edition locks of a folder', { folder_id: folderId, error: (err as Error).message });
    }
  });
  if (recovered === null) return;
  connection.sendJson({
    type: 'response',
    status: 'success',
    action: 'subscribed',
    channel: 'folder',
    folder_id: folderId,
    locked_items: lockedItems,
    viewing_items: ctx.presence.folderViewers(folderId),
    ...recoveryFields(ctx, connection, recovered),
    request_id: message.request_id,
  } satisfies ResponseFrame);
}

async function subscribeKb(ctx: ServerContext, connection: Connection, message: SubscribeKbMessage): Promise<void> {
  if (!(await mayUseKb(ctx, connection))) {
    ctx.logger.warn('Knowledge base access denied', { connection: connection.id, user_id: connection.userId });
    return sendError(ctx, connection, 'forbidden', KB_DENIED, message.request_id);
  }
  const since = message.since_event_id ?? (connection.kbSubscribed ? undefined : connection.takeRecoverySince('kb'));
  let lockedKbs: Awaited<ReturnType<ServerContext['locks']['lockedKbs']>> = [];
  const recovered = await recoverWhileSubscribing(ctx, connection, since, { kb: true }, async () => {
    ctx.registry.subscribeKb(connection);
    try {
      lockedKbs = await ctx.locks.lockedKbs(connection.userId);
    } catch (err) {
      ctx.logger.warn('Could not read the KB edition locks', { error: (err as Error).message });
    }
  });
  if (recovered === null) return;
  connection.sendJson({
    type: 'response',
    status: 'success',
    action: 'subscribed',
    channel: 'kb',
    locked_kbs: lockedKbs,
    viewing_kbs: ctx.presence.allKbViewers(),
    ...recoveryFields(ctx, connection, recovered),
    request_id: message.request_id,
  } satisfies ResponseFrame);
}

/**
 * Subscribes, and replays the channel from `since` when asked; null when the replay failed and
 * the connection is closing with 1011 (nothing more is sent). Live frames are held from before
 * the subscription exists until the replay is over, so none of the channel's events goes out
 * live and again in the replay, and none falls between the two.
 */
async function recoverWhileSubscribing(
  ctx: ServerContext,
  connection: Connection,
  since: number | undefined,
  scope: ReplayScope,
  subscribe: () => Promise<void>,
): Promise<boolean | undefined | null> {
  if (since === undefined) {
    await subscribe();
    return undefined;
  }
  connection.beginReplay();
  try {
    await subscribe();
    try {
      return await replay(ctx, connection, since, scope);
    } catch {
      sendError(ctx, connection, 'server_error', REPLAY_FAILED_MESSAGE);
      connection.close(CloseCode.ServerError, 'replay failed');
      return null;
    }
  } finally {
    connection.endReplay();
  }
}

/**
 * `recovered`, and the settled watermark once nothing is held back: the subscribe reply comes
 * after its replay, so everything at or below the watermark on this channel was sent before it.
 */
function recoveryFields(ctx: ServerContext, connection: Connection, recovered: boolean | undefined): { recovered?: boolean; settled_event_id?: number } {
  if (recovered === undefined) return {};
  if (connection.replaying) return { recovered };
  return { recovered, settled_event_id: ctx.feed.settledEventId() };
}

/**
 * Replays what the client missed; undefined when it did not ask (no `recovered` field then). It
 * throws when the events could not be read (the recovery logs it): the caller closes the client
 * with 1011, which makes it come back with the same since, instead of saying `recovered: false`.
 */
export async function replay(ctx: Pick<ServerContext, 'feed'>, connection: Connection, since: number | undefined, scope?: ReplayScope): Promise<boolean | undefined> {
  if (since === undefined) return undefined;
  return (await ctx.feed.replay(connection, since, scope)).recovered;
}

export const REPLAY_FAILED_MESSAGE = 'The events missed since your last one could not be read from the database; reconnect with the same since.';

/** A denial is confirmed against the database when the cached verdict is not fresh: a grant may be new. */
async function mayAccessFolder(ctx: ServerContext, connection: Connection, folderId: number): Promise<boolean> {
  const access = await ctx.access.get(connection.userId);
  if (connection.mayAccessFolder(folderId)) return true;
  if (Date.now() - access.computedAtMs < RECHECK_AFTER_MS) return false;
  await refreshAccess(ctx, connection.userId);
  return connection.mayAccessFolder(folderId);
}

async function mayUseKb(ctx: ServerContext, connection: Connection): Promise<boolean> {
  const access = await ctx.access.get(connection.userId);
  if (connection.mayUseKb()) return true;
  if (Date.now() - access.computedAtMs < RECHECK_AFTER_MS) return false;
  await refreshAccess(ctx, connection.userId);
  return connection.mayUseKb();
}

