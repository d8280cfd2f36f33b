/**
 * Subscriptions that cost one execution per event, not one per subscriber.
 *
 * graphql-js executes a subscription's selection set for every subscriber on every event. Every local
 * subscriber of a room receives the same event object (the batch is parsed once per instance), so the
 * result of one selection set on one event is the same for all of them: it is computed once, serialized
 * once, and handed to each socket as ready JSON. Keys are the event object, the document, the operation
 * and the values of the variables used below the root field (the root field's own arguments, such as
 * afterVersion, only choose which events arrive). Events are executed with a context that has no
 * viewer (viewerlessContext), so a resolver below the root field cannot make a result that depends on
 * who subscribed: reading the context fails instead.
 */
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  type SelectionNode,
  createSourceEventStream,
  execute,
  visit,
} from 'graphql';
import { SlowConsumerError } from '../errors.js';
import { compiledEvent } from './lazy-jit.js';

/** A result whose JSON is computed once and shared by every socket that sends it. */
export class SharedResult {
  private serialized: string | undefined;
  private encoded: Buffer | undefined;
  constructor(readonly result: ExecutionResult) {}
  get json(): string {
    return (this.serialized ??= JSON.stringify(this.result));
  }
  /** The JSON as UTF-8, encoded once for every socket. */
  get bytes(): Buffer {
    return (this.encoded ??= Buffer.from(this.json));
  }
}

export type MaskErrors = (result: ExecutionResult) => ExecutionResult;

/** A source that can push its events to a sink instead of being iterated (RoomStreamSource). */
interface PushSource {
  start(sink: { event(event: unknown): void; fail(error: unknown): void }): { close(): void };
}
const isPushSource = (value: unknown): value is PushSource => typeof (value as PushSource | null)?.start === 'function';

/** Where a graphql-ws subscription's messages can be written directly. */
export interface DirectSocket {
  socket: { send(data: Buffer, options?: { binary: boolean }): void; readonly readyState: number; readonly bufferedAmount: number; close(code?: number, reason?: string): void };
  /** The graphql-ws operation id. */
  id: string;
  /** Writes to the socket at once (the socket's own send may gather messages). Default: socket.send. */
  send?: ((data: Buffer) => void) | undefined;
  /** Bytes queued on the socket before a subscription on it is ended as too slow. Default 8 MiB. */
  maxBufferedBytes?: number;
}
const OPEN = 1;
const closingBrace = Buffer.from('}');
const defaultMaxBufferedBytes = 8 * 1024 * 1024;

const documentIds = new WeakMap<DocumentNode, { id: number; inner: Map<string | null, string[]> }>();
let nextDocumentId = 0;

/**
 * Names of the variables whose values can change an event's result: every variable the document uses,
 * except those used only as arguments of the root fields (afterVersion, say, only chooses which events
 * arrive). Root fields are found through root inline fragments and fragment spreads too.
 */
function innerVariables(document: DocumentNode, operationName: string | null | undefined): string[] {
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName),
  );
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const uses = new Map<string, number>();
  const count = (node: Parameters<typeof visit>[0], into: Map<string, number>) =>
    visit(node, {
      Variable: (v) => {
        into.set(v.name.value, (into.get(v.name.value) ?? 0) + 1);
      },
    });
  if (operation) count(operation.selectionSet, uses);
  for (const fragment of fragments.values()) count(fragment, uses);
  // Uses as root field arguments, found through the root level's fragments.
  const rootArgumentUses = new Map<string, number>();
  const seen = new Set<string>();
  const walkRoot = (selections: readonly SelectionNode[]) => {
    for (const selection of selections) {
      if (selection.kind === Kind.FIELD) for (const argument of selection.arguments ?? []) count(argument, rootArgumentUses);
      else if (selection.kind === Kind.INLINE_FRAGMENT) walkRoot(selection.selectionSet.selections);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        walkRoot(fragments.get(selection.name.value)?.selectionSet.selections ?? []);
      }
    }
  };
  walkRoot(operation?.selectionSet.selections ?? []);
  return [...uses.keys()].filter((name) => uses.get(name) !== rootArgumentUses.get(name)).sort();
}

