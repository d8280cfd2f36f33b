import type { Instant, ParticipantView, RoomView, Selection } from './room.js';

interface EventBase {
  transactionId: string;
  /** The room's version right after this event. */
  version: number;
  at: Instant;
  /** The user whose action or connection caused the event; null when the server caused it. */
  userId: string | null;
}

export type FieldSelected = EventBase & { type: 'FieldSelected'; selection: Selection; readinessReset: boolean };
export type FieldCleared = EventBase & { type: 'FieldCleared'; field: string; readinessReset: boolean };
export type ParticipantEvent = EventBase & {
  type: 'ParticipantJoined' | 'ParticipantLeft' | 'ReadinessChanged' | 'PresenceChanged';
  participant: ParticipantView;
};
export type RoomEventWithRoom = EventBase & { type: 'RoomResolved' | 'RoomSnapshot'; room: RoomView };

/** One change to a room, as stored in its log and sent to subscribers. */
export type RoomEvent = FieldSelected | FieldCleared | ParticipantEvent | RoomEventWithRoom;
export type RoomEventType = RoomEvent['type'];

/** What one committed change delivers to every instance: its events, in version order, and the room's epoch. */
export interface EventBatch {
  epoch: string;
  events: RoomEvent[];
}
