/**
 * Bounds on every document before it is planned, compiled (graphql-jit) or executed, on every
 * transport: HTTP and graphql-ws operations share these envelop plugins. The service answers callers
 * before it knows who they are, so a hostile document must cost little to refuse:
 * - graphql-armor counts tokens while parsing (which also keeps the recursive parser's stack safe),
 *   then checks depth, aliases, cost and directives in one validation pass. Its depth, alias and cost
 *   counts visit each fragment once, so a document whose fragments each spread the previous one twice
 *   (2^n paths) is measured in n steps and refused, never expanded.
 * - Introspection can be turned off (NoSchemaIntrospectionCustomRule), field suggestions hidden.
 * Refusals are GraphQLErrors without a code; src/transport/mask-error.ts gives them BAD_USER_INPUT.
 */
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { type DocumentNode, NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { SecurityConfig } from '../config.js';

export function documentLimits(security: SecurityConfig): Plugin[] {
  const { maxTokens, maxDepth, maxAliases, maxCost, maxDirectives } = security.document;
  const armor = new EnvelopArmor({
    maxTokens: { n: maxTokens },
    // Fragments flattened: a spread is not a level of its own, so the SDK's fragments cost no depth.
    maxDepth: { n: maxDepth, flattenFragments: true },
    maxAliases: { n: maxAliases },
    // Fragments flattened here too, so the SDK's fragments cost what their fields cost.
    costLimit: { maxCost, flattenFragments: true },
    maxDirectives: { n: maxDirectives },
    blockFieldSuggestion: { enabled: !security.fieldSuggestions, mask: '' },
  });
  const plugins = armor.protect().plugins as Plugin[];
  if (!security.introspection) {
    plugins.push({ onValidate: ({ addValidationRule }) => addValidationRule(NoSchemaIntrospectionCustomRule) });
  }
  return plugins;
}

/**
 * A map that forgets its oldest entry beyond `max` entries: yoga's parsed-document cache; the token
 * limit bounds the size of each. (graphql-jit's compiled code is bounded on its own, by distinct
 * texts: src/transport/lazy-jit.ts.)
 */
export class BoundedCache<T> {
  private readonly entries = new Map<string, T>();
  constructor(private readonly max: number) {}
  get(key: string): T | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      // Most recently used last, so the oldest is first to go.
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }
  set(key: string, value: T): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
  }
  get size(): number {
    return this.entries.size;
  }
}

/**
 * Yoga's parserAndValidationCache option: at most `max` parsed documents. Parse errors are not kept:
 * each holds its whole source text, and the token limit already makes parsing a refused document cheap.
 */
export const boundedParserCache = (max: number) => ({
  documentCache: new BoundedCache<DocumentNode>(max),
  errorCache: { get: () => undefined, set: () => undefined },
  validationCache: true,
});
