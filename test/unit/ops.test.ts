/** The small pieces of src/ops: the drain's bookkeeping, the cached readiness, request ids, bounded labels. */
import { describe, expect, it } from 'vitest';
import { Drain } from '../../src/ops/drain.js';
import { requestIdFrom } from '../../src/ops/http.js';
import { BoundedNames, contractCode } from '../../src/ops/metrics.js';
import { Readiness } from '../../src/ops/readiness.js';
import { DomainError, ErrorCode } from '../../src/errors.js';
import { GraphQLError } from 'graphql';

describe('Drain', () => {
  it('idle() resolves true when the last piece of work leaves, and a second leave counts nothing', async () => {
    const drain = new Drain();
    expect(await drain.idle(10)).toBe(true);
    const leaveA = drain.enter();
    const leaveB = drain.enter();
    const idle = drain.idle(5000);
    leaveA();
    leaveA();
    expect(drain.pending).toBe(1);
    leaveB();
    expect(await idle).toBe(true);
    expect(drain.pending).toBe(0);
  });

  it('idle() resolves false after its timeout when work is still under way', async () => {
    const drain = new Drain();
    drain.enter();
    const started = Date.now();
    expect(await drain.idle(50)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(drain.pending).toBe(1);
  });

  it('begin() flips isDraining for good', () => {
    const drain = new Drain();
    expect(drain.isDraining).toBe(false);
    drain.begin();
    expect(drain.isDraining).toBe(true);
  });
});

describe('Readiness', () => {
  it('follows the ping: answers after a success, not after a failure or a ping that hangs past the timeout', async () => {
    let mode: 'ok' | 'fail' | 'hang' = 'ok';
    const changes: boolean[] = [];
    const readiness = new Readiness({
      ping: () => (mode === 'ok' ? Promise.resolve() : mode === 'fail' ? Promise.reject(new Error('down')) : new Promise<void>(() => undefined)),
      intervalMs: 10,
      timeoutMs: 30,
      onChange: (answers) => changes.push(answers),
    });
    await readiness.start();
    expect(readiness.storeAnswers).toBe(true);
    mode = 'fail';
    await until(() => !readiness.storeAnswers);
    mode = 'ok';
    await until(() => readiness.storeAnswers);
    mode = 'hang';
    await until(() => !readiness.storeAnswers);
    readiness.stop();
    expect(changes).toEqual([true, false, true, false]);
  });
});

async function until(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('request ids', () => {
  it('keeps a sane incoming x-request-id and replaces anything else with a UUID', () => {
    expect(requestIdFrom('req-1.a_b:c')).toBe('req-1.a_b:c');
    expect(requestIdFrom(['first', 'second'])).toBe('first');
    for (const bad of [undefined, '', 'has space', 'x'.repeat(129), 'quote"', '{"json":1}', 'é']) {
      expect(requestIdFrom(bad)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });
});

describe('metric labels', () => {
  it('the first 100 operation names are labels, later ones "other", none "anonymous"', () => {
    const names = new BoundedNames(3);
    expect(['A', 'B', undefined, 'C', 'D', 'A'].map((n) => names.label(n))).toEqual(['A', 'B', 'anonymous', 'C', 'other', 'A']);
    // A long name takes no slot: it is "other" at once, and a short one after it is still a label.
    const long = new BoundedNames(3);
    expect([`N${'x'.repeat(64)}`, `N${'x'.repeat(63)}`, 'Short'].map((n) => long.label(n))).toEqual(['other', `N${'x'.repeat(63)}`, 'Short']);
  });

  it('errors are labelled with the contract code the client sees', () => {
    const domain = new GraphQLError('x', { originalError: new DomainError(ErrorCode.NotAParticipant, 'join first') });
    expect(contractCode(domain)).toBe('NOT_A_PARTICIPANT');
    expect(contractCode(new GraphQLError('Cannot query field', { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }))).toBe('BAD_USER_INPUT');
    expect(contractCode(new GraphQLError('boom', { originalError: new Error('internal detail') }))).toBe('INTERNAL_SERVER_ERROR');
  });
});
