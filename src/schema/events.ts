import type { FieldCleared as FieldClearedShape, FieldSelected as FieldSelectedShape, ParticipantEvent, RoomEvent, RoomEventWithRoom } from '../domain/events.js';
import { builder } from './builder.js';
import { ConflictRoom, FieldSelection, Participant } from './room.js';

export const ConflictRoomEvent = builder.interfaceRef<RoomEvent>('ConflictRoomEvent').implement({
  description: "One change to a room. version is the room's version after the change.",
  resolveType: (event) => event.type,
  fields: (t) => ({
    transactionId: t.exposeID('transactionId'),
    version: t.exposeInt('version'),
    at: t.expose('at', { type: 'DateTime' }),
    userId: t.exposeID('userId', {
      nullable: true,
      description: "The user whose action (or connection) caused the event; null when the server caused it.",
    }),
  }),
});

const readinessReset = 'True when this change reset the readiness of at least one participant.';

builder.objectRef<FieldSelectedShape>('FieldSelected').implement({
  interfaces: [ConflictRoomEvent],
  fields: (t) => ({
    selection: t.field({ type: FieldSelection, resolve: (e) => e.selection }),
    readinessReset: t.exposeBoolean('readinessReset', { description: readinessReset }),
  }),
});

builder.objectRef<FieldClearedShape>('FieldCleared').implement({
  interfaces: [ConflictRoomEvent],
  fields: (t) => ({
    field: t.exposeString('field'),
    readinessReset: t.exposeBoolean('readinessReset', { description: readinessReset }),
  }),
});

for (const name of ['ParticipantJoined', 'ParticipantLeft', 'ReadinessChanged', 'PresenceChanged'] as const) {
  builder.objectRef<ParticipantEvent>(name).implement({
    interfaces: [ConflictRoomEvent],
    fields: (t) => ({ participant: t.field({ type: Participant, resolve: (e) => e.participant }) }),
  });
}

builder.objectRef<RoomEventWithRoom>('RoomResolved').implement({
  interfaces: [ConflictRoomEvent],
  fields: (t) => ({
    room: t.field({
      type: ConflictRoom,
      description: 'The room as resolved: its selections are the agreed, final values.',
      resolve: (e) => e.room,
    }),
  }),
});

builder.objectRef<RoomEventWithRoom>('RoomSnapshot').implement({
  interfaces: [ConflictRoomEvent],
  fields: (t) => ({
    room: t.field({
      type: ConflictRoom,
      description: 'The whole room at this version; sent when a resume reaches back past the log.',
      resolve: (e) => e.room,
    }),
  }),
});

/** A page of a room's history: the same event shapes the subscription sends. */
export interface HistoryShape {
  transactionId: string;
  epoch: string;
  events: RoomEvent[];
  hasMore: boolean;
}

export const ConflictRoomHistory = builder.objectRef<HistoryShape>('ConflictRoomHistory').implement({
  fields: (t) => ({
    transactionId: t.exposeID('transactionId'),
    epoch: t.exposeString('epoch'),
    events: t.field({ type: [ConflictRoomEvent], resolve: (h) => h.events }),
    hasMore: t.exposeBoolean('hasMore', { description: 'True when events after the last one returned exist.' }),
  }),
});
