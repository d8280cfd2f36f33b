import { describe, it, expect } from 'vitest';
import { decide, type Decision, type DecisionContext, type RoomCommand } from '../../src/domain/rules.js';
import { emptyRoom, noPresence, type ParticipantState, type RoomState, type Selection } from '../../src/domain/room.js';
import type { RoomEvent } from '../../src/domain/events.js';
import { agreementDigest } from '../../src/domain/agreement.js';
import {
  checkExpectedVersion,
  checkField,
  checkRequestId,
  checkTransactionId,
  checkUserName,
  checkValue,
  defaultLimits,
  type Limits,
} from '../../src/domain/limits.js';
import { DomainError } from '../../src/errors.js';
import { thrownDomainError as thrown } from '../utils/errors.js';

// ---------------------------------------------------------------------------------------------------------------
// Helpers: rooms are built by applying commands with `decide`, at a fixed instant (T0) on instance "i1".
// The command under test runs at T1, so that `at`, `selectedAt`, `joinedAt` and `resolvedAt` show which
// command's clock they came from.
// ---------------------------------------------------------------------------------------------------------------

const TX = 'tx-42';
const EPOCH = 'epoch-1';
const T0 = '2024-05-01T10:00:00.000Z';
const T1 = '2024-05-01T10:05:00.000Z';

function ctx(userId: string, overrides: Partial<DecisionContext> = {}): DecisionContext {
  return { userId, now: T0, limits: defaultLimits, ...overrides };
}

type Step = readonly [userId: string, command: RoomCommand];

function build(steps: readonly Step[], start: RoomState = emptyRoom(TX, EPOCH)): RoomState {
  return steps.reduce((room, [userId, command]) => decide(room, command, ctx(userId)).room, start);
}

/** The command under test: at T1 on instance i1 (or as overridden). */
function act(room: RoomState, userId: string, command: RoomCommand, overrides: Partial<DecisionContext> = {}): Decision {
  return decide(room, command, ctx(userId, { now: T1, ...overrides }));
}

/** `online`: the caller already held a subscription (presence mark seq 1) when joining. */
const join = (userName: string, online = false): RoomCommand => ({ kind: 'join', userName, presence: online ? ONLINE : noPresence });
const leave: RoomCommand = { kind: 'leave' };
const select = (field: string, value: string, expectedVersion?: number): RoomCommand =>
  expectedVersion === undefined ? { kind: 'select', field, value } : { kind: 'select', field, value, expectedVersion };
const clear = (field: string, expectedVersion?: number): RoomCommand =>
  expectedVersion === undefined ? { kind: 'clear', field } : { kind: 'clear', field, expectedVersion };
const ready = (isReady = true): RoomCommand => ({ kind: 'setReady', isReady });
const ONLINE = { online: true, seq: 1 };
/** One user's presence mark. */
const mark = (userId: string, online: boolean, seq: number, byServer = false): RoomCommand => ({
  kind: 'presence',
  marks: [{ userId, online, seq }],
  ...(byServer ? { byServer } : {}),
});

/** Alice (u1), Bob (u2) and, optionally, Carol (u3) joined in that order at T0: versions 1, 2, 3. */
const ALICE_BOB: Step[] = [
  ['u1', join('Alice')],
  ['u2', join('Bob')],
];
const ALICE_BOB_CAROL: Step[] = [...ALICE_BOB, ['u3', join('Carol')]];

function participant(userId: string, name: string, extra: Partial<ParticipantState> = {}): ParticipantState {
  return { userId, name, isReady: false, joinedAt: T0, online: false, presenceSeq: 0, ...extra };
}

function view(userId: string, name: string, extra: { isReady?: boolean; online?: boolean; joinedAt?: string } = {}) {
  return { transactionId: TX, userId, name, isReady: false, online: false, joinedAt: T0, ...extra };
}

function selection(field: string, value: string, userId: string, userName: string, version: number, selectedAt = T0): Selection {
  return { transactionId: TX, field, value, userId, userName, selectedAt, version };
}

function expectDomainError(fn: () => unknown, code: string, details?: Record<string, unknown>): DomainError {
  const error = thrown(fn);
  expect(error.code).toBe(code);
  if (details !== undefined) expect(error.details).toEqual(details);
  expect(error.message.length).toBeGreaterThan(0);
  return error;
}

function expectNoOp(room: RoomState, decision: Decision): void {
  expect(decision.changed).toBe(false);
  expect(decision.events).toEqual([]);
  expect(decision.room).toBe(room);
}

/** Runs the command on a deep-frozen room, so that any mutation of the input throws. */
function frozen(room: RoomState): RoomState {
  const freeze = <T>(value: T): T => {
    if (value && typeof value === 'object') {
      Object.values(value).forEach(freeze);
      Object.freeze(value);
    }
    return value;
  };
  return freeze(structuredClone(room));
}

// ---------------------------------------------------------------------------------------------------------------

