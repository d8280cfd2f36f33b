/**
 * What every query and mutation leaves behind, on HTTP and graphql-ws alike (both run yoga's plugins):
 * it counts as work in flight for the drain, it is counted by name and outcome, and a failed one
 * writes one log line with its request id and contract code (never its variables or credentials).
 */
import { getOperationAST, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../logger.js';
import type { Drain } from './drain.js';
import { contractCode, type Metrics } from './metrics.js';

/** Codes that mean the service, not the caller, failed: logged as warnings. */
const serviceFaults = new Set(['INTERNAL_SERVER_ERROR', 'STORE_UNAVAILABLE']);

export interface OperationsOptions {
  drain: Drain;
  metrics: Metrics | null;
  logger: Logger;
}

export function useOperations({ drain, metrics, logger }: OperationsOptions): Plugin {
  return {
    instrumentation: {
      // Queries and mutations only: subscriptions run in the subscribe phase (or shared, on graphql-ws).
      execute: async (_payload, wrapped) => {
        const leave = drain.enter();
        try {
          await wrapped();
        } finally {
          leave();
        }
      },
    },
    onExecute({ args }) {
      const operation = getOperationAST(args.document, args.operationName);
      const name = args.operationName ?? operation?.name?.value;
      const type = operation?.operation ?? 'unknown';
      const requestId = (args.contextValue as { requestId?: unknown }).requestId;
      return {
        onExecuteDone({ result }) {
          if (Symbol.asyncIterator in (result as object)) return;
          const errors = (result as ExecutionResult).errors ?? [];
          const code = errors.length > 0 ? contractCode(errors[0]) : undefined;
          metrics?.operation(name, type, code ?? 'ok');
          if (code === undefined) return;
          const line = {
            requestId,
            operationName: name ?? null,
            operationType: type,
            code,
            errors: errors.map((e) => ({ message: e.message, code: contractCode(e), path: e.path?.join('.') })),
          };
          if (serviceFaults.has(code)) logger.warn({ ...line, err: errors[0]?.originalError ?? errors[0] }, 'operation failed');
          else logger.info(line, 'operation failed');
        },
      };
    },
  };
}
