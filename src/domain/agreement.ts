/**
 * The agreement: what a room's parties agreed to, frozen at the RoomResolved event, and its digest
 * (SEMANTICS.md, "The agreement"). Pure: the digest is a hash of values, not I/O.
 */
import { createHash } from 'node:crypto';
import type { Instant, ParticipantView, Selection } from './room.js';

export interface Agreement {
  transactionId: string;
  epoch: string;
  /** The RoomResolved event's version. */
  version: number;
  resolvedAt: Instant;
  /** Lowercase hex SHA-256 of `canonicalAgreementJson`. */
  digest: string;
  /** Ordered by field name (code-point order), as the room had them. */
  selections: Selection[];
  /** Each participant as at the RoomResolved event (`online` included), in join order. */
  participants: ParticipantView[];
}

/** The values the digest covers: anyone holding them can recompute it. */
export interface AgreementValues {
  transactionId: string;
  epoch: string;
  version: number;
  resolvedAt: Instant;
  selections: ReadonlyArray<{ field: string; value: string; userId: string }>;
  participants: ReadonlyArray<{ userId: string }>;
}

/**
 * Code-point order. JavaScript's `<` compares UTF-16 units, which puts U+FFFF after U+10000's
 * surrogates; user ids may hold either, and the digest must not depend on that accident.
 */
export function compareCodePoints(a: string, b: string): number {
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const x = left.next();
    const y = right.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

/**
 * The canonical JSON of SEMANTICS.md: no whitespace, keys in exactly this order, selections by field
 * and participants' user ids in code-point order. JSON.stringify escapes strings as the contract asks
 * and keeps non-ASCII characters as themselves.
 */
export function canonicalAgreementJson(values: AgreementValues): string {
  const selections = [...values.selections]
    .sort((a, b) => compareCodePoints(a.field, b.field))
    .map(({ field, value, userId }) => ({ field, value, userId }));
  const participants = values.participants.map((p) => p.userId).sort(compareCodePoints);
  return JSON.stringify({
    transactionId: values.transactionId,
    epoch: values.epoch,
    version: values.version,
    resolvedAt: values.resolvedAt,
    selections,
    participants,
  });
}

/** Lowercase hex SHA-256 of the canonical JSON's UTF-8 bytes. */
export function agreementDigest(values: AgreementValues): string {
  return createHash('sha256').update(canonicalAgreementJson(values), 'utf8').digest('hex');
}

/** The agreement of a room at its RoomResolved event. */
export function makeAgreement(values: Omit<Agreement, 'digest'>): Agreement {
  return { ...values, digest: agreementDigest(values) };
}