describe('join', () => {
  it('the first join makes version 1 with a ParticipantJoined event', () => {
    const room = emptyRoom(TX, EPOCH);
    const decision = act(frozen(room), 'u1', join('Alice'));
    expect(decision.changed).toBe(true);
    expect(decision.room).toEqual({
      transactionId: TX,
      epoch: EPOCH,
      version: 1,
      status: 'OPEN',
      resolvedAt: null,
      selections: [],
      participants: [participant('u1', 'Alice', { joinedAt: T1 })],
    });
    expect(decision.events).toEqual<RoomEvent[]>([
      {
        type: 'ParticipantJoined',
        transactionId: TX,
        version: 1,
        at: T1,
        userId: 'u1',
        participant: view('u1', 'Alice', { joinedAt: T1 }),
      },
    ]);
  });

  it('orders participants by the time each joined, each join adding one version', () => {
    const room = build(ALICE_BOB);
    const decision = act(room, 'u3', join('Carol'));
    expect(decision.room.version).toBe(3);
    expect(decision.room.participants).toEqual([
      participant('u1', 'Alice'),
      participant('u2', 'Bob'),
      participant('u3', 'Carol', { joinedAt: T1 }),
    ]);
    expect(decision.events).toEqual([
      { type: 'ParticipantJoined', transactionId: TX, version: 3, at: T1, userId: 'u3', participant: view('u3', 'Carol', { joinedAt: T1 }) },
    ]);
  });

  it('joining again is a no-op: changed=false, no event, the same room', () => {
    const room = build(ALICE_BOB);
    expectNoOp(room, act(room, 'u1', join('Alice')));
    expectNoOp(room, act(room, 'u1', join('Another name', true)));
  });

  it('a join by a user whose presence mark is online makes an online participant', () => {
    const room = build([['u1', join('Alice')]]);
    const decision = act(room, 'u2', join('Bob', true));
    expect(decision.room.participants[1]).toEqual(participant('u2', 'Bob', { joinedAt: T1, online: true, presenceSeq: 1 }));
    expect(decision.events).toEqual([
      {
        type: 'ParticipantJoined',
        transactionId: TX,
        version: 2,
        at: T1,
        userId: 'u2',
        participant: view('u2', 'Bob', { joinedAt: T1, online: true }),
      },
    ]);
  });

  it('refuses a participant beyond the limit with LIMIT_EXCEEDED and details.limit', () => {
    const steps: Step[] = Array.from({ length: 16 }, (_, i) => [`u${i + 1}`, join(`User ${i + 1}`)] as const);
    const full = build(steps);
    expect(full.participants).toHaveLength(16);
    expect(full.version).toBe(16);
    expectDomainError(() => act(full, 'u17', join('Late')), 'LIMIT_EXCEEDED', { limit: 16 });
    // Someone already in the full room joining again is still a no-op, not an error.
    expectNoOp(full, act(full, 'u16', join('User 16')));
  });

  it('uses the configured participant limit', () => {
    const limits: Limits = { ...defaultLimits, maxParticipants: 2 };
    const room = build(ALICE_BOB);
    expectDomainError(() => act(room, 'u3', join('Carol'), { limits }), 'LIMIT_EXCEEDED', { limit: 2 });
  });
});

describe('leave', () => {
  it('fails with NOT_A_PARTICIPANT for a user who is not in the room', () => {
    expectDomainError(() => act(emptyRoom(TX, EPOCH), 'u1', leave), 'NOT_A_PARTICIPANT');
    const room = build([...ALICE_BOB, ['u2', leave]]);
    expectDomainError(() => act(room, 'u2', leave), 'NOT_A_PARTICIPANT');
    expectDomainError(() => act(room, 'u9', leave), 'NOT_A_PARTICIPANT');
  });

  it('removes the participant with a ParticipantLeft event (offline) and keeps their selections', () => {
    const room = build([
      ['u1', join('Alice', true)],
      ['u2', join('Bob')],
      ['u1', select('price', '45000')],
    ]);
    const decision = act(frozen(room), 'u1', leave);
    expect(decision.changed).toBe(true);
    expect(decision.room).toEqual({
      transactionId: TX,
      epoch: EPOCH,
      version: 4,
      status: 'OPEN',
      resolvedAt: null,
      selections: [selection('price', '45000', 'u1', 'Alice', 3)],
      participants: [participant('u2', 'Bob')],
    });
    expect(decision.events).toEqual([
      { type: 'ParticipantLeft', transactionId: TX, version: 4, at: T1, userId: 'u1', participant: view('u1', 'Alice', { online: false }) },
    ]);
  });

  it('a user who left may join again, at the end of the participants', () => {
    const room = build([...ALICE_BOB, ['u1', leave]]);
    const decision = act(room, 'u1', join('Alice'));
    expect(decision.room.version).toBe(4);
    expect(decision.room.participants.map((p) => p.userId)).toEqual(['u2', 'u1']);
  });

  it('resolves the room when the remaining two or more are all ready: ParticipantLeft then RoomResolved', () => {
    const room = build([...ALICE_BOB_CAROL, ['u1', ready()], ['u2', ready()]]);
    expect(room.status).toBe('OPEN');
    expect(room.version).toBe(5);
    const decision = act(room, 'u3', leave);
    const participants = [participant('u1', 'Alice', { isReady: true }), participant('u2', 'Bob', { isReady: true })];
    const views = [view('u1', 'Alice', { isReady: true }), view('u2', 'Bob', { isReady: true })];
    const agreement = {
      transactionId: TX,
      epoch: EPOCH,
      version: 7,
      resolvedAt: T1,
      digest: agreementDigest({ transactionId: TX, epoch: EPOCH, version: 7, resolvedAt: T1, selections: [], participants: views }),
      selections: [],
      participants: views,
    };
    expect(decision.room).toEqual({
      transactionId: TX,
      epoch: EPOCH,
      version: 7,
      status: 'RESOLVED',
      resolvedAt: T1,
      selections: [],
      participants,
      agreement,
    });
    expect(decision.events).toEqual([
      { type: 'ParticipantLeft', transactionId: TX, version: 6, at: T1, userId: 'u3', participant: view('u3', 'Carol') },
      {
        type: 'RoomResolved',
        transactionId: TX,
        version: 7,
        at: T1,
        userId: 'u3',
        room: {
          transactionId: TX,
          version: 7,
          epoch: EPOCH,
          status: 'RESOLVED',
          selections: [],
          participants: views,
          allReady: true,
          resolvedAt: T1,
          agreement,
        },
      },
    ]);
  });

  it('does not resolve when only one ready participant remains', () => {
    const room = build([...ALICE_BOB, ['u1', ready()]]);
    const decision = act(room, 'u2', leave);
    expect(decision.room.status).toBe('OPEN');
    expect(decision.room.resolvedAt).toBeNull();
    expect(decision.room.version).toBe(4);
    expect(decision.events.map((e) => e.type)).toEqual(['ParticipantLeft']);
  });
});

