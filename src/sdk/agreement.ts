/**
 * The agreement's digest for clients (SEMANTICS.md, "The agreement"): anyone holding the values can
 * recompute it. Web Crypto only, so it runs in browsers, React Native (with a crypto polyfill), Deno
 * and Node 20 alike. The server computes the same (test/unit/agreement.test.ts pins both to the
 * contract's test vector).
 */

/** The values the digest covers. */
export interface AgreementValues {
  transactionId: string;
  epoch: string;
  version: number;
  resolvedAt: string;
  selections: ReadonlyArray<{ field: string; value: string; userId: string }>;
  participants: ReadonlyArray<{ userId: string }>;
}

/** Code-point order (JavaScript's `<` compares UTF-16 units, which differs above U+FFFF). */
function compareCodePoints(a: string, b: string): number {
  const left = Array.from(a, (c) => c.codePointAt(0)!);
  const right = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(left.length, right.length); i++) if (left[i] !== right[i]) return left[i]! < right[i]! ? -1 : 1;
  return left.length - right.length < 0 ? -1 : left.length === right.length ? 0 : 1;
}

/** The canonical JSON the digest is taken over: no whitespace, the contract's key order and orders. */
export function canonicalAgreementJson(values: AgreementValues): string {
  return JSON.stringify({
    transactionId: values.transactionId,
    epoch: values.epoch,
    version: values.version,
    resolvedAt: values.resolvedAt,
    selections: [...values.selections].sort((a, b) => compareCodePoints(a.field, b.field)).map(({ field, value, userId }) => ({ field, value, userId })),
    participants: values.participants.map((p) => p.userId).sort(compareCodePoints),
  });
}

/** Lowercase hex SHA-256 of the canonical JSON's UTF-8 bytes. */
export async function agreementDigest(values: AgreementValues): Promise<string> {
  const bytes = new TextEncoder().encode(canonicalAgreementJson(values));
  const hash = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes));
  return Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join('');
}
