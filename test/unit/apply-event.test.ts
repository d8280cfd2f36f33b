/** The SDK's reducer replays the server's events exactly as the server's rules made them. */
import { describe, expect, it } from 'vitest';
import { decide, type RoomCommand } from '../../src/domain/rules.js';
import { defaultLimits } from '../../src/domain/limits.js';
import { emptyRoom, noPresence, type RoomState, roomView } from '../../src/domain/room.js';
import type { RoomEvent as ServerEvent } from '../../src/domain/events.js';
import { applyEvent, type Room, type RoomEvent } from '../../src/sdk/apply-event.js';

// What a client receives: the server's views with the ids the GraphQL schema adds.
function clientRoom(state: RoomState): Room {
  const view = roomView(state);
  return {
    ...view,
    id: view.transactionId,
    selections: view.selections.map(({ transactionId, ...s }) => ({ ...s, id: `${transactionId}:${s.field}` })),
    participants: view.participants.map(({ transactionId, ...p }) => ({ ...p, id: `${transactionId}:${p.userId}` })),
  } as Room;
}
function clientEvent(event: ServerEvent): RoomEvent {
  const { type, ...rest } = event;
  const out: Record<string, unknown> = { __typename: type, ...rest };
  if ('selection' in event) out.selection = { ...event.selection, id: `${event.transactionId}:${event.selection.field}` };
  if ('participant' in event) out.participant = { ...event.participant, id: `${event.transactionId}:${event.participant.userId}` };
  if ('room' in event) {
    const r = event.room;
    out.room = {
      ...r,
      id: r.transactionId,
      selections: r.selections.map((s) => ({ ...s, id: `${r.transactionId}:${s.field}` })),
      participants: r.participants.map((p) => ({ ...p, id: `${r.transactionId}:${p.userId}` })),
    };
  }
  for (const value of [out.selection, out.participant] as Array<Record<string, unknown> | undefined>) if (value) delete value.transactionId;
  if (out.room) {
    const room = out.room as { selections: Array<Record<string, unknown>>; participants: Array<Record<string, unknown>> };
    room.selections.forEach((s) => delete s.transactionId);
    room.participants.forEach((p) => delete p.transactionId);
  }
  return out as unknown as RoomEvent;
}

const steps: Array<[string, RoomCommand]> = [
  ['alice', { kind: 'join', userName: 'Alice', presence: { online: true, seq: 1 } }],
  ['bob', { kind: 'join', userName: 'Bob', presence: noPresence }],
  ['alice', { kind: 'select', field: 'price', value: '45000' }],
  ['bob', { kind: 'setReady', isReady: true }],
  ['alice', { kind: 'select', field: 'condition', value: 'Like New' }],
  ['carol', { kind: 'join', userName: 'Carol', presence: noPresence }],
  ['carol', { kind: 'presence', marks: [{ userId: 'carol', online: true, seq: 2 }] }],
  ['alice', { kind: 'clear', field: 'price' }],
  ['carol', { kind: 'leave' }],
  ['alice', { kind: 'setReady', isReady: true }],
  ['bob', { kind: 'setReady', isReady: true }],
];

describe('applyEvent', () => {
  it('replaying every event from an empty room gives the server room at each step', () => {
    let server = emptyRoom('tx', 'e1');
    let client = clientRoom(server);
    let i = 0;
    for (const [userId, command] of steps) {
      const decision = decide(server, command, { userId, now: `2026-11-26T10:00:${String(i++).padStart(2, '0')}.000Z`, limits: defaultLimits });
      server = decision.room;
      for (const event of decision.events) {
        const outcome = applyEvent(client, clientEvent(event));
        expect(outcome.kind).toBe('applied');
        if (outcome.kind === 'applied') client = outcome.room;
      }
      expect(client).toEqual(clientRoom(server));
    }
    expect(client.status).toBe('RESOLVED');
  });

  it('drops duplicates and old events, reports a gap, and takes a snapshot whatever its version', () => {
    let server = emptyRoom('tx', 'e1');
    const events: ServerEvent[] = [];
    for (const [userId, command] of steps.slice(0, 3)) {
      const decision = decide(server, command, { userId, now: '2026-11-26T10:00:00.000Z', limits: defaultLimits });
      server = decision.room;
      events.push(...decision.events);
    }
    const at2 = clientRoom(decide(decide(emptyRoom('tx', 'e1'), steps[0]![1], { userId: 'alice', now: '2026-11-26T10:00:00.000Z', limits: defaultLimits }).room, steps[1]![1], { userId: 'bob', now: '2026-11-26T10:00:00.000Z', limits: defaultLimits }).room);
    expect(applyEvent(at2, clientEvent(events[1]!))).toEqual({ kind: 'stale' });
    expect(applyEvent(at2, clientEvent(events[0]!))).toEqual({ kind: 'stale' });
    expect(applyEvent(clientRoom(emptyRoom('tx', 'e1')), clientEvent(events[2]!))).toEqual({ kind: 'gap' });
    const snapshot = clientEvent({ type: 'RoomSnapshot', transactionId: 'tx', version: 1, at: '2026-11-26T10:00:00.000Z', userId: null, room: roomView({ ...emptyRoom('tx', 'e2'), version: 1 }) });
    expect(applyEvent(at2, snapshot)).toMatchObject({ kind: 'applied', room: { version: 1, epoch: 'e2' } });
  });
});