describe('select', () => {
  it('fails with NOT_A_PARTICIPANT for a user who is not in the room', () => {
    const room = build(ALICE_BOB);
    expectDomainError(() => act(room, 'u9', select('price', '1')), 'NOT_A_PARTICIPANT');
    const left = build([...ALICE_BOB, ['u2', leave]]);
    expectDomainError(() => act(left, 'u2', select('price', '1')), 'NOT_A_PARTICIPANT');
  });

  it('sets a selection at the event version with the participant name, and a FieldSelected event', () => {
    const room = build(ALICE_BOB);
    const decision = act(frozen(room), 'u2', select('condition', 'Like New'));
    const expected = selection('condition', 'Like New', 'u2', 'Bob', 3, T1);
    expect(decision.changed).toBe(true);
    expect(decision.room).toEqual({
      transactionId: TX,
      epoch: EPOCH,
      version: 3,
      status: 'OPEN',
      resolvedAt: null,
      selections: [expected],
      participants: [participant('u1', 'Alice'), participant('u2', 'Bob')],
    });
    expect(decision.events).toEqual([
      { type: 'FieldSelected', transactionId: TX, version: 3, at: T1, userId: 'u2', selection: expected, readinessReset: false },
    ]);
  });

  it('takes userName from the participant, not from anything else', () => {
    const room = build([['u1', join('Alice Original')], ['u1', join('Renamed')]]);
    const decision = act(room, 'u1', select('price', '100'));
    expect(decision.room.selections).toEqual([selection('price', '100', 'u1', 'Alice Original', 2, T1)]);
  });

  it('orders selections by field name in code-point order ("Zeta" < "alpha" < "beta")', () => {
    const room = build([
      ...ALICE_BOB,
      ['u1', select('beta', 'b')],
      ['u2', select('alpha', 'a')],
      ['u1', select('Zeta', 'z')],
      ['u2', select('alpha2', 'a2')],
      ['u1', select('Alpha', 'A')],
    ]);
    expect(room.selections).toEqual([
      selection('Alpha', 'A', 'u1', 'Alice', 7),
      selection('Zeta', 'z', 'u1', 'Alice', 5),
      selection('alpha', 'a', 'u2', 'Bob', 4),
      selection('alpha2', 'a2', 'u2', 'Bob', 6),
      selection('beta', 'b', 'u1', 'Alice', 3),
    ]);
  });

  it('the last writer wins: a new value replaces the field in place with the new version and writer', () => {
    const room = build([...ALICE_BOB, ['u1', select('beta', 'b')], ['u1', select('alpha', 'a')], ['u1', select('gamma', 'g')]]);
    const decision = act(room, 'u2', select('beta', 'B2'));
    const replaced = selection('beta', 'B2', 'u2', 'Bob', 6, T1);
    expect(decision.room.version).toBe(6);
    expect(decision.room.selections).toEqual([
      selection('alpha', 'a', 'u1', 'Alice', 4),
      replaced,
      selection('gamma', 'g', 'u1', 'Alice', 5),
    ]);
    expect(decision.events).toEqual([
      { type: 'FieldSelected', transactionId: TX, version: 6, at: T1, userId: 'u2', selection: replaced, readinessReset: false },
    ]);
  });

  it('an empty value is a value', () => {
    const room = build(ALICE_BOB);
    const decision = act(room, 'u1', select('note', ''));
    expect(decision.room.selections).toEqual([selection('note', '', 'u1', 'Alice', 3, T1)]);
  });

  it('choosing the value the field already holds is a no-op, even when someone else chose it', () => {
    const room = build([...ALICE_BOB, ['u1', select('price', '45000')], ['u2', ready()]]);
    expectNoOp(room, act(room, 'u1', select('price', '45000')));
    expectNoOp(room, act(room, 'u2', select('price', '45000')));
    // No readiness reset either: Bob stays ready.
    expect(room.participants[1]?.isReady).toBe(true);
    // With the matching expectedVersion it is a no-op too.
    expectNoOp(room, act(room, 'u2', select('price', '45000', 3)));
  });

  it('fails with VERSION_CONFLICT and details.currentVersion when expectedVersion does not match', () => {
    const room = build([...ALICE_BOB, ['u1', select('price', '100')], ['u2', select('price', '200')]]);
    expect(room.version).toBe(4);
    expectDomainError(() => act(room, 'u1', select('price', '300', 3)), 'VERSION_CONFLICT', { currentVersion: 4 });
    expectDomainError(() => act(room, 'u1', select('price', '300', 0)), 'VERSION_CONFLICT', { currentVersion: 4 });
    expectDomainError(() => act(room, 'u1', select('price', '300', 5)), 'VERSION_CONFLICT', { currentVersion: 4 });
    // An empty field is at version 0.
    expectDomainError(() => act(room, 'u1', select('quantity', '1', 2)), 'VERSION_CONFLICT', { currentVersion: 0 });
  });

  it('the version check comes first: a mismatch fails even when the write would be a no-op', () => {
    const room = build([...ALICE_BOB, ['u1', select('price', '100')]]);
    expectDomainError(() => act(room, 'u2', select('price', '100', 1)), 'VERSION_CONFLICT', { currentVersion: 3 });
    expectDomainError(() => act(room, 'u2', select('price', '100', 0)), 'VERSION_CONFLICT', { currentVersion: 3 });
  });

  it('expectedVersion 0 on an empty field succeeds; a matching version succeeds', () => {
    const room = build(ALICE_BOB);
    const first = act(room, 'u1', select('price', '100', 0));
    expect(first.room.selections).toEqual([selection('price', '100', 'u1', 'Alice', 3, T1)]);
    const second = act(first.room, 'u2', select('price', '200', 3));
    expect(second.room.selections).toEqual([selection('price', '200', 'u2', 'Bob', 4, T1)]);
    expect(second.events).toEqual([
      {
        type: 'FieldSelected',
        transactionId: TX,
        version: 4,
        at: T1,
        userId: 'u2',
        selection: selection('price', '200', 'u2', 'Bob', 4, T1),
        readinessReset: false,
      },
    ]);
  });

  it('the field version is the version of the event that set it, not the room version', () => {
    const room = build([...ALICE_BOB, ['u1', select('price', '100')], ['u2', select('condition', 'New')]]);
    expect(room.version).toBe(4);
    const decision = act(room, 'u2', select('price', '150', 3));
    expect(decision.room.version).toBe(5);
    expect(decision.room.selections.find((s) => s.field === 'price')?.version).toBe(5);
  });

  it('resets the readiness of every participant and says so with readinessReset=true', () => {
    const room = build([...ALICE_BOB_CAROL, ['u1', ready()], ['u2', ready()]]);
    const decision = act(frozen(room), 'u3', select('price', '45000'));
    expect(decision.room.participants).toEqual([participant('u1', 'Alice'), participant('u2', 'Bob'), participant('u3', 'Carol')]);
    expect(decision.events).toEqual([
      {
        type: 'FieldSelected',
        transactionId: TX,
        version: 6,
        at: T1,
        userId: 'u3',
        selection: selection('price', '45000', 'u3', 'Carol', 6, T1),
        readinessReset: true,
      },
    ]);
  });

  it('readinessReset is true when only the writer was ready, false when nobody was', () => {
    const one = build([...ALICE_BOB, ['u1', ready()]]);
    const d1 = act(one, 'u1', select('price', '1'));
    expect(d1.events[0]).toMatchObject({ type: 'FieldSelected', readinessReset: true });
    expect(d1.room.participants.map((p) => p.isReady)).toEqual([false, false]);

    const none = build(ALICE_BOB);
    const d2 = act(none, 'u1', select('price', '1'));
    expect(d2.events[0]).toMatchObject({ type: 'FieldSelected', readinessReset: false });
    expect(d2.room.participants).toEqual(none.participants);
  });

  it('LIMIT_EXCEEDED only for a new field beyond the field limit', () => {
    const steps: Step[] = [...ALICE_BOB];
    for (let i = 0; i < 100; i++) steps.push(['u1', select(`f${String(i).padStart(3, '0')}`, 'v')]);
    const room = build(steps);
    expect(room.selections).toHaveLength(100);
    expect(room.version).toBe(102);
    expectDomainError(() => act(room, 'u2', select('extra', 'v')), 'LIMIT_EXCEEDED', { limit: 100 });
    // An existing field may still change, and clearing one makes room for a new one.
    const changed = act(room, 'u2', select('f050', 'w'));
    expect(changed.room.version).toBe(103);
    expect(changed.room.selections).toHaveLength(100);
    const cleared = act(changed.room, 'u2', clear('f000'));
    const added = act(cleared.room, 'u2', select('extra', 'v'));
    expect(added.room.selections).toHaveLength(100);
    expect(added.room.version).toBe(105);
  });

  it('uses the configured field limit', () => {
    const limits: Limits = { ...defaultLimits, maxFields: 1 };
    const room = build([...ALICE_BOB, ['u1', select('a', '1')]]);
    expectDomainError(() => act(room, 'u1', select('b', '1'), { limits }), 'LIMIT_EXCEEDED', { limit: 1 });
    expect(act(room, 'u1', select('a', '2'), { limits }).room.selections).toEqual([selection('a', '2', 'u1', 'Alice', 4, T1)]);
  });
});

