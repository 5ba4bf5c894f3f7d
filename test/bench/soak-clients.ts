/**
 * The soak's clients inside one load worker: counted clients that note every event id they
 * receive, answer the heartbeat and send TeamPass's `ping`, and (churn) close and come back with
 * ?since= their resume point; and slow consumers that stop reading until the daemon closes them.
 */
import WebSocket from 'ws';
import type { SoakAwaitCommand, SoakEvent, SoakOpenCommand, SoakProgress, SoakQuiesceCommand, SoakTally, SoakUser } from './load-messages.js';
import { ReceivedIds } from './received-ids.js';

/** TeamPass's page sends `ping` every 25 s. */
const CLIENT_PING_EVERY_MS = 25_000;
const PING_TICK_MS = 1000;
/** A churned client comes back after up to this long. */
const RECONNECT_SPREAD_MS = 1000;
const RETRY_MS = 1000;
/** A reconnect not subscribed within this long is given up (and retried). */
const RECONNECT_READY_MS = 60_000;
/** After reading again, how long a slow consumer waits for its close before it closes itself. */
const SLOW_CLOSE_WAIT_MS = 10_000;
const SLOW_SUBPROTOCOL = 'teampass-ws';
const EXAMPLES = 5;

interface Frame {
  type?: string;
  action?: string;
  event_id?: number;
  recovered?: boolean;
  message?: string;
  error_code?: string;
}

/** A connection attempt that ended before its subscription was answered, and why. */
class ConnectFailure extends Error {
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

/** A socket still connecting or already closing takes no frame (ws throws on CONNECTING). */
function sendIfOpen(ws: WebSocket, data: string): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(data);
}

const EVENT_HEAD = '{"type":"event",';
const EVENT_ID_TAIL = /"event_id":(\d+)\}$/;

/** An event frame's id, read from its end (the daemon writes event_id last) without parsing large payloads. */
function eventIdOf(data: Buffer): number | undefined {
  if (data.subarray(0, EVENT_HEAD.length).toString() !== EVENT_HEAD) return undefined;
  const tail = EVENT_ID_TAIL.exec(data.subarray(-40).toString());
  return tail ? Number(tail[1]) : (JSON.parse(data.toString()) as Frame).event_id;
}

const bump = (counts: Record<string, number>, key: number) => (counts[String(key)] = (counts[String(key)] ?? 0) + 1);

class CountedClient {
  ws: WebSocket | undefined;
  live = false;
  /** Set while this side closes the connection on purpose (churn, end of the soak). */
  leaving = false;
  /** The resume point: the highest event id received. */
  highest: number;
  duplicates = 0;
  outOfOrder = 0;
  readonly received: ReceivedIds;

  constructor(
    readonly index: number,
    readonly user: SoakUser,
    sinceId: number,
  ) {
    this.highest = sinceId;
    this.received = new ReceivedIds(sinceId + 1);
  }

  /** Ids an attempt that failed before its subscription received: the next attempt replays them again. */
  private readonly redelivered = new Set<number>();
  private attemptIds: number[] = [];

  onEvent(id: number): void {
    this.attemptIds.push(id);
    if (!this.received.add(id)) {
      if (!this.redelivered.delete(id)) this.duplicates += 1;
    } else if (id < this.highest) this.outOfOrder += 1;
    if (id > this.highest) this.highest = id;
  }

  /** A new attempt from `since`. */
  attemptStarts(): void {
    this.attemptIds = [];
  }

  /**
   * The attempt ended before it was subscribed: its replay may have stopped between channels
   * (user and broadcast events come at the upgrade, the folder's at the subscription), so the
   * next attempt resumes from the same point and may get those ids again, which is no duplicate.
   */
  attemptFailed(since: number): void {
    for (const id of this.attemptIds) this.redelivered.add(id);
    this.attemptIds = [];
    this.highest = since;
  }

  /** Subscribed: everything asked for was replayed, from now on ids come live. */
  attemptSubscribed(): void {
    this.attemptIds = [];
    this.redelivered.clear();
  }
}

