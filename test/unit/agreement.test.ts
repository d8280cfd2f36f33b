/** The agreement's digest is pinned to SEMANTICS.md's test vector, and the agreement is frozen at resolution. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { agreementDigest, canonicalAgreementJson, compareCodePoints } from '../../src/domain/agreement.js';
import { defaultLimits } from '../../src/domain/limits.js';
import { emptyRoom, noPresence, type RoomState } from '../../src/domain/room.js';
import { decide, type RoomCommand } from '../../src/domain/rules.js';

const vector = {
  transactionId: 'tx-42',
  epoch: 'e1',
  version: 9,
  resolvedAt: '2026-12-02T10:00:00.000Z',
  // Given out of order on purpose: the canonical form orders them.
  selections: [
    { field: 'price', value: '45 000 ₱ "firm"', userId: 'bob' },
    { field: 'condition', value: 'Like New', userId: 'alice' },
  ],
  participants: [{ userId: 'bob' }, { userId: 'alice' }],
};

describe('the agreement digest (SEMANTICS.md test vector)', () => {
  it('writes the canonical JSON exactly', () => {
    expect(canonicalAgreementJson(vector)).toBe(
      '{"transactionId":"tx-42","epoch":"e1","version":9,"resolvedAt":"2026-12-02T10:00:00.000Z","selections":[{"field":"condition","value":"Like New","userId":"alice"},{"field":"price","value":"45 000 ₱ \\"firm\\"","userId":"bob"}],"participants":["alice","bob"]}',
    );
  });

  it('is 4f8b314b…3fea', () => {
    expect(agreementDigest(vector)).toBe('4f8b314bc7a852964be8efc16dea5c5858cc0ebd848af2cbdd87e2eb3ed43fea');
  });

  it('is the SHA-256 of the UTF-8 bytes (₱ is three bytes)', () => {
    const bytes = Buffer.from(canonicalAgreementJson(vector), 'utf8');
    expect(bytes.length).toBe(Buffer.byteLength(canonicalAgreementJson(vector)));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(agreementDigest(vector));
  });

  it('orders by code point, not by UTF-16 unit', () => {
    // U+FFFD is one unit (0xFFFD); U+1F600 is two (0xD83D 0xDE00): by units it sorts first, by code points last.
    expect(['\u{1F600}', '\uFFFD'].sort()).toEqual(['\u{1F600}', '\uFFFD']);
    expect(['\u{1F600}', '\uFFFD'].sort(compareCodePoints)).toEqual(['\uFFFD', '\u{1F600}']);
    expect(compareCodePoints('a', 'ab')).toBe(-1);
    expect(compareCodePoints('ab', 'ab')).toBe(0);
    const json = canonicalAgreementJson({ ...vector, participants: [{ userId: '\u{1F600}' }, { userId: '\uFFFD' }] });
    expect(json.endsWith('"participants":["\uFFFD","\u{1F600}"]}')).toBe(true);
  });
});

describe('the agreement of a room', () => {
  const T0 = '2026-12-02T09:00:00.000Z';
  const T1 = '2026-12-02T10:00:00.000Z';
  const run = (room: RoomState, userId: string, command: RoomCommand, now = T0) => decide(room, command, { userId, now, limits: defaultLimits }).room;

  function resolvedRoom(): RoomState {
    let room = emptyRoom('tx-42', 'e1');
    room = run(room, 'bob', { kind: 'join', userName: 'Bob', presence: { online: true, seq: 1 } });
    room = run(room, 'alice', { kind: 'join', userName: 'Alice', presence: noPresence });
    room = run(room, 'alice', { kind: 'select', field: 'condition', value: 'Like New' });
    room = run(room, 'bob', { kind: 'select', field: 'price', value: '45 000 ₱ "firm"' });
    room = run(room, 'alice', { kind: 'presence', marks: [{ userId: 'alice', online: true, seq: 2 }] });
    room = run(room, 'alice', { kind: 'presence', marks: [{ userId: 'alice', online: false, seq: 3 }] });
    room = run(room, 'alice', { kind: 'setReady', isReady: true });
    return run(room, 'bob', { kind: 'setReady', isReady: true }, T1);
  }

  it('is null while OPEN and holds the values of the RoomResolved version once RESOLVED', () => {
    expect(emptyRoom('tx', 'e').agreement ?? null).toBeNull();
    const room = resolvedRoom();
    expect(room.version).toBe(9);
    expect(room.agreement).toEqual({
      transactionId: 'tx-42',
      epoch: 'e1',
      version: 9,
      resolvedAt: T1,
      // The same values as the contract's test vector, so the same digest.
      digest: '4f8b314bc7a852964be8efc16dea5c5858cc0ebd848af2cbdd87e2eb3ed43fea',
      selections: room.selections,
      participants: [
        { transactionId: 'tx-42', userId: 'bob', name: 'Bob', isReady: true, online: true, joinedAt: T0 },
        { transactionId: 'tx-42', userId: 'alice', name: 'Alice', isReady: true, online: false, joinedAt: T0 },
      ],
    });
  });

  it('never changes after: presence flips and rejoins leave it as it was', () => {
    const resolved = resolvedRoom();
    let room = run(resolved, 'alice', { kind: 'presence', marks: [{ userId: 'alice', online: true, seq: 4 }] });
    room = run(room, 'bob', { kind: 'presence', marks: [{ userId: 'bob', online: false, seq: 5 }] });
    room = run(room, 'bob', { kind: 'join', userName: 'Bobby', presence: noPresence });
    expect(room.version).toBe(11);
    expect(room.participants.map((p) => [p.userId, p.online])).toEqual([
      ['bob', false],
      ['alice', true],
    ]);
    expect(room.agreement).toEqual(resolved.agreement);
  });
});