describe('clear', () => {
  it('fails with NOT_A_PARTICIPANT for a user who is not in the room', () => {
    const room = build([...ALICE_BOB, ['u1', select('price', '1')]]);
    expectDomainError(() => act(room, 'u9', clear('price')), 'NOT_A_PARTICIPANT');
  });

  it('clearing an empty field is a no-op', () => {
    const room = build([...ALICE_BOB, ['u1', select('price', '1')], ['u2', ready()]]);
    expectNoOp(room, act(room, 'u1', clear('condition')));
    expectNoOp(room, act(room, 'u1', clear('condition', 0)));
  });

  it('removes the selection (anyone may clear anyone\'s) with a FieldCleared event', () => {
    const room = build([...ALICE_BOB, ['u1', select('price', '1')], ['u1', select('condition', 'New')]]);
    const decision = act(frozen(room), 'u2', clear('price'));
    expect(decision.changed).toBe(true);
    expect(decision.room).toEqual({
      transactionId: TX,
      epoch: EPOCH,
      version: 5,
      status: 'OPEN',
      resolvedAt: null,
      selections: [selection('condition', 'New', 'u1', 'Alice', 4)],
      participants: [participant('u1', 'Alice'), participant('u2', 'Bob')],
    });
    expect(decision.events).toEqual([
      { type: 'FieldCleared', transactionId: TX, version: 5, at: T1, userId: 'u2', field: 'price', readinessReset: false },
    ]);
  });

  it('resets the readiness of every participant with readinessReset=true', () => {
    const room = build([...ALICE_BOB_CAROL, ['u1', select('price', '1')], ['u1', ready()], ['u3', ready()]]);
    const decision = act(room, 'u2', clear('price'));
    expect(decision.room.participants).toEqual([participant('u1', 'Alice'), participant('u2', 'Bob'), participant('u3', 'Carol')]);
    expect(decision.events).toEqual([
      { type: 'FieldCleared', transactionId: TX, version: 7, at: T1, userId: 'u2', field: 'price', readinessReset: true },
    ]);
  });

  it('checks expectedVersion first, with details.currentVersion', () => {
    const room = build([...ALICE_BOB, ['u1', select('price', '1')]]);
    expectDomainError(() => act(room, 'u2', clear('price', 2)), 'VERSION_CONFLICT', { currentVersion: 3 });
    expectDomainError(() => act(room, 'u2', clear('price', 0)), 'VERSION_CONFLICT', { currentVersion: 3 });
    // A mismatch on an empty field fails although clearing it would be a no-op.
    expectDomainError(() => act(room, 'u2', clear('condition', 3)), 'VERSION_CONFLICT', { currentVersion: 0 });
    const decision = act(room, 'u2', clear('price', 3));
    expect(decision.room.selections).toEqual([]);
    expect(decision.events).toEqual([
      { type: 'FieldCleared', transactionId: TX, version: 4, at: T1, userId: 'u2', field: 'price', readinessReset: false },
    ]);
  });

  it('after a clear the field is at version 0 again', () => {
    const room = build([...ALICE_BOB, ['u1', select('price', '1')], ['u1', clear('price')]]);
    expectDomainError(() => act(room, 'u2', select('price', '2', 3)), 'VERSION_CONFLICT', { currentVersion: 0 });
    expect(act(room, 'u2', select('price', '2', 0)).room.selections).toEqual([selection('price', '2', 'u2', 'Bob', 5, T1)]);
  });
});

