/**
 * The precise close codes after the in-band error frame. They mirror HTTP statuses (4401 = 401,
 * …) so an operator reading a proxy log or a client author reading an `onclose` can guess their
 * meaning. Only a client that offered SUBPROTOCOL gets them: see `wireCloseCode`.
 */
export const CloseCode = {
  /** Normal closure: the PHP daemon's only code, and what every other client gets. */
  Normal: 1000,
  /** Server shutting down; the client should reconnect later. */
  GoingAway: 1001,
  /** Pre-authentication queue overflow or a protocol abuse the client cannot recover from. */
  PolicyViolation: 1008,
  /** A frame larger than max_frame_bytes (the ws library closes with it). */
  MessageTooBig: 1009,
  /** The database could not be reached while authenticating. */
  ServerError: 1011,
  AuthFailed: 4401,
  OriginNotAllowed: 4403,
  AuthTimeout: 4408,
  TooManyConnections: 4429,
  SlowConsumer: 4503,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * The subprotocol a client offers (Sec-WebSocket-Protocol) to get the precise close codes.
 * TeamPass's page warns its user ("real-time connection lost") on any close code but 1000, so a
 * client that does not offer it gets the PHP daemon's behaviour: the in-band error, then 1000.
 */
export const SUBPROTOCOL = 'teampass-ws';

const PRECISE_CODES: ReadonlySet<number> = new Set(Object.values(CloseCode).filter((c) => c !== CloseCode.Normal));

/** The subprotocol the server selects in the handshake, or false for none. */
export function selectSubprotocol(offered: ReadonlySet<string>): string | false {
  return offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false;
}

/**
 * The one place that decides the code a client sees: the precise one when it selected
 * SUBPROTOCOL, else 1000 in place of every code of CloseCode. Codes outside CloseCode (the
 * websocket library's protocol errors, 1002 / 1007) are sent as they are, as Ratchet does.
 */
export function wireCloseCode(code: number, selectedProtocol: string): number {
  if (selectedProtocol === SUBPROTOCOL || !PRECISE_CODES.has(code)) return code;
  return CloseCode.Normal;
}

/** Every error_code the daemon sends: TeamPass's own list plus the additions of DESIGN.md. */
export const ERROR_CODES = [
  'auth_failed',
  'auth_timeout',
  'origin_not_allowed',
  'max_connections',
  'rate_limited',
  'message_too_large',
  'invalid_json',
  'unknown_action',
  'invalid_request',
  'forbidden',
  'invalid_channel',
  'not_found',
  'no_lock',
  'unauthorized',
  'server_error',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];
