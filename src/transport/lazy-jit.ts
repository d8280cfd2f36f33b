/**
 * graphql-jit, loaded on the first operation it compiles. The compiler and its dependencies
 * (fast-json-stringify, ajv) hold about 10 MB of heap and take about 100 ms to load: an instance that
 * is still starting, or never serves a query, mutation or event, does not pay for them.
 *
 * What runs compiled, and what graphql-js keeps (each difference was found by an outside probe):
 * - Queries, and mutations of a single root field. A mutation of several root fields runs on graphql-js,
 *   which stops at the first field whose error nulls `data`; graphql-jit ran the later fields anyway
 *   (a failed select followed by setReady resolved the room).
 * - Not documents using @skip or @include: graphql-jit applies a variable's default where an explicit
 *   null was given, where graphql-js refuses it.
 * - Not an execution whose variables do not coerce: graphql-js refuses them before executing, with the
 *   HTTP 400 and BAD_USER_INPUT a client expects; compiled code answered 200 (it refuses them before
 *   any resolver runs, and the execution then goes to graphql-js).
 * - Subscription events: each event's shared execution (src/transport/shared-subscribe.ts) is the
 *   compiled function of its document, as graphql-jit's own subscribe maps events.
 * - A bounded number of documents. graphql-jit keeps module-level memoization caches keyed by AST
 *   nodes that are never emptied (about 1.4 MB per distinct document near the size limits), so each
 *   distinct text is compiled once and reused, and only the trusted documents (the SDK's and
 *   TRUSTED_DOCUMENTS_MANIFESTS') plus `maxOtherDocuments` others are compiled at all; the rest run
 *   on graphql-js. A client inventing documents cannot grow the heap through the compiler.
 */
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  print,
  visit,
  BREAK,
} from 'graphql';
import type { CompiledQuery } from 'graphql-jit';
import { makeExecute, type Plugin } from 'graphql-yoga';

type GraphQLJit = typeof import('graphql-jit');

let compiler: GraphQLJit | undefined;
let compilerLoading: Promise<GraphQLJit> | undefined;
const loadCompiler = () => (compilerLoading ??= import('graphql-jit').then((module) => (compiler = module)));

/** Which document texts may be compiled, and their compiled forms by text and operation name. */
export class JitDocuments {
  private readonly trusted = new Set<string>();
  private readonly others = new Set<string>();
  private readonly compiled = new Map<string, Map<string | null, CompiledQuery | null>>();
  /** Per parsed document: its text when it may be compiled, null when it may not. */
  private readonly admitted = new WeakMap<DocumentNode, string | null>();

  /** @param maxOthers distinct texts compiled at most besides the trusted ones; past them, graphql-js. */
  constructor(private readonly maxOthers = 50) {}

  /** Texts always compiled: the trusted documents. */
  trust(texts: Iterable<string>): void {
    for (const text of texts) this.trusted.add(text);
  }

  /** How many texts have a compiled form (or a failed attempt) kept. */
  get size(): number {
    return this.compiled.size;
  }

  /**
   * The compiled form of the operation, or undefined when graphql-js should run it: the compiler not
   * loaded yet (loading starts), a document it may not compile, or one graphql-jit refuses.
   */
  compiledFor(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined): CompiledQuery | undefined {
    const jit = compiler;
    if (!jit) {
      void loadCompiler().catch(() => undefined);
      return undefined;
    }
    const text = this.admit(document);
    if (text === null) return undefined;
    let byName = this.compiled.get(text);
    if (!byName) this.compiled.set(text, (byName = new Map()));
    const name = operationName ?? null;
    let compiled = byName.get(name);
    if (compiled === undefined) {
      const result = jit.compileQuery(schema, document, name ?? undefined);
      byName.set(name, (compiled = jit.isCompiledQuery(result) ? result : null));
    }
    return compiled ?? undefined;
  }

  private admit(document: DocumentNode): string | null {
    let text = this.admitted.get(document);
    if (text !== undefined) return text;
    text = compilableShape(document) ? (document.loc?.source.body ?? print(document)) : null;
    if (text !== null && !this.trusted.has(text) && !this.others.has(text)) {
      if (this.others.size >= this.maxOthers) text = null;
      else this.others.add(text);
    }
    this.admitted.set(document, text);
    return text;
  }
}

/** No @skip or @include anywhere (see above). */
function compilableShape(document: DocumentNode): boolean {
  let conditional = false;
  visit(document, {
    Directive(node) {
      if (node.name.value === 'skip' || node.name.value === 'include') {
        conditional = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return !conditional;
}

/** One operation in the document: a query, or a mutation of one root field. */
function compilableOperation(document: DocumentNode): OperationDefinitionNode | null {
  let operation: OperationDefinitionNode | null = null;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    if (operation) return null;
    operation = definition;
  }
  if (!operation) return null;
  if (operation.operation === 'query') return operation;
  if (operation.operation !== 'mutation') return null;
  const [first, ...rest] = operation.selectionSet.selections;
  return rest.length === 0 && first?.kind === Kind.FIELD ? operation : null;
}

const operations = new WeakMap<DocumentNode, OperationDefinitionNode | null>();

/** Process-wide, as graphql-jit's own caches are. */
export const jitDocuments = new JitDocuments();

/** Queries and single-field mutations run compiled when jitDocuments admits them (see above). */
export function useLazyGraphQlJit(documents: JitDocuments = jitDocuments): Plugin {
  const compiledFor = (args: ExecutionArgs): CompiledQuery | undefined => {
    let operation = operations.get(args.document);
    if (operation === undefined) operations.set(args.document, (operation = compilableOperation(args.document)));
    if (!operation) return undefined;
    return documents.compiledFor(args.schema, args.document, args.operationName);
  };
  // Variables that do not coerce are graphql-js's to refuse (HTTP 400, BAD_USER_INPUT): the compiled
  // function checks them before it runs any resolver and then answers errors without `data`, so the
  // operation goes to the executor it would have had, at no cost when they do coerce.
  const execute = (compiled: CompiledQuery, original: (args: ExecutionArgs) => unknown) =>
    makeExecute((args) => {
      const result = compiled.query(args.rootValue, args.contextValue, args.variableValues ?? {}) as ExecutionResult;
      return result.errors && !('data' in result) ? (original(args) as ExecutionResult) : result;
    });
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      if (compiler) {
        const compiled = compiledFor(args);
        if (compiled) setExecuteFn(execute(compiled, executeFn));
        return;
      }
      // The first operation that could run compiled waits for the compiler; the others need not.
      if (compilableOperation(args.document) === null) return;
      return loadCompiler().then(() => {
        const compiled = compiledFor(args);
        if (compiled) setExecuteFn(execute(compiled, executeFn));
      });
    },
  };
}

/**
 * One subscription event through its document's compiled selection set, or undefined when graphql-js
 * should execute it (the compiler is not loaded yet, the document may not be compiled, a resolver
 * returned a promise, or the result has errors: rare, and graphql-js's errors keep their locations
 * through yoga's serialization, graphql-jit's do not).
 */
export function compiledEvent(args: ExecutionArgs, event: unknown, context: unknown, documents: JitDocuments = jitDocuments): ExecutionResult | undefined {
  const compiled = documents.compiledFor(args.schema, args.document, args.operationName);
  if (!compiled) return undefined;
  const result = compiled.query(event, context, args.variableValues ?? {});
  if (typeof (result as { then?: unknown }).then === 'function') {
    (result as Promise<unknown>).catch(() => undefined);
    return undefined;
  }
  return (result as ExecutionResult).errors ? undefined : (result as ExecutionResult);
}