describe('setReady and resolution', () => {
  it('fails with NOT_A_PARTICIPANT for a user who is not in the room', () => {
    const room = build(ALICE_BOB);
    expectDomainError(() => act(room, 'u9', ready()), 'NOT_A_PARTICIPANT');
    expectDomainError(() => act(room, 'u9', ready(false)), 'NOT_A_PARTICIPANT');
  });

  it('setting readiness to what it already is is a no-op', () => {
    const room = build([...ALICE_BOB, ['u2', ready()]]);
    expectNoOp(room, act(room, 'u1', ready(false)));
    expectNoOp(room, act(room, 'u2', ready(true)));
  });

  it('a change makes one ReadinessChanged event', () => {
    const room = build(ALICE_BOB);
    const decision = act(frozen(room), 'u1', ready());
    expect(decision.changed).toBe(true);
    expect(decision.room).toEqual({
      transactionId: TX,
      epoch: EPOCH,
      version: 3,
      status: 'OPEN',
      resolvedAt: null,
      selections: [],
      participants: [participant('u1', 'Alice', { isReady: true }), participant('u2', 'Bob')],
    });
    expect(decision.events).toEqual([
      { type: 'ReadinessChanged', transactionId: TX, version: 3, at: T1, userId: 'u1', participant: view('u1', 'Alice', { isReady: true }) },
    ]);

    const back = act(decision.room, 'u1', ready(false));
    expect(back.room.participants).toEqual([participant('u1', 'Alice'), participant('u2', 'Bob')]);
    expect(back.events).toEqual([
      { type: 'ReadinessChanged', transactionId: TX, version: 4, at: T1, userId: 'u1', participant: view('u1', 'Alice', { isReady: false }) },
    ]);
  });

  it('a single ready participant does not resolve the room', () => {
    const room = build([['u1', join('Alice')]]);
    const decision = act(room, 'u1', ready());
    expect(decision.room.status).toBe('OPEN');
    expect(decision.room.resolvedAt).toBeNull();
    expect(decision.room.version).toBe(2);
    expect(decision.events.map((e) => e.type)).toEqual(['ReadinessChanged']);
  });

  it('resolves when at least two participants are all ready: ReadinessChanged then RoomResolved, two versions', () => {
    const room = build([
      ['u1', join('Alice', true)],
      ['u2', join('Bob')],
      ['u1', select('price', '45000')],
      ['u2', select('condition', 'Like New')],
      ['u1', ready()],
    ]);
    expect(room.version).toBe(5);
    const decision = act(frozen(room), 'u2', ready());
    const selections = [selection('condition', 'Like New', 'u2', 'Bob', 4), selection('price', '45000', 'u1', 'Alice', 3)];
    const views = [view('u1', 'Alice', { isReady: true, online: true }), view('u2', 'Bob', { isReady: true })];
    // The digest of these values, as SEMANTICS.md's canonical JSON gives it (see agreement.test.ts).
    const agreement = {
      transactionId: TX,
      epoch: EPOCH,
      version: 7,
      resolvedAt: T1,
      digest: agreementDigest({ transactionId: TX, epoch: EPOCH, version: 7, resolvedAt: T1, selections, participants: views }),
      selections,
      participants: views,
    };
    expect(decision.changed).toBe(true);
    expect(decision.room).toEqual({
      transactionId: TX,
      epoch: EPOCH,
      version: 7,
      status: 'RESOLVED',
      resolvedAt: T1,
      selections,
      participants: [participant('u1', 'Alice', { isReady: true, online: true, presenceSeq: 1 }), participant('u2', 'Bob', { isReady: true })],
      agreement,
    });
    expect(decision.events).toEqual([
      { type: 'ReadinessChanged', transactionId: TX, version: 6, at: T1, userId: 'u2', participant: view('u2', 'Bob', { isReady: true }) },
      {
        type: 'RoomResolved',
        transactionId: TX,
        version: 7,
        at: T1,
        userId: 'u2',
        room: {
          transactionId: TX,
          version: 7,
          epoch: EPOCH,
          status: 'RESOLVED',
          selections,
          participants: views,
          allReady: true,
          resolvedAt: T1,
          agreement,
        },
      },
    ]);
  });

  it('with three participants, resolves only when the third is ready too', () => {
    const room = build([...ALICE_BOB_CAROL, ['u1', ready()], ['u2', ready()]]);
    expect(room.status).toBe('OPEN');
    const decision = act(room, 'u3', ready());
    expect(decision.events.map((e) => [e.type, e.version])).toEqual([
      ['ReadinessChanged', 6],
      ['RoomResolved', 7],
    ]);
    expect(decision.room.status).toBe('RESOLVED');
  });

  it('a resolved room refuses select, clear and setReady with ROOM_RESOLVED', () => {
    const room = build([...ALICE_BOB, ['u1', select('price', '1')], ['u1', ready()], ['u2', ready()]]);
    expect(room.status).toBe('RESOLVED');
    expect(room.version).toBe(6);
    expectDomainError(() => act(room, 'u1', select('price', '2')), 'ROOM_RESOLVED');
    expectDomainError(() => act(room, 'u1', select('condition', 'New')), 'ROOM_RESOLVED');
    expectDomainError(() => act(room, 'u2', clear('price')), 'ROOM_RESOLVED');
    expectDomainError(() => act(room, 'u1', ready(false)), 'ROOM_RESOLVED');
    expectDomainError(() => act(room, 'u2', ready(true)), 'ROOM_RESOLVED');
  });
});

