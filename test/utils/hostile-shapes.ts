/** The hostile document shapes of issue 8, shared by its tests, its fuzz test and bench/hostile.ts. */

/** `levels` fragments, each spreading the previous one twice: 2^levels paths to one field. */
export function fragmentDoubling(levels: number, salt = ''): string {
  let document = `query Q${salt} { conflictRoom(transactionId: "tx-1") { ...F${levels} } } fragment F0 on ConflictRoom { version }`;
  for (let i = 1; i <= levels; i++) document += ` fragment F${i} on ConflictRoom { ...F${i - 1} ...F${i - 1} }`;
  return document;
}

/** `count` aliases of conflictRoom. */
export const aliases = (count: number, salt = '') =>
  `{ ${Array.from({ length: count }, (_, i) => `a${salt}${i}:conflictRoom(transactionId:"t"){version}`).join(' ')} }`;

/** Selection sets nested `levels` deep ({a{a{a…}}}): the parser recurses once per level. */
export const nestedBraces = (levels: number) => `${'{a'.repeat(levels)}${'}'.repeat(levels)}`;

/** One field with `count` directives. */
export const manyDirectives = (count: number, salt = '') =>
  `{ conflictRoom(transactionId: "t${salt}") { version ${'@include(if: true) '.repeat(count)} } }`;

/** A document of roughly `bytes` bytes of distinct aliases (the probe's 550 KB alias documents). */
export const bigAliasDocument = (bytes: number, salt: string) => aliases(Math.ceil(bytes / 45), salt);
