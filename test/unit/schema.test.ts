/** The printed schema is committed, fresh, and keeps the public contract. */
import { readFileSync } from 'node:fs';
import { buildSchema, findBreakingChanges } from 'graphql';
import { describe, expect, it } from 'vitest';
import { printedSchema, schemaPath } from '../../src/schema/print.js';

const contractPath = new URL('../contract/schema.graphql', import.meta.url);

describe('schema.graphql', () => {
  it('is the schema the code prints (run `npm run schema:print` after changing src/schema)', () => {
    expect(readFileSync(schemaPath, 'utf8')).toBe(printedSchema());
  });

  it('breaks nothing in the public contract (test/contract/schema.graphql, a copy of ../shared/contract)', () => {
    const contract = buildSchema(readFileSync(contractPath, 'utf8'));
    const ours = buildSchema(printedSchema());
    expect(findBreakingChanges(contract, ours)).toEqual([]);
  });

  it('the contract check would catch a removed field', () => {
    const contract = buildSchema(readFileSync(contractPath, 'utf8'));
    const broken = buildSchema(printedSchema().replace(/^\s*resolvedAt: DateTime\n/m, ''));
    expect(findBreakingChanges(contract, broken).map((c) => c.description)).toEqual(['ConflictRoom.resolvedAt was removed.']);
  });
});