describe('a resolved room', () => {
  it('refuses new participants and leaves, while a rejoin stays a no-op', () => {
    let room = emptyRoom('tx-resolved', 'e1');
    for (const [userId, command] of [
      ['alice', { kind: 'join', userName: 'Alice', presence: noPresence }],
      ['bob', { kind: 'join', userName: 'Bob', presence: noPresence }],
      ['alice', { kind: 'setReady', isReady: true }],
      ['bob', { kind: 'setReady', isReady: true }],
    ] as const) {
      room = decide(room, command, { userId, now: '2026-11-26T10:00:00.000Z', limits: defaultLimits }).room;
    }
    expect(room.status).toBe('RESOLVED');
    const ctx = (userId: string) => ({ userId, now: '2026-11-26T10:00:01.000Z', limits: defaultLimits });
    expect(() => decide(room, { kind: 'join', userName: 'Carol', presence: noPresence }, ctx('carol'))).toThrow(
      expect.objectContaining({ code: 'ROOM_RESOLVED' }),
    );
    expect(() => decide(room, { kind: 'leave' }, ctx('alice'))).toThrow(expect.objectContaining({ code: 'ROOM_RESOLVED' }));
    const rejoin = decide(room, { kind: 'join', userName: 'Alice', presence: noPresence }, ctx('alice'));
    expect(rejoin).toEqual({ room, events: [], changed: false });
    // Presence still works: people keep watching a resolved room.
    expect(decide(room, mark('bob', true, 5), ctx('bob')).events.map((e) => e.type)).toEqual(['PresenceChanged']);
  });
});

