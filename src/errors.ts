/**
 * The one error type a user (admin, operator, client author) can cause. Every such error
 * carries a stable code and a suggestion that says what to do next; commands/index.ts prints
 * it and picks the exit code, nothing else does.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_FILE'
  | 'USAGE'
  | 'SETTINGS_NOT_FOUND'
  | 'SETTINGS_INVALID'
  | 'KEY_FILE'
  | 'KEY_CHECKSUM'
  | 'DECRYPT_FAILED'
  | 'DB_CONNECT'
  | 'DB_AUTH'
  | 'DB_UNKNOWN_DATABASE'
  | 'DB_TIMEOUT'
  | 'DB_URL'
  | 'DB_ERROR'
  | 'MIGRATION'
  | 'INPUT'
  | 'CHECK_FAILED'
  | 'IO';

export class TeampassWsError extends Error {
  readonly code: ErrorCode;
  readonly suggestion?: string;
  /** 1 for a failed operation or bad input, 2 for command-line usage errors. */
  readonly exitCode: 1 | 2;

  constructor(code: ErrorCode, message: string, options: { suggestion?: string; cause?: unknown; exitCode?: 1 | 2 } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TeampassWsError';
    this.code = code;
    this.suggestion = options.suggestion;
    this.exitCode = options.exitCode ?? (code === 'USAGE' ? 2 : 1);
  }
}

export function isTeampassWsError(err: unknown): err is TeampassWsError {
  return err instanceof TeampassWsError;
}
