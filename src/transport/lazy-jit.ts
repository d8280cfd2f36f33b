/**
 * graphql-jit, loaded on the first query it compiles. The compiler and its dependencies
 * (fast-json-stringify, ajv) hold about 10 MB of heap and take about 100 ms to load: an instance that
 * only serves subscriptions, or is still starting, does not pay for them. Behaves as
 * `useGraphQlJit({}, { enableIf })` from @envelop/graphql-jit, which it wraps through its public API.
 */
import type { ExecutionArgs } from 'graphql';
import type { Plugin } from 'graphql-yoga';

type ExecuteHook = NonNullable<Plugin['onExecute']>;

/**
 * @param enableIf which executions run compiled (synchronous; the others run as graphql-js would).
 * Subscriptions are never compiled here.
 */
export function useLazyGraphQlJit(enableIf: (args: ExecutionArgs) => boolean): Plugin {
  let onExecute: ExecuteHook | undefined;
  let loading: Promise<ExecuteHook> | undefined;
  const load = () =>
    (loading ??= import('@envelop/graphql-jit').then(({ useGraphQlJit }) => {
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
