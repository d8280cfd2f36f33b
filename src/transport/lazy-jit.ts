/**
 * graphql-jit, loaded on the first operation it compiles. The compiler and its dependencies
 * (fast-json-stringify, ajv) hold about 10 MB of heap and take about 100 ms to load: an instance that
 * is still starting, or never serves a query, mutation or event, does not pay for them.
 * - Queries and mutations: behaves as `useGraphQlJit({}, { enableIf })` from @envelop/graphql-jit,
 *   which it wraps through its public API.
 * - Subscription events: `compiledEvents` compiles a subscription document once, and each event is
 *   then mapped by the compiled function (what graphql-jit's own subscribe does for every event),
 *   instead of graphql-js's `execute` (src/transport/shared-subscribe.ts).
 */
import type { DocumentNode, ExecutionArgs, ExecutionResult, GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';

type ExecuteHook = NonNullable<Plugin['onExecute']>;
type GraphQLJit = typeof import('graphql-jit');

let compiler: GraphQLJit | undefined;
let compilerLoading: Promise<GraphQLJit> | undefined;
const loadCompiler = () => (compilerLoading ??= import('graphql-jit').then((module) => (compiler = module)));

/**
 * @param enableIf which executions run compiled (synchronous; the others run as graphql-js would).
 * Subscriptions are never compiled here (their events are: see compiledEvents).
 */
export function useLazyGraphQlJit(enableIf: (args: ExecutionArgs) => boolean): Plugin {
  let onExecute: ExecuteHook | undefined;
  let loading: Promise<ExecuteHook> | undefined;
  const load = () =>
    (loading ??= Promise.all([import('@envelop/graphql-jit'), loadCompiler()]).then(([{ useGraphQlJit }]) => {
      // enableIf was already asked; the compiled execution is set on every call that reaches it.
      const hook = useGraphQlJit({}).onExecute;
      if (!hook) throw new Error('@envelop/graphql-jit: the plugin has no onExecute hook');
      return (onExecute = hook as ExecuteHook);
    }));
  return {
    onExecute(payload) {
      if (!enableIf(payload.args)) return;
      if (onExecute) return onExecute(payload);
      return load().then((hook) => hook(payload));
    },
  };
}

/** Maps one event through a subscription's selection set; undefined when graphql-js should answer instead. */
export type EventMapper = (event: unknown, context: unknown, variables: Record<string, unknown> | null | undefined) => ExecutionResult | undefined;

const mappers = new WeakMap<DocumentNode, Map<string | null, EventMapper | null>>();

/**
 * The compiled mapper of a subscription's events, or undefined while the compiler is not loaded yet
 * (this call starts loading it; the caller executes with graphql-js meanwhile) or when graphql-jit
 * cannot compile the document (null is remembered: graphql-js it is, for good).
 */
export function compiledEvents(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined): EventMapper | undefined {
  const jit = compiler;
  if (!jit) {
    void loadCompiler().catch(() => undefined);
    return undefined;
  }
  let byName = mappers.get(document);
  if (!byName) mappers.set(document, (byName = new Map()));
  const name = operationName ?? null;
  let mapper = byName.get(name);
  if (mapper === undefined) {
    const compiled = jit.compileQuery(schema, document, name ?? undefined);
    mapper = jit.isCompiledQuery(compiled)
      ? (event, context, variables) => {
          const result = compiled.query(event, context, variables ?? {});
          // A resolver that returned a promise: graphql-js answers for this event instead.
          if (typeof (result as { then?: unknown }).then === 'function') {
            (result as Promise<unknown>).catch(() => undefined);
            return undefined;
          }
          // An event with errors (a stream's failure, say) is rare: graphql-js answers it, with the
          // locations graphql-jit's errors do not keep through yoga's serialization.
          return (result as ExecutionResult).errors ? undefined : (result as ExecutionResult);
        }
      : null;
    byName.set(name, mapper);
  }
  return mapper ?? undefined;
}