export class SoakFleet {
  private cmd: SoakOpenCommand | undefined;
  private readonly clients: CountedClient[] = [];
  private readonly slow = new Set<WebSocket>();
  private running = false;
  private closingAll = false;
  private churnTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private pingTick = 0;
  private eventFrames = 0;
  private reconnects = 0;
  private reconnectFailures = 0;
  private notRecovered = 0;
  private readonly slowCloses: Record<string, number> = {};
  private slowUnread = 0;
  private readonly serverCloses: Record<string, number> = {};
  /** Why reconnects failed: HTTP status, error frame, close code before the subscription, socket error. */
  private readonly failureReasons: Record<string, number> = {};

  async open(cmd: SoakOpenCommand): Promise<{ opened: number }> {
    this.cmd = cmd;
    for (let i = 0; i < cmd.count; i += 1) {
      const index = cmd.first + i;
      this.clients.push(new CountedClient(index, cmd.users[index % cmd.users.length]!, cmd.sinceId));
    }
    let next = 0;
    let failure: Error | undefined;
    const timer = setTimeout(() => (failure ??= new Error(`only ${this.liveCount()} of ${cmd.count} soak clients ready after ${cmd.timeoutMs} ms`)), cmd.timeoutMs);
    const lane = async () => {
      while (next < this.clients.length && !failure) {
        const client = this.clients[next]!;
        next += 1;
        await this.connect(client, cmd.timeoutMs).catch((err: Error) => (failure ??= err));
      }
    };
    await Promise.all(Array.from({ length: Math.min(cmd.concurrency, cmd.count) }, lane));
    clearTimeout(timer);
    if (failure) throw failure;
    this.running = true;
    this.pingTimer = setInterval(() => this.pingSome(), PING_TICK_MS);
    if (cmd.churnCount > 0) this.churnTimer = setInterval(() => this.churn(), cmd.churnEveryMs);
    for (let k = 0; k < cmd.slowConsumers; k += 1) this.openSlow(k);
    return { opened: this.liveCount() };
  }

  /** Stops churn and slow consumers; resolves once every counted client is subscribed again. */
  async quiesce(cmd: SoakQuiesceCommand): Promise<SoakProgress> {
    this.running = false;
    clearInterval(this.churnTimer);
    for (const ws of this.slow) {
      if (ws.isPaused) this.slowUnread += 1;
      ws.terminate();
    }
    this.slow.clear();
    const deadline = Date.now() + cmd.timeoutMs;
    while (this.liveCount() < this.clients.length && Date.now() < deadline) await pause(100);
    return this.progress();
  }

  /** Resolves with how many counted clients have had an event at or above `eventId`. */
  async awaitEvent(cmd: SoakAwaitCommand): Promise<{ reached: number }> {
    const reached = () => this.clients.filter((c) => c.highest >= cmd.eventId).length;
    const deadline = Date.now() + cmd.timeoutMs;
    while (reached() < this.clients.length && Date.now() < deadline) await pause(100);
    return { reached: reached() };
  }

  progress(): SoakProgress {
    return {
      live: this.liveCount(),
      eventFrames: this.eventFrames,
      reconnects: this.reconnects,
      reconnectFailures: this.reconnectFailures,
      failureReasons: { ...this.failureReasons },
      slowCloses: { ...this.slowCloses },
      slowUnread: this.slowUnread,
      serverCloses: { ...this.serverCloses },
    };
  }

