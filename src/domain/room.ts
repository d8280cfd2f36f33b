/** The state of one room and its public views. Pure data: no I/O, no GraphQL. */
import type { Agreement } from './agreement.js';

/** An instant in UTC as an ISO-8601 string. */
export type Instant = string;

export type RoomStatus = 'OPEN' | 'RESOLVED';

export interface Selection {
  transactionId: string;
  field: string;
  value: string;
  userId: string;
  userName: string;
  selectedAt: Instant;
  /** The room version of the event that set this value. */
  version: number;
}

export interface ParticipantState {
  userId: string;
  name: string;
  isReady: boolean;
  joinedAt: Instant;
  /** True while the user holds an event subscription to the room on any instance (see PresenceMark). */
  online: boolean;
  /** The PresenceMark `seq` that `online` comes from: an older mark never overwrites a newer one. */
  presenceSeq: number;
}

/**
 * A user's presence in a room as the presence store last counted it: online while any instance holds
 * at least one of the user's subscriptions. `seq` grows with every flip (online to offline or back),
 * so marks applied late or twice cannot undo a later one.
 */
export interface PresenceMark {
  online: boolean;
  seq: number;
}

/** A user never counted. */
export const noPresence: PresenceMark = { online: false, seq: 0 };

export interface RoomState {
  transactionId: string;
  /** Names this history of the room; a room that starts over gets a new one. */
  epoch: string;
  /** The number of events the room has had. */
  version: number;
  status: RoomStatus;
  resolvedAt: Instant | null;
  /** Ordered by field name in code-point order. */
  selections: Selection[];
  /** Ordered by the time each joined. */
  participants: ParticipantState[];
  /**
   * Set in the step that resolves the room and never changed after: later presence, joins and leaves
   * do not touch it. Absent (as null) in rooms stored before agreements existed, and while OPEN.
   */
  agreement?: Agreement | null;
}

export interface ParticipantView {
  transactionId: string;
  userId: string;
  name: string;
  isReady: boolean;
  online: boolean;
  joinedAt: Instant;
}

export interface RoomView {
  transactionId: string;
  version: number;
  epoch: string;
  status: RoomStatus;
  selections: Selection[];
  participants: ParticipantView[];
  allReady: boolean;
  resolvedAt: Instant | null;
  /** Null while OPEN. */
  agreement: Agreement | null;
}

export function emptyRoom(transactionId: string, epoch: string): RoomState {
  return { transactionId, epoch, version: 0, status: 'OPEN', resolvedAt: null, selections: [], participants: [] };
}

export function participantView(transactionId: string, p: ParticipantState): ParticipantView {
  return { transactionId, userId: p.userId, name: p.name, isReady: p.isReady, online: p.online === true, joinedAt: p.joinedAt };
}

/** True when at least two participants are in the room and every one is ready. */
export function allReady(participants: readonly ParticipantState[]): boolean {
  return participants.length >= 2 && participants.every((p) => p.isReady);
}

export function roomView(room: RoomState): RoomView {
  return {
    transactionId: room.transactionId,
    version: room.version,
    epoch: room.epoch,
    status: room.status,
    selections: room.selections,
    participants: room.participants.map((p) => participantView(room.transactionId, p)),
    allReady: allReady(room.participants),
    resolvedAt: room.resolvedAt,
    agreement: room.agreement ?? null,
  };
}

/** Code-point order, as the contract asks (not localeCompare). */
export function compareFieldNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
