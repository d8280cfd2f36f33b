/**
 * The client side of the room's rules: applies one event to a room as the client holds it. Pure, so
 * every client (browser, Node, a React hook) converges the same way. The server stays the authority:
 * the client never decides, it only replays what the server says happened.
 */
import type { RoomEventFieldsFragment, RoomFieldsFragment } from './generated/graphql.js';

export type Room = RoomFieldsFragment;
export type RoomEvent = RoomEventFieldsFragment;
type Participant = Room['participants'][number];

export type ApplyResult =
  | { kind: 'applied'; room: Room }
  /** Already reflected in the room (a duplicate or an older event): nothing to do. */
  | { kind: 'stale' }
  /** The event is not the next version: events are missing; reload or resume. */
  | { kind: 'gap' };

const byField = (a: { field: string }, b: { field: string }) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0);
const allReady = (participants: readonly Participant[]) => participants.length >= 2 && participants.every((p) => p.isReady);

function withParticipants(room: Room, participants: Participant[]): Pick<Room, 'participants' | 'allReady'> {
  return { participants, allReady: allReady(participants) };
}

function replaceParticipant(room: Room, participant: Participant): Participant[] {
  return room.participants.map((p) => (p.userId === participant.userId ? participant : p));
}

const notReady = (participants: readonly Participant[]) => participants.map((p) => (p.isReady ? { ...p, isReady: false } : p));

export function applyEvent(room: Room, event: RoomEvent): ApplyResult {
  // A snapshot is the whole room at its version: it replaces what the client had, whatever it was.
  if (event.__typename === 'RoomSnapshot') return { kind: 'applied', room: event.room };
  if (event.version <= room.version) return { kind: 'stale' };
  if (event.version !== room.version + 1) return { kind: 'gap' };
  const base = { ...room, version: event.version };
  switch (event.__typename) {
    case 'FieldSelected': {
      const selections = [...room.selections.filter((s) => s.field !== event.selection.field), event.selection].sort(byField);
      const participants = event.readinessReset ? notReady(room.participants) : room.participants;
      return { kind: 'applied', room: { ...base, selections, ...withParticipants(room, participants) } };
    }
    case 'FieldCleared': {
      const participants = event.readinessReset ? notReady(room.participants) : room.participants;
      return { kind: 'applied', room: { ...base, selections: room.selections.filter((s) => s.field !== event.field), ...withParticipants(room, participants) } };
    }
    case 'ParticipantJoined':
      return { kind: 'applied', room: { ...base, ...withParticipants(room, [...room.participants, event.participant]) } };
    case 'ParticipantLeft':
      return { kind: 'applied', room: { ...base, ...withParticipants(room, room.participants.filter((p) => p.userId !== event.participant.userId)) } };
    case 'ReadinessChanged':
    case 'PresenceChanged':
      return { kind: 'applied', room: { ...base, ...withParticipants(room, replaceParticipant(room, event.participant)) } };
    case 'RoomResolved':
      return { kind: 'applied', room: event.room };
  }
}
