/**
 * Close codes after the in-band error frame. They mirror HTTP statuses (4401 = 401, …) so an
 * operator reading a proxy log or a client author reading an `onclose` can guess their meaning.
 */
export const CloseCode = {
  /** Server shutting down; the client should reconnect later. */
  GoingAway: 1001,
  /** A frame larger than max_frame_bytes (the ws library closes with it). */
  MessageTooBig: 1009,
  /** Pre-authentication queue overflow or a protocol abuse the client cannot recover from. */
  PolicyViolation: 1008,
  AuthFailed: 4401,
  OriginNotAllowed: 4403,
  AuthTimeout: 4408,
  TooManyConnections: 4429,
  SlowConsumer: 4503,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

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