describe('presence (marks)', () => {
  it('a non-participant mark changes nothing', () => {
    const room = build(ALICE_BOB);
    expectNoOp(room, act(room, 'watcher', mark('watcher', true, 5)));
    expectNoOp(room, act(room, 'watcher', mark('watcher', false, 6)));
  });

  it('a newer online mark flips the participant online with a PresenceChanged event', () => {
    const room = build(ALICE_BOB);
    const decision = act(frozen(room), 'u2', mark('u2', true, 5));
    expect(decision.changed).toBe(true);
    expect(decision.room).toEqual({
      ...room,
      version: 3,
      participants: [participant('u1', 'Alice'), participant('u2', 'Bob', { online: true, presenceSeq: 5 })],
    });
    expect(decision.events).toEqual([
      { type: 'PresenceChanged', transactionId: TX, version: 3, at: T1, userId: 'u2', participant: view('u2', 'Bob', { online: true }) },
    ]);
  });

  it('a mark the participant already has, or an older one, is a no-op', () => {
    const room = build([...ALICE_BOB, ['u1', mark('u1', true, 5)]]);
    expectNoOp(room, act(room, 'u1', mark('u1', true, 5)));
    expectNoOp(room, act(room, 'u1', mark('u1', false, 4)));
    expectNoOp(room, act(room, 'u1', mark('u1', false, 5)));
  });

  it('a newer mark that does not flip is recorded (changed=true) without an event or a new version', () => {
    const room = build([...ALICE_BOB, ['u1', mark('u1', true, 5)]]);
    const decision = act(room, 'u1', mark('u1', true, 7));
    expect(decision.changed).toBe(true);
    expect(decision.events).toEqual([]);
    expect(decision.room).toEqual({ ...room, participants: [participant('u1', 'Alice', { online: true, presenceSeq: 7 }), participant('u2', 'Bob')] });
    // The older flip (offline at 6) arriving late can no longer undo it.
    expectNoOp(decision.room, act(decision.room, 'u1', mark('u1', false, 6)));
  });

  it('flips that arrive out of order end on the newest: offline at 6 after online at 7 is ignored', () => {
    const room = build([...ALICE_BOB, ['u1', mark('u1', true, 5)]]);
    const late = act(room, 'u1', mark('u1', true, 7));
    const early = act(late.room, 'u1', mark('u1', false, 6));
    expect(early.room.participants[0]).toMatchObject({ online: true, presenceSeq: 7 });
    // In order, the same flips make two events.
    const first = act(room, 'u1', mark('u1', false, 6));
    const second = act(first.room, 'u1', mark('u1', true, 7));
    expect([...first.events, ...second.events].map((e) => [e.version, (e as { participant: { online: boolean } }).participant.online])).toEqual([
      [4, false],
      [5, true],
    ]);
  });

  it('an offline mark makes PresenceChanged with online false', () => {
    const room = build([...ALICE_BOB, ['u1', mark('u1', true, 5)]]);
    const decision = act(room, 'u1', mark('u1', false, 6));
    expect(decision.room).toEqual({ ...room, version: 4, participants: [participant('u1', 'Alice', { presenceSeq: 6 }), participant('u2', 'Bob')] });
    expect(decision.events).toEqual([
      { type: 'PresenceChanged', transactionId: TX, version: 4, at: T1, userId: 'u1', participant: view('u1', 'Alice', { online: false }) },
    ]);
  });

  it('a sweep writes several marks in one step: one event per flip, in order, with no userId (the server did it)', () => {
    const room = build([...ALICE_BOB_CAROL, ['u1', mark('u1', true, 5)], ['u3', mark('u3', true, 6)]]);
    const decision = act(room, 'server', {
      kind: 'presence',
      byServer: true,
      marks: [
        { userId: 'u1', online: false, seq: 8 },
        { userId: 'u2', online: false, seq: 0 },
        { userId: 'u3', online: false, seq: 9 },
        { userId: 'gone', online: false, seq: 10 },
      ],
    });
    expect(decision.events).toEqual([
      { type: 'PresenceChanged', transactionId: TX, version: 6, at: T1, userId: null, participant: view('u1', 'Alice') },
      { type: 'PresenceChanged', transactionId: TX, version: 7, at: T1, userId: null, participant: view('u3', 'Carol') },
    ]);
    expect(decision.room.version).toBe(7);
    expect(decision.room.participants.map((p) => [p.userId, p.online, p.presenceSeq])).toEqual([
      ['u1', false, 8],
      ['u2', false, 0],
      ['u3', false, 9],
    ]);
  });

  it('a participant who joined online goes offline with a newer mark', () => {
    const room = build([['u1', join('Alice', true)]]);
    expect(room.participants).toEqual([participant('u1', 'Alice', { online: true, presenceSeq: 1 })]);
    expectNoOp(room, act(room, 'u1', mark('u1', true, 1)));
    const decision = act(room, 'u1', mark('u1', false, 2));
    expect(decision.events).toEqual([
      { type: 'PresenceChanged', transactionId: TX, version: 2, at: T1, userId: 'u1', participant: view('u1', 'Alice') },
    ]);
  });

  it('presence keeps the participants in join order and does not touch readiness', () => {
    const room = build([...ALICE_BOB_CAROL, ['u2', ready()]]);
    const decision = act(room, 'u2', mark('u2', true, 5));
    expect(decision.room.participants).toEqual([
      participant('u1', 'Alice'),
      participant('u2', 'Bob', { isReady: true, online: true, presenceSeq: 5 }),
      participant('u3', 'Carol'),
    ]);
  });

  it('a room stored before presence marks (no online, no presenceSeq) reads as offline and takes any mark', () => {
    const legacy = build(ALICE_BOB);
    const old = { ...legacy, participants: legacy.participants.map(({ online: _o, presenceSeq: _s, ...rest }) => rest as ParticipantState) };
    const decision = act(old, 'u1', mark('u1', true, 1));
    expect(decision.events.map((e) => e.type)).toEqual(['PresenceChanged']);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Input rules (limits.ts)
// ---------------------------------------------------------------------------------------------------------------

function expectBadInput(fn: () => unknown, argumentName: string): void {
  expectDomainError(fn, 'BAD_USER_INPUT', { argumentName });
}

describe('checkTransactionId', () => {
  it('accepts 1 to 128 characters of A-Z a-z 0-9 _ - . :', () => {
    for (const id of ['a', 'Z', '0', '_', '-', '.', ':', 'AZaz09_-.:', 'tx:2024.05-01_x', 'x'.repeat(128)]) {
      expect(checkTransactionId(id, defaultLimits)).toBe(id);
    }
  });

  it('refuses the empty string and 129 characters', () => {
    expectBadInput(() => checkTransactionId('', defaultLimits), 'transactionId');
    expectBadInput(() => checkTransactionId('x'.repeat(129), defaultLimits), 'transactionId');
  });

  it('refuses any other character', () => {
    for (const id of ['a b', ' a', 'a/b', 'a#b', 'a,b', 'é', 'a\n', 'a\u0000', 'tx+1', '{tx}', 'a*', '😀']) {
      expectBadInput(() => checkTransactionId(id, defaultLimits), 'transactionId');
    }
  });

  it('uses the configured length', () => {
    const limits = { ...defaultLimits, transactionIdMaxLength: 4 };
    expect(checkTransactionId('abcd', limits)).toBe('abcd');
    expectBadInput(() => checkTransactionId('abcde', limits), 'transactionId');
  });
});

describe('checkField', () => {
  it('accepts 1 to 64 characters, a letter first, then letters, digits, _ - .', () => {
    for (const field of ['a', 'Z', 'price', 'meetingLocation', 'a1', 'a_b-c.d', 'Zeta_2', 'a'.repeat(64)]) {
      expect(checkField(field, defaultLimits)).toBe(field);
    }
  });

  it('refuses the empty string and 65 characters', () => {
    expectBadInput(() => checkField('', defaultLimits), 'field');
    expectBadInput(() => checkField('a'.repeat(65), defaultLimits), 'field');
  });

  it('refuses a first character that is not a letter', () => {
    for (const field of ['1a', '_a', '-a', '.a', ' a', 'é']) {
      expectBadInput(() => checkField(field, defaultLimits), 'field');
    }
  });

  it('refuses characters other than letters, digits, _ - .', () => {
    for (const field of ['a:b', 'a b', 'a/b', 'a$', 'aé', 'a\n', 'price!']) {
      expectBadInput(() => checkField(field, defaultLimits), 'field');
    }
  });

  it('uses the configured length', () => {
    const limits = { ...defaultLimits, fieldMaxLength: 3 };
    expect(checkField('abc', limits)).toBe('abc');
    expectBadInput(() => checkField('abcd', limits), 'field');
  });
});

describe('checkValue', () => {
  it('accepts any string of at most 1,024 characters, the empty string included', () => {
    for (const value of ['', 'iPhone 13', 'line 1\nline 2', 'ünïcödé 😀', 'v'.repeat(1024)]) {
      expect(checkValue(value, defaultLimits)).toBe(value);
    }
  });

  it('refuses 1,025 characters', () => {
    expectBadInput(() => checkValue('v'.repeat(1025), defaultLimits), 'value');
  });

  it('uses the configured length', () => {
    const limits = { ...defaultLimits, valueMaxLength: 2 };
    expect(checkValue('ab', limits)).toBe('ab');
    expectBadInput(() => checkValue('abc', limits), 'value');
  });
});

describe('checkUserName', () => {
  it('counts characters as people do: an emoji is one', () => {
    const emoji = '\u{1F600}';
    expect(checkUserName(emoji.repeat(64), defaultLimits)).toBe(emoji.repeat(64));
    expect(() => checkUserName(emoji.repeat(65), defaultLimits)).toThrow(/at most|1 to 64/);
    expect(checkValue(emoji.repeat(1024), defaultLimits)).toBe(emoji.repeat(1024));
    expect(() => checkValue(emoji.repeat(1025), defaultLimits)).toThrow(/at most 1024/);
  });

  it('returns the trimmed name', () => {
    expect(checkUserName('  Alice  ', defaultLimits)).toBe('Alice');
    expect(checkUserName('\tBob Smith\n', defaultLimits)).toBe('Bob Smith');
    expect(checkUserName('Zoë', defaultLimits)).toBe('Zoë');
    expect(checkUserName('A', defaultLimits)).toBe('A');
  });

  it('counts the length after trimming: 64 accepted, 65 refused', () => {
    const name64 = 'n'.repeat(64);
    expect(checkUserName(name64, defaultLimits)).toBe(name64);
    expect(checkUserName(`   ${name64}   `, defaultLimits)).toBe(name64);
    expectBadInput(() => checkUserName('n'.repeat(65), defaultLimits), 'userName');
  });

  it('refuses a name that is empty after trimming', () => {
    for (const name of ['', ' ', '   ', '\t\n']) {
      expectBadInput(() => checkUserName(name, defaultLimits), 'userName');
    }
  });

  it('refuses control characters (C0, DEL, C1)', () => {
    for (const name of ['Al\u0000ice', 'Al\tice', 'Al\nice', 'A\u0007', 'A\u001b[31m', 'A\u007f', 'A\u0080', 'A\u0085B', 'A\u009f']) {
      expectBadInput(() => checkUserName(name, defaultLimits), 'userName');
    }
  });

  it('names the argument it checks', () => {
    expectBadInput(() => checkUserName('', defaultLimits, 'x-user-name'), 'x-user-name');
  });

  it('uses the configured length', () => {
    const limits = { ...defaultLimits, userNameMaxLength: 3 };
    expect(checkUserName(' Bob ', limits)).toBe('Bob');
    expectBadInput(() => checkUserName('Bobby', limits), 'userName');
  });
});

describe('checkExpectedVersion and checkRequestId', () => {
  it('expectedVersion: absent is undefined, 0 and more pass, negative is refused', () => {
    expect(checkExpectedVersion(undefined)).toBeUndefined();
    expect(checkExpectedVersion(null)).toBeUndefined();
    expect(checkExpectedVersion(0)).toBe(0);
    expect(checkExpectedVersion(7)).toBe(7);
    expectBadInput(() => checkExpectedVersion(-1), 'expectedVersion');
  });

  it('requestId: absent is undefined, 1 to 128 characters without control characters pass', () => {
    expect(checkRequestId(undefined)).toBeUndefined();
    expect(checkRequestId(null)).toBeUndefined();
    expect(checkRequestId('r')).toBe('r');
    expect(checkRequestId('r'.repeat(128))).toBe('r'.repeat(128));
    expectBadInput(() => checkRequestId(''), 'requestId');
    expectBadInput(() => checkRequestId('r'.repeat(129)), 'requestId');
    expectBadInput(() => checkRequestId('r\n1'), 'requestId');
  });
});
