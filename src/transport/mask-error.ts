/**
 * Where errors become what clients see: DomainErrors keep their contract code, graphql's own errors
 * (syntax, validation, variable values) get BAD_USER_INPUT with their specific reason beside it, and
 * everything else is masked.
 */
import { type ExecutionResult, GraphQLError } from 'graphql';
import { maskError as yogaMaskError, type Plugin } from 'graphql-yoga';
import { DomainError, ErrorCode } from '../errors.js';

const contractCodes = new Set<unknown>(Object.values(ErrorCode));

/**
 * The codes graphql and yoga give a request the client must fix (syntax, validation, a malformed or
 * oversized body): the contract has one code for those, BAD_USER_INPUT, and keeps theirs as `reason`.
 */
const clientFaultCodes = new Set<unknown>(['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST', 'REQUEST_ENTITY_TOO_LARGE', 'OPERATION_RESOLUTION_FAILURE']);

/** graphql's and yoga's own errors are the client's to fix; a parser's own text (originalError) is never echoed. */
export function withContractCode(error: GraphQLError): GraphQLError {
  // graphql-jit's errors may have no extensions at all.
  const reason = error.extensions?.['code'];
  const { originalError, ...extensions } = error.extensions ?? {};
  if (contractCodes.has(reason) && originalError === undefined) return error;
  if (reason !== undefined && !contractCodes.has(reason) && !clientFaultCodes.has(reason)) return error;
  return new GraphQLError(error.message, {
    ...(error.nodes ? { nodes: error.nodes } : {}),
    ...(error.source ? { source: error.source } : {}),
    ...(error.positions ? { positions: error.positions } : {}),
    ...(error.path ? { path: error.path } : {}),
    extensions: contractCodes.has(reason) ? extensions : { ...extensions, code: ErrorCode.BadUserInput, ...(reason ? { reason } : {}) },
  });
}

export function maskError(error: unknown, message: string): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof DomainError) {
    const located = error instanceof GraphQLError ? error : undefined;
    const masked = new GraphQLError(original.message, {
      ...(located?.nodes ? { nodes: located.nodes } : {}),
      ...(located?.path ? { path: located.path } : {}),
      extensions: { code: original.code, ...original.details },
    });
    // graphql-jit's errors carry their locations already computed, without the AST nodes.
    if (!located?.nodes && located?.locations) Object.assign(masked, { locations: located.locations });
    return masked;
  }
  if (error instanceof GraphQLError && !error.originalError) return withContractCode(error);
  // graphql-js's refusal of a variable's value (say, an Int out of range) keeps the scalar's own error
  // as originalError; it is the client's to fix, as over HTTP (a subscription's variables over
  // graphql-ws arrive here). It has no path: a resolver's error always has one.
  if (error instanceof GraphQLError && !error.path && error.message.startsWith('Variable "$')) {
    return withContractCode(new GraphQLError(error.message, { ...(error.nodes ? { nodes: error.nodes } : {}), extensions: error.extensions }));
  }
  // Never reveal internals, whatever NODE_ENV says.
  return yogaMaskError(error, message, false);
}

/** Yoga returns validation and variable errors without masking them: give them their code too. */
export function useContractErrorCodes(): Plugin {
  const withCodes = (result: ExecutionResult): ExecutionResult =>
    result.errors ? { ...result, errors: result.errors.map((e) => withContractCode(e)) } : result;
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result)) setResult(result.map(withCodes));
      else if (!(Symbol.asyncIterator in (result as object))) setResult(withCodes(result as ExecutionResult));
    },
  };
}

/**
 * True for errors meant for the client (they carry a code), which are not worth an error log line:
 * DomainErrors, and graphql's and yoga's own errors (syntax, limits, malformed bodies), which anyone
 * can cause at will.
 */
export function isClientError(error: unknown): boolean {
  if (error instanceof GraphQLError && error.originalError === undefined) return true;
  return (error instanceof GraphQLError ? error.originalError : error) instanceof DomainError;
}
