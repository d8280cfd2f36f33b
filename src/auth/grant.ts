/**
 * The strict reader of a transactions grant: the development header `x-user-transactions`, the
 * graphql-ws `connectionParams.transactions`, and (later) the JWT `transactions` claim all go through
 * parseTransactionGrant. A grant narrows what a caller may see, so a malformed one must grant nothing:
 * reading it leniently (an empty header, a string where a list belongs) used to grant every room.
 */

/** What a grant allows: every transaction, or exactly the listed ones (possibly none). */
export type TransactionGrant = { all: true } | { all: false; transactions: readonly string[] };

/** Grants nothing: what any malformed grant becomes. */
export const grantsNothing: TransactionGrant = Object.freeze({ all: false, transactions: Object.freeze([]) });

/** The most transaction ids one grant may list; a longer list is malformed (and grants nothing). */
export const maxGrantedTransactions = 1000;

// The characters of a transactionId (SEMANTICS.md "Input rules"), up to the largest configurable length.
const transactionId = /^[A-Za-z0-9_\-.:]{1,1024}$/;

/**
 * Reads a grant given as a list: `["*"]` grants everything; otherwise every entry must be a
 * transaction id. Anything else (not an array, an empty array, a non-string or malformed entry, more
 * than {@link maxGrantedTransactions} entries, `"*"` beside other ids) grants nothing.
 */
export function parseTransactionGrant(value: unknown): TransactionGrant {
  if (!Array.isArray(value) || value.length === 0 || value.length > maxGrantedTransactions) return grantsNothing;
  if (value.length === 1 && value[0] === '*') return { all: true };
  if (!value.every((id): id is string => typeof id === 'string' && transactionId.test(id))) return grantsNothing;
  return { all: false, transactions: Object.freeze([...new Set(value)]) };
}

/**
 * Reads a grant given as a comma-separated header value (`tx-1,tx-2`, or `*`). Spaces around the
 * commas are allowed; an empty value or an empty entry (`tx-1,,tx-2`, a trailing comma) is malformed.
 */
export function parseTransactionGrantHeader(value: string): TransactionGrant {
  return parseTransactionGrant(value.split(',').map((entry) => entry.trim()));
}