  tally(events: SoakEvent[]): SoakTally {
    const broadcast: number[] = [];
    const byFolder = new Map<number, number[]>();
    const byUser = new Map<number, number[]>();
    for (const e of events) {
      if (e.target === 'broadcast') broadcast.push(e.id);
      else {
        const map = e.target === 'folder' ? byFolder : byUser;
        const list = map.get(e.targetId) ?? [];
        list.push(e.id);
        map.set(e.targetId, list);
      }
    }
    const t: SoakTally = { ...this.progress(), clients: this.clients.length, expected: 0, delivered: 0, lost: 0, duplicates: 0, unexpected: 0, outOfOrder: 0, notRecovered: this.notRecovered, examples: [] };
    for (const c of this.clients) {
      const due = [...broadcast, ...(byFolder.get(c.user.folderId) ?? []), ...(byUser.get(c.user.id) ?? [])];
      const missing = due.filter((id) => !c.received.has(id));
      t.expected += due.length;
      t.delivered += due.length - missing.length;
      t.lost += missing.length;
      t.unexpected += c.received.size - (due.length - missing.length);
      t.duplicates += c.duplicates;
      t.outOfOrder += c.outOfOrder;
      if (missing.length > 0 && t.examples.length < EXAMPLES) {
        t.examples.push(`client ${c.index} (user ${c.user.id}, folder ${c.user.folderId}): ${missing.length} lost, first id ${Math.min(...missing)}`);
      }
    }
    return t;
  }

  closeAll(): number {
    this.running = false;
    this.closingAll = true;
    clearInterval(this.churnTimer);
    clearInterval(this.pingTimer);
    for (const ws of this.slow) ws.terminate();
    this.slow.clear();
    for (const c of this.clients) {
      c.leaving = true;
      c.ws?.terminate();
    }
    const closed = this.clients.length;
    this.clients.length = 0;
    return closed;
  }

  private liveCount(): number {
    let n = 0;
    for (const c of this.clients) if (c.live) n += 1;
    return n;
  }