/** Stands for a variable the client left out (its default applies), unlike an explicit null. */
const omitted = '\u0000omitted';

function resultKey(args: ExecutionArgs): string {
  let entry = documentIds.get(args.document);
  if (!entry) documentIds.set(args.document, (entry = { id: nextDocumentId++, inner: new Map() }));
  const operationName = args.operationName ?? null;
  let names = entry.inner.get(operationName);
  if (!names) entry.inner.set(operationName, (names = innerVariables(args.document, operationName)));
  const values = names.length === 0 ? '' : JSON.stringify(names.map((n) => (args.variableValues && n in args.variableValues ? args.variableValues[n] : omitted)));
  return `${entry.id}\u0000${operationName ?? ''}\u0000${values}`;
}

const resultsByEvent = new WeakMap<object, Map<string, SharedResult>>();

/**
 * The context shared results are executed with: it has no viewer. A result made once for every
 * subscriber must not depend on who asked first, so a resolver below the root field that reads the
 * context fails (its field gets an error) instead of leaking the first subscriber's view to the others.
 */
export const viewerlessContext: object = new Proxy(Object.freeze({}), {
  get(_target, property) {
    if (typeof property === 'symbol' || property === 'then' || property === 'toJSON') return undefined;
    throw new Error(`A subscription event is executed once for every subscriber, without a viewer: a resolver below the root field read context.${property}.`);
  },
});

function sharedResult(event: unknown, key: string, args: ExecutionArgs, maskErrors: MaskErrors): SharedResult {
  const run = () => {
    // Compiled (graphql-jit) once the compiler is loaded; graphql-js until then, and for what it cannot run.
    const compiled = compiledEvent(args, event, viewerlessContext);
    return new SharedResult(maskErrors(compiled ?? (execute({ ...args, rootValue: event, contextValue: viewerlessContext }) as ExecutionResult)));
  };
  if (typeof event !== 'object' || event === null) return run();
  let byKey = resultsByEvent.get(event);
  if (!byKey) resultsByEvent.set(event, (byKey = new Map()));
  let result = byKey.get(key);
  if (!result) byKey.set(key, (result = run()));
  return result;
}

/**
 * graphql's subscribe, with each event's result shared (see above). The root field's `subscribe`
 * (authorization, arguments) runs as usual; its errors come back as an ExecutionResult.
 */
export async function sharedSubscribe(
  startArgs: ExecutionArgs,
  maskErrors: MaskErrors,
  direct?: DirectSocket,
): Promise<AsyncIterableIterator<SharedResult> | ExecutionResult> {
  const source = await createSourceEventStream(startArgs);
  if (!(Symbol.asyncIterator in source)) return maskErrors(source as ExecutionResult);
  // Events are executed with their own root and a viewerless context (sharedResult): the operation's
  // context and root were for starting it, and are not kept for the subscription's life.
  const { contextValue: _context, rootValue: _root, ...args } = startArgs;
  const key = resultKey(args); // the subscription's document and variables never change
  if (direct && isPushSource(source)) return writeDirectly(source, direct, key, args, maskErrors);
  const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  // Not an async generator: return() must reach the source at once, even while next() waits for an event.
  const mapped: AsyncIterableIterator<SharedResult> & { return(): Promise<IteratorResult<SharedResult>> } = {
    [Symbol.asyncIterator]() {
      return mapped;
    },
    async next() {
      const step = await iterator.next();
      return step.done ? { done: true, value: undefined } : { done: false, value: sharedResult(step.value, key, args, maskErrors) };
    },
    async return() {
      await iterator.return?.();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      await iterator.return?.();
      throw error instanceof Error ? error : new GraphQLError(String(error));
    },
  };
  return mapped;
}

/**
 * The fan-out fast path: each event's shared JSON goes straight into a graphql-ws `next` message on the
 * socket, synchronously, in version order. graphql-ws holds an iterator that yields nothing and ends
 * with the stream, so it still sends `complete` and still returns (closes) the stream when the client
 * completes the operation or goes away.
 */
