/** The one place where errors become what clients see: DomainErrors keep their code, the rest is masked. */
import { GraphQLError } from 'graphql';
import { maskError as yogaMaskError } from 'graphql-yoga';
import { DomainError } from '../errors.js';

export function maskError(error: unknown, message: string): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof DomainError) {
    const located = error instanceof GraphQLError ? error : undefined;
    return new GraphQLError(original.message, {
      ...(located?.nodes ? { nodes: located.nodes } : {}),
      ...(located?.path ? { path: located.path } : {}),
      extensions: { code: original.code, ...original.details },
    });
  }
  // Never reveal internals, whatever NODE_ENV says.
  return yogaMaskError(error, message, false);
}

/** True for errors meant for the client (they carry a code), which are not worth an error log line. */
export function isClientError(error: unknown): boolean {
  return (error instanceof GraphQLError ? error.originalError : error) instanceof DomainError;
}