  /**
   * One connection of a counted client: ?token=&since=, `connected`, then its folder subscription.
   * It rejects with the reason when the connection ends before the subscription is answered; a
   * connection that was subscribed comes back by itself when it closes. One attempt per client
   * at a time: `client.ws` is always the client's newest socket, and `live` is true only while
   * that socket is open and subscribed.
   */
  private connect(client: CountedClient, readyTimeoutMs: number): Promise<void> {
    const cmd = this.cmd!;
    return new Promise((resolve, reject) => {
      // As the project's browser client does: ?since= for user and broadcast events, and the
      // same id as since_event_id in the folder subscription.
      const since = client.highest;
      const url = `${cmd.url}?token=${client.user.token}&since=${since}`;
      const ws = new WebSocket(url, {
        perMessageDeflate: false,
        localAddress: cmd.localAddresses[client.index % cmd.localAddresses.length],
        handshakeTimeout: readyTimeoutMs,
      });
      client.ws = ws;
      client.live = false;
      client.leaving = false;
      client.attemptStarts();
      let subscribed = false;
      let failed = false;
      /** How far the attempt got, for the failure reason. */
      let stage = 'upgrading';
      ws.once('open', () => (stage = 'upgraded, no connected frame'));
      const readyTimer = setTimeout(() => fail(`not subscribed within ${readyTimeoutMs / 1000} s (${stage})`), readyTimeoutMs);
      const fail = (reason: string) => {
        if (subscribed || failed) return;
        failed = true;
        clearTimeout(readyTimer);
        ws.terminate();
        client.attemptFailed(since);
        reject(new ConnectFailure(`soak client ${client.index}: ${reason}`, reason));
      };
      ws.on('error', (err) => fail(`socket error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      ws.once('unexpected-response', (_req, res) => fail(`HTTP ${res.statusCode}`));
      ws.on('message', (data: Buffer) => {
        const eventId = eventIdOf(data);
        if (eventId !== undefined) {
          this.eventFrames += 1;
          client.onEvent(eventId);
          return;
        }
        const frame = JSON.parse(data.toString()) as Frame;
        switch (frame.type) {
          case 'ping':
            sendIfOpen(ws, '{"action":"pong"}');
            return;
          case 'connected':
            stage = 'connected, no subscribe reply';
            if (frame.recovered === false) this.notRecovered += 1;
            sendIfOpen(ws, JSON.stringify({ action: 'subscribe', channel: 'folder', data: { folder_id: client.user.folderId, since_event_id: since } }));
            return;
          case 'response':
            if (frame.action !== 'subscribed' || subscribed || failed) return;
            if (frame.recovered === false) this.notRecovered += 1;
            subscribed = true;
            clearTimeout(readyTimer);
            client.attemptSubscribed();
            client.live = client.ws === ws && ws.readyState === WebSocket.OPEN;
            resolve();
            return;
          case 'error':
            if (!subscribed) fail(`error frame ${frame.error_code ?? '?'}`);
            return;
        }
      });
      ws.once('close', (code, reason: Buffer) => {
        if (client.ws === ws) {
          client.live = false;
          client.ws = undefined;
        }
        if (!subscribed) return fail(`closed ${code}${reason.length > 0 ? ` (${reason.toString()})` : ''} before subscribed, ${stage}`);
        if (!client.leaving) bump(this.serverCloses, code);
        if (!this.closingAll) this.reconnectLater(client, client.leaving ? Math.random() * RECONNECT_SPREAD_MS : RETRY_MS);
      });
    });
  }

  /** The one retry chain of a client: attempts until one is subscribed (or the soak ends). */
  private reconnectLater(client: CountedClient, delayMs: number): void {
    setTimeout(() => {
      if (this.closingAll) return;
      this.reconnects += 1;
      this.connect(client, RECONNECT_READY_MS).catch((err: unknown) => {
        this.reconnectFailures += 1;
        const reason = err instanceof ConnectFailure ? err.reason : String(err);
        this.failureReasons[reason] = (this.failureReasons[reason] ?? 0) + 1;
        if (!this.closingAll) this.reconnectLater(client, RETRY_MS);
      });
    }, delayMs);
  }

  /** Closes a few live counted clients; each comes back with ?since= once its close completes. */
  private churn(): void {
    const live = this.clients.filter((c) => c.live);
    for (let k = 0; k < this.cmd!.churnCount && live.length > 0; k += 1) {
      const client = live.splice(Math.floor(Math.random() * live.length), 1)[0]!;
      client.leaving = true;
      client.live = false;
      client.ws?.close(1000, 'churn');
    }
  }

  /** TeamPass's `ping` from each live client every 25 s, spread over the interval. */
  private pingSome(): void {
    const slots = CLIENT_PING_EVERY_MS / PING_TICK_MS;
    this.pingTick = (this.pingTick + 1) % slots;
    for (const c of this.clients) if (c.live && c.index % slots === this.pingTick && c.ws) sendIfOpen(c.ws, '{"action":"ping"}');
  }

  /** Slow consumer `k`: subscribes, stops reading, reads again after slowPauseMs to see its close, then is replaced. */
  private openSlow(k: number): void {
    if (!this.running) return;
    const cmd = this.cmd!;
    const user = cmd.slowUsers[k % cmd.slowUsers.length]!;
    const ws = new WebSocket(`${cmd.url}?token=${user.token}`, [SLOW_SUBPROTOCOL], {
      perMessageDeflate: false,
      localAddress: cmd.localAddresses[k % cmd.localAddresses.length],
      handshakeTimeout: cmd.timeoutMs,
    });
    this.slow.add(ws);
    let waitTimer: NodeJS.Timeout | undefined;
    let subscribed = false;
    let closedItself = false;
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer) => {
      if (subscribed) return;
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame.type === 'connected') sendIfOpen(ws, JSON.stringify({ action: 'subscribe', channel: 'folder', data: { folder_id: user.folderId } }));
      if (frame.type !== 'response' || frame.action !== 'subscribed') return;
      subscribed = true;
      ws.pause();
      waitTimer = setTimeout(() => {
        ws.resume();
        waitTimer = setTimeout(() => {
          closedItself = true;
          ws.terminate();
        }, SLOW_CLOSE_WAIT_MS);
      }, cmd.slowPauseMs);
    });
    ws.once('close', (code) => {
      clearTimeout(waitTimer);
      if (!this.slow.delete(ws)) return;
      // 0: still open after it read again, so it closed itself.
      bump(this.slowCloses, closedItself ? 0 : code);
      if (this.running) setTimeout(() => this.openSlow(k), RETRY_MS);
    });
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
