import type { Agreement as AgreementShape } from '../domain/agreement.js';
import type { ParticipantView, RoomView, Selection } from '../domain/room.js';
import { builder } from './builder.js';

builder.scalarType('DateTime', {
  description: 'An instant in UTC as an ISO-8601 string, e.g. 2026-11-26T10:00:00.000Z.',
  serialize: (value) => value,
  parseValue: (value) => {
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw new TypeError('DateTime must be an ISO-8601 string');
    return new Date(value).toISOString();
  },
});

export const ConflictRoomStatus = builder.enumType('ConflictRoomStatus', { values: ['OPEN', 'RESOLVED'] as const });

export const FieldSelection = builder.objectRef<Selection>('FieldSelection').implement({
  fields: (t) => ({
    id: t.id({ description: 'transactionId + ":" + field', resolve: (s) => `${s.transactionId}:${s.field}` }),
    field: t.exposeString('field'),
    value: t.exposeString('value'),
    userId: t.exposeID('userId'),
    userName: t.exposeString('userName'),
    selectedAt: t.expose('selectedAt', { type: 'DateTime' }),
    version: t.exposeInt('version', { description: 'The room version of the event that set this value.' }),
  }),
});

/**
 * Participant.id: each part percent-encoded (encodeURIComponent), joined by ":". Encoded parts hold no
 * ":", so the id is unique: room "tx:a" + user "b" is "tx%3Aa:b", room "tx" + user "a:b" is "tx:a%3Ab".
 * Ids whose parts need no encoding (tx-1, alice) read as before: "tx-1:alice".
 */
export const participantId = (transactionId: string, userId: string) => `${encodeURIComponent(transactionId)}:${encodeURIComponent(userId)}`;

export const Participant = builder.objectRef<ParticipantView>('Participant').implement({
  fields: (t) => ({
    id: t.id({
      description: 'encodeURIComponent(transactionId) + ":" + encodeURIComponent(userId): unique, and stable for a participant.',
      resolve: (p) => participantId(p.transactionId, p.userId),
    }),
    userId: t.exposeID('userId'),
    name: t.exposeString('name'),
    isReady: t.exposeBoolean('isReady'),
    online: t.exposeBoolean('online', {
      description: 'True while the participant holds at least one open conflictRoomEvents subscription, on any server instance.',
    }),
    joinedAt: t.expose('joinedAt', { type: 'DateTime' }),
  }),
});

export const Agreement = builder.objectRef<AgreementShape>('Agreement').implement({
  description: "What the parties agreed: the room's final values once it is RESOLVED.",
  fields: (t) => ({
    transactionId: t.exposeID('transactionId'),
    epoch: t.exposeString('epoch', { description: 'The epoch of the room that resolved; part of the digest.' }),
    digest: t.exposeString('digest', {
      description: 'Lowercase hex SHA-256 of the agreement\'s canonical JSON (SEMANTICS.md, "The agreement").',
    }),
    version: t.exposeInt('version', { description: 'The room version of the RoomResolved event.' }),
    resolvedAt: t.expose('resolvedAt', { type: 'DateTime' }),
    selections: t.field({ type: [FieldSelection], description: 'The final selections, ordered by field name.', resolve: (a) => a.selections }),
    participants: t.field({
      type: [Participant],
      description: 'The participants as at the RoomResolved event (online included), in join order.',
      resolve: (a) => a.participants,
    }),
  }),
});

export const ConflictRoom = builder.objectRef<RoomView>('ConflictRoom').implement({
  fields: (t) => ({
    id: t.id({ description: 'Equal to transactionId, so normalized client caches can key the room.', resolve: (r) => r.transactionId }),
    transactionId: t.exposeID('transactionId'),
    version: t.exposeInt('version', { description: '0 for an untouched room; grows by exactly 1 with every event.' }),
    epoch: t.exposeString('epoch', {
      description: 'Names this history of the room. It changes when the room starts over (after it expired, or its data was lost).',
    }),
    status: t.field({ type: ConflictRoomStatus, resolve: (r) => r.status }),
    selections: t.field({
      type: [FieldSelection],
      description: 'One per field that has a value, ordered by field name.',
      resolve: (r) => r.selections,
    }),
    selection: t.field({
      type: FieldSelection,
      nullable: true,
      args: { field: t.arg.string({ required: true }) },
      resolve: (r, { field }) => r.selections.find((s) => s.field === field) ?? null,
    }),
    participants: t.field({ type: [Participant], description: 'Ordered by the time each joined.', resolve: (r) => r.participants }),
    allReady: t.exposeBoolean('allReady', { description: 'True when at least two participants are in the room and every one is ready.' }),
    resolvedAt: t.expose('resolvedAt', { type: 'DateTime', nullable: true }),
    agreement: t.field({ type: Agreement, nullable: true, description: 'Null while OPEN.', resolve: (r) => r.agreement }),
  }),
});
