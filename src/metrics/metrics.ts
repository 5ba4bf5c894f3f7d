import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import client from 'prom-client';

/**
 * The daemon's Prometheus metrics, on a registry of their own (no global default registry), so
 * several daemons in one test process never share counters.
 */
export interface Metrics {
  readonly registry: client.Registry;
  readonly connections: client.Gauge;
  readonly users: client.Gauge;
  readonly subscriptions: client.Gauge<'channel'>;
  readonly eventsDelivered: client.Counter<'event_type'>;
  readonly eventsPolled: client.Counter;
  readonly badEvents: client.Counter<'reason'>;
  readonly pollLagSeconds: client.Gauge;
  readonly authFailures: client.Counter<'reason'>;
  readonly slowConsumerCloses: client.Counter;
  readonly connectionsRefused: client.Counter<'reason'>;
  readonly openSockets: client.Gauge;
  readonly pendingConnections: client.Gauge;
  readonly messagesReceived: client.Counter<'action'>;
  readonly clientErrors: client.Counter<'error_code'>;
}

/**
 * How often the event-loop delay histogram takes a sample (ms). prom-client's 10 ms wakes an idle
 * daemon 100 times a second (about a third of its idle CPU); at 50 ms every stall of 50 ms or
 * more is still seen whole, and shorter ones in proportion.
 */
const EVENT_LOOP_SAMPLE_MS = 50;

export function createMetrics(options: { processMetrics?: boolean; mode?: 'demo' | 'teampass' } = {}): Metrics {
  const registry = new client.Registry();
  const registers = [registry];
  if (options.processMetrics ?? true) {
    client.collectDefaultMetrics({ register: registry, prefix: 'teampass_ws_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    watchHeapAfterFullCollection(new client.Gauge({ name: 'teampass_ws_heap_after_full_gc_bytes', help: 'V8 heap in use just after the last full collection (0 before the first): what live objects hold; a leak makes it grow', registers }));
  }
  // An info metric (always 1): a dashboard or an alert tells a demo from a real daemon by its label.
  new client.Gauge({ name: 'teampass_ws_info', help: 'What this daemon serves: mode demo (embedded demo data) or teampass', labelNames: ['mode'], registers })
    .labels(options.mode ?? 'teampass')
    .set(1);
  return {
    registry,
    connections: new client.Gauge({ name: 'teampass_ws_connections', help: 'Open authenticated websocket connections', registers }),
    users: new client.Gauge({ name: 'teampass_ws_users', help: 'Distinct users with an open connection', registers }),
    subscriptions: new client.Gauge({ name: 'teampass_ws_subscriptions', help: 'Active subscriptions by channel', labelNames: ['channel'], registers }),
    eventsDelivered: new client.Counter({ name: 'teampass_ws_events_delivered_total', help: 'Event frames sent to clients, by event type', labelNames: ['event_type'], registers }),
    eventsPolled: new client.Counter({ name: 'teampass_ws_events_polled_total', help: 'Rows read from websocket_events', registers }),
    badEvents: new client.Counter({ name: 'teampass_ws_bad_events_total', help: 'Rows of websocket_events that could not be delivered, by reason', labelNames: ['reason'], registers }),
    pollLagSeconds: new client.Gauge({ name: 'teampass_ws_poll_lag_seconds', help: 'Seconds since the poller last read the events table successfully', registers }),
    authFailures: new client.Counter({ name: 'teampass_ws_auth_failures_total', help: 'Failed authentications, by reason', labelNames: ['reason'], registers }),
    slowConsumerCloses: new client.Counter({ name: 'teampass_ws_slow_consumer_closes_total', help: 'Connections closed because they fell too far behind (4503)', registers }),
    connectionsRefused: new client.Counter({
      name: 'teampass_ws_connections_refused_total',
      help: 'Connections refused before authentication: pending_global / pending_ip (too many waiting for a credential), fd_limit (open-file limit)',
      labelNames: ['reason'],
      registers,
    }),
    openSockets: new client.Gauge({ name: 'teampass_ws_open_sockets', help: 'TCP connections open on the daemon port, authenticated or not', registers }),
    pendingConnections: new client.Gauge({ name: 'teampass_ws_pending_connections', help: 'Websocket connections still waiting to send a credential', registers }),
    messagesReceived: new client.Counter({ name: 'teampass_ws_messages_received_total', help: 'Client messages, by action', labelNames: ['action'], registers }),
    clientErrors: new client.Counter({ name: 'teampass_ws_client_errors_total', help: 'Error replies sent to clients, by error code', labelNames: ['error_code'], registers }),
  };
}

/**
 * The heap used at the end of each full (mark-compact) collection, read when Node reports the
 * collection: the live objects, without the garbage that the heap-used sawtooth carries between
 * collections. Node hands the observer the collections of a turn in one batch; the young-generation
 * ones are skipped, and nothing runs between collections.
 */
function watchHeapAfterFullCollection(gauge: client.Gauge): void {
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { detail?: { kind?: number } }).detail?.kind !== perfConstants.NODE_PERFORMANCE_GC_MAJOR) continue;
      gauge.set(v8.getHeapStatistics().used_heap_size);
      return;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
}
