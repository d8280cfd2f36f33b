import * as rooms from '../resolvers/rooms.js';
import { builder } from './builder.js';
import { ConflictRoomEvent, ConflictRoomHistory } from './events.js';
import { ConflictRoom } from './room.js';

builder.queryType({
  fields: (t) => ({
    conflictRoom: t.field({
      type: ConflictRoom,
      description:
        'The room of one transaction as it stands now: every current selection and every participant. A room nobody has touched comes back empty, version 0, status OPEN.',
      args: { transactionId: t.arg.id({ required: true }) },
      resolve: (_root, args, ctx) => rooms.conflictRoom(args, ctx),
    }),
    conflictRoomHistory: t.field({
      type: ConflictRoomHistory,
      description:
        "The room's whole history in version order, for audits and disputes: every event of the current epoch after afterVersion, at most `first` of them (1 to 500). Allowed to whoever may see the room.",
      args: {
        transactionId: t.arg.id({ required: true }),
        afterVersion: t.arg.int({ defaultValue: 0 }),
        first: t.arg.int({ defaultValue: 100 }),
      },
      resolve: (_root, args, ctx) => rooms.conflictRoomHistory(args, ctx),
    }),
  }),
});

builder.mutationType({
  fields: (t) => ({
    joinConflictRoom: t.field({
      type: ConflictRoom,
      description: "Join, or rejoin, the room as the caller. Idempotent: rejoining keeps the caller's readiness and everyone's selections.",
      args: { transactionId: t.arg.id({ required: true }), userName: t.arg.string() },
      resolve: (_root, args, ctx) => rooms.joinConflictRoom(args, ctx),
    }),
    selectField: t.field({
      type: ConflictRoom,
      description:
        "Set one field's value. Resets every participant's readiness. With expectedVersion, succeeds only while the field's current selection has that version (0: the field has no selection); otherwise VERSION_CONFLICT. A retry carrying the requestId of a mutation that already succeeded makes no new event and returns the room as it is now.",
      args: {
        transactionId: t.arg.id({ required: true }),
        field: t.arg.string({ required: true }),
        value: t.arg.string({ required: true }),
        expectedVersion: t.arg.int(),
        requestId: t.arg.id(),
      },
      resolve: (_root, args, ctx) => rooms.selectField(args, ctx),
    }),
    clearField: t.field({
      type: ConflictRoom,
      description: "Remove one field's selection. Same readiness, expectedVersion and requestId rules as selectField.",
      args: {
        transactionId: t.arg.id({ required: true }),
        field: t.arg.string({ required: true }),
        expectedVersion: t.arg.int(),
        requestId: t.arg.id(),
      },
      resolve: (_root, args, ctx) => rooms.clearField(args, ctx),
    }),
    setReady: t.field({
      type: ConflictRoom,
      description: 'Mark the caller ready or not ready. When at least two participants are in the room and all of them are ready, the room becomes RESOLVED.',
      args: { transactionId: t.arg.id({ required: true }), isReady: t.arg.boolean({ required: true }), requestId: t.arg.id() },
      resolve: (_root, args, ctx) => rooms.setReady(args, ctx),
    }),
    leaveConflictRoom: t.field({
      type: ConflictRoom,
      description: "Leave the room. The caller's selections stay; the caller stops counting for readiness.",
      args: { transactionId: t.arg.id({ required: true }) },
      resolve: (_root, args, ctx) => rooms.leaveConflictRoom(args, ctx),
    }),
  }),
});

builder.subscriptionType({
  fields: (t) => ({
    conflictRoomEvents: t.field({
      type: ConflictRoomEvent,
      description:
        "The room's events in version order, each exactly once. With afterVersion: first every event after that version (or one RoomSnapshot when the log no longer reaches back that far, or when epoch is given and is not the room's), then live events, with no gap and no duplicate. Without it: live events from now on.",
      args: { transactionId: t.arg.id({ required: true }), afterVersion: t.arg.int(), epoch: t.arg.string() },
      subscribe: (_root, args, ctx) => rooms.conflictRoomEvents(args, ctx),
      resolve: (event) => {
        if (event.type === 'StreamFailure') throw event.error;
        return event;
      },
    }),
  }),
});
