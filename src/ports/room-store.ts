import type { RoomEvent } from '../domain/events.js';
import type { RoomState } from '../domain/room.js';

/** A room as read from the store. */
export interface StoredRoom {
  room: RoomState;
  /**
   * Compare-and-set token: grows with every write, including writes that make no event (presence on a
   * second instance). 0 for a room never written.
   */
  revision: number;
  /** True when the load was asked about a request and that request already succeeded. */
  requestDone: boolean;
}

/** Names one retryable request: the same requestId from another user is another request. */
export interface RequestKey {
  userId: string;
  requestId: string;
}

export interface RoomCommit {
  transactionId: string;
  /** The revision the change was computed from; the commit fails with `conflict` when it moved on. */
  baseRevision: number;
  /** The room after the change, or null when only the request is to be remembered. */
  room: RoomState | null;
  /** The change's events in version order; the last one's version is `room.version`. */
  events: RoomEvent[];
  /** Remembered (for the configured time) when the commit succeeds. */
  request?: RequestKey;
}

export type CommitResult =
  | { status: 'committed'; revision: number }
  /** The room moved on since `baseRevision`: nothing was written; here is the room now. */
  | { status: 'conflict'; current: StoredRoom }
  /** The request had already succeeded: nothing was written; here is the room now. */
  | { status: 'duplicate'; current: StoredRoom };

export type LogRead =
  /** Every event after the asked version, in order (none when the room is at that version). */
  | { kind: 'events'; events: RoomEvent[]; version: number; /** '' for a room never written */ epoch: string }
  /** The log cannot serve the resume (trimmed, another epoch, or a version the room never had). */
  | { kind: 'snapshot'; room: RoomState };

/** One page of a room's history (the current epoch's events, in version order). */
export interface HistoryPage {
  /** The room's epoch; '' for a room never written. */
  epoch: string;
  /** The room's version now. */
  version: number;
  /** At most the number asked, each with a version above the one asked. */
  events: RoomEvent[];
  /** True when the room has events after the last one returned. */
  hasMore: boolean;
}

/**
 * Where rooms, their event logs and remembered requests live. One commit is one atomic step: the
 * revision check, the request check, the write, the log append and the publish to every instance's
 * RoomEvents happen together or not at all. A commit that resolves the room also records the
 * resolution for the webhook in that same step, when the store was built with an outbox.
 * Failures to reach the store throw StoreUnavailableError.
 */
export interface RoomStore {
  /** The room as stored now; a room never written (or expired) comes back empty with a new epoch. */
  load(transactionId: string, request?: RequestKey): Promise<StoredRoom>;
  /**
   * The room as stored now, or null when it is still at `revision` in `epoch` (the caller has it):
   * a sync of an unchanged room moves no state.
   */
  loadIfChanged(transactionId: string, revision: number, epoch: string): Promise<StoredRoom | null>;
  commit(commit: RoomCommit): Promise<CommitResult>;
  /**
   * The events after `afterVersion` from the log. `epoch`, when given and `afterVersion > 0`, must be the
   * room's, otherwise a snapshot comes back; so does a version above the room's or one the log dropped.
   */
  readSince(transactionId: string, afterVersion: number, epoch?: string): Promise<LogRead>;
  /**
   * The room's whole history (not only the resume reach of readSince): up to `first` events after
   * `afterVersion`, in order. Rooms keep every event up to a configured cap, past which the oldest go.
   */
  readHistory(transactionId: string, afterVersion: number, first: number): Promise<HistoryPage>;
  /**
   * Resolves when the store answers now (every shard of it), rejects (StoreUnavailableError) when it
   * does not. GET /ready asks it about once a second.
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}