function writeDirectly(source: PushSource, direct: DirectSocket, key: string, args: ExecutionArgs, maskErrors: MaskErrors): AsyncIterableIterator<SharedResult> {
  return new DirectSubscription(source, direct, key, args, maskErrors);
}

/**
 * One directly written subscription: the stream's sink and graphql-ws's iterator in one object, its
 * state in fields and its behaviour in methods, so a subscription holds no closures of its own (it
 * lives as long as the socket, thousands at once).
 */
class DirectSubscription implements AsyncIterableIterator<SharedResult> {
  private readonly socket: DirectSocket['socket'];
  private readonly send: ((data: Buffer) => void) | undefined;
  private readonly maxBufferedBytes: number;
  /** The message around the shared payload, encoded once per subscription. */
  private readonly prefix: Buffer;
  private readonly finished: Promise<IteratorResult<SharedResult>>;
  private resolveFinished!: (result: IteratorResult<SharedResult>) => void;
  private readonly stream: { close(): void };

  constructor(
    source: PushSource,
    direct: DirectSocket,
    private readonly key: string,
    private readonly args: ExecutionArgs,
    private readonly maskErrors: MaskErrors,
  ) {
    this.socket = direct.socket;
    this.send = direct.send;
    this.maxBufferedBytes = direct.maxBufferedBytes ?? defaultMaxBufferedBytes;
    this.prefix = Buffer.from(`{"id":${JSON.stringify(direct.id)},"type":"next","payload":`);
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.stream = source.start(this);
  }

  private frame(event: unknown): void {
    const payload = sharedResult(event, this.key, this.args, this.maskErrors).bytes;
    const { prefix } = this;
    const data = Buffer.concat([prefix, payload, closingBrace], prefix.length + payload.length + 1);
    if (this.send) this.send(data);
    else this.socket.send(data, { binary: false });
  }

  private finish(): void {
    this.resolveFinished({ done: true, value: undefined });
  }

  /** The stream's sink: the next event. */
  event(event: unknown): void {
    if (this.socket.readyState !== OPEN) return;
    // A socket that stopped reading: this subscription ends with an error the client can act on
    // (resume from the last version it has). Closing the socket instead would end its other
    // operations too, and a 4429 close is one graphql-ws clients never retry.
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.stream.close();
      return this.fail(new SlowConsumerError());
    }
    this.frame(event);
  }

  /** The stream's sink: ends this subscription alone with a coded error, then graphql-ws sends `complete`. */
  fail(error: unknown): void {
    if (this.socket.readyState === OPEN) this.frame({ type: 'StreamFailure', error });
    this.finish();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<SharedResult> {
    return this;
  }

  next(): Promise<IteratorResult<SharedResult>> {
    return this.finished;
  }

  async return(): Promise<IteratorResult<SharedResult>> {
    this.stream.close();
    this.finish();
    return { done: true, value: undefined };
  }
}

/**
 * Subscriptions over HTTP (SSE) through yoga: the same shared execution per event and document as
 * graphql-ws, each subscriber's iterator yielding the shared ExecutionResult. Yoga serializes it for
 * each SSE response (it takes results, not JSON).
 */
export function useSharedSubscriptions(): { onSubscribe(payload: { setSubscribeFn(fn: (args: ExecutionArgs) => unknown): void }): void } {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args: ExecutionArgs) => {
        const shared = await sharedSubscribe(args, (result) => result);
        if (!(Symbol.asyncIterator in shared)) return shared;
        const iterator = shared;
        const results: AsyncIterableIterator<ExecutionResult> = {
          [Symbol.asyncIterator]: () => results,
          next: async () => {
            const step = await iterator.next();
            return step.done ? { done: true, value: undefined } : { done: false, value: step.value.result };
          },
          return: async () => {
            await iterator.return?.();
            return { done: true, value: undefined };
          },
        };
        return results;
      });
    },
  };
}
