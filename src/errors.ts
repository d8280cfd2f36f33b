/**
 * The error codes of the public contract (SEMANTICS.md, "Errors"). Every failure a client can act on
 * is a DomainError carrying one of them; the GraphQL layer turns it into `extensions.code` in one place
 * (src/transport/mask-error.ts). Anything else is masked.
 */
export const ErrorCode = {
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  BadUserInput: 'BAD_USER_INPUT',
  NotAParticipant: 'NOT_A_PARTICIPANT',
  VersionConflict: 'VERSION_CONFLICT',
  RoomResolved: 'ROOM_RESOLVED',
  LimitExceeded: 'LIMIT_EXCEEDED',
  RateLimited: 'RATE_LIMITED',
  StoreUnavailable: 'STORE_UNAVAILABLE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra `extensions` besides `code`, e.g. `currentVersion` or `retryAfterMs`. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const badInput = (message: string, argumentName: string) =>
  new DomainError(ErrorCode.BadUserInput, message, { argumentName });

/** The store could not be reached or did not answer in time; nothing was written. */
export class StoreUnavailableError extends DomainError {
  constructor(cause?: unknown) {
    super(ErrorCode.StoreUnavailable, 'The room store cannot be reached right now; nothing was written. Retry shortly.');
    this.cause = cause;
  }
}

/**
 * A subscriber that does not read its events fast enough: its subscription ends (not its connection),
 * and it resumes with afterVersion = the last version it has, after `retryAfterMs`.
 */
export class SlowConsumerError extends DomainError {
  constructor() {
    super(
      ErrorCode.RateLimited,
      'This subscription fell too far behind its events and was ended; subscribe again with afterVersion set to the last version you have.',
      { reason: 'SLOW_CONSUMER', retryAfterMs: 1000 },
    );
  }
}
