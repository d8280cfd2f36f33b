/**
 * Compares two heap snapshots (bench/rss/probe.ts --snapshots): the objects, counted and sized by kind,
 * that the second has more of, per `--per` units (connections, say). Plain objects are told apart by
 * their first property names, closures by their function's script and position.
 *
 *   node --import tsx bench/rss/heap-diff.ts A.heapsnapshot B.heapsnapshot [--per 1500] [--top 60]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { per: { type: 'string', default: '1' }, top: { type: 'string', default: '60' } } });

interface Summary {
  count: Map<string, number>;
  size: Map<string, number>;
  total: number;
}

function summarize(file: string): Summary {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const meta = snap.snapshot.meta;
  const nf: string[] = meta.node_fields;
  const ef: string[] = meta.edge_fields;
  const nodeTypes: string[] = meta.node_types[0];
  const edgeTypes: string[] = meta.edge_types[0];
  const N = nf.length;
  const E = ef.length;
  const nodes: number[] = snap.nodes;
  const edges: number[] = snap.edges;
  const strings: string[] = snap.strings;
  const iType = nf.indexOf('type');
  const iName = nf.indexOf('name');
  const iSize = nf.indexOf('self_size');
  const iEdges = nf.indexOf('edge_count');
  const eType = ef.indexOf('type');
  const eName = ef.indexOf('name_or_index');
  const eTo = ef.indexOf('to_node');
  const count = nodes.length / N;
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e;
    e += nodes[i * N + iEdges]! * E;
  }
  firstEdge[count] = edges.length;
  const edgesOf = function* (i: number) {
    for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += E) yield { type: edgeTypes[edges[e + eType]!]!, name: edges[e + eName]!, to: edges[e + eTo]! / N };
  };
  const nameOf = (i: number) => strings[nodes[i * N + iName]!]!;
  const typeOf = (i: number) => nodeTypes[nodes[i * N + iType]!]!;
  // Closures: located by (script, line, column); the script is the SharedFunctionInfo's.
  const locations = new Map<number, string>();
  const loc: number[] = snap.locations ?? [];
  for (let k = 0; k < loc.length; k += 4) locations.set(loc[k]! / N, `${loc[k + 2]! + 1}:${loc[k + 3]! + 1}`);
  const edgeName = (e: { type: string; name: number }) => (e.type === 'element' || e.type === 'hidden' ? String(e.name) : strings[e.name]!);
  const fullScript = (i: number): string => {
    for (const e of edgesOf(i)) {
      if (edgeName(e) !== 'shared') continue;
      for (const s of edgesOf(e.to)) if (edgeName(s) === 'script_or_debug_info') return nameOf(s.to).replace(/^file:\/\/\/work\/wt-rss\//, '').replace(/.*node_modules\//, 'nm/');
    }
    return '?';
  };
  // One retainer per node (the first strong edge found), to say whose anonymous arrays and strings these are.
  const retainer = new Int32Array(count).fill(-1);
  const retainerEdge: string[] = new Array(count);
  for (let i = 0; i < count; i++) {
    for (const e of edgesOf(i)) {
      if (e.type === 'weak' || e.type === 'shortcut') continue;
      if (retainer[e.to] === -1) {
        retainer[e.to] = i;
        retainerEdge[e.to] = edgeName(e);
      }
    }
  }
  const baseKey = (i: number): string => {
    const type = typeOf(i);
    if (type === 'object') {
      const name = nameOf(i);
      if (name === 'Object') {
        const props: string[] = [];
        for (const e of edgesOf(i)) if (e.type === 'property' && props.length < 5) props.push(strings[e.name]!);
        return `Object {${props.join(',')}}`;
      }
      return `object ${name}`;
    }
    if (type === 'closure') return `closure ${nameOf(i) || '(anon)'} @${fullScript(i)}:${locations.get(i) ?? '?'}`;
    if (type === 'number') return 'heap number';
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return type;
    return `${type} ${nameOf(i)}`;
  };
  const anonymous = (key: string) => /^(array|hidden|string|concatenated string|sliced string|heap number|object system \/ Context|object Array|code|object shape)/.test(key);
  const keyOf = (i: number): string => {
    let key = baseKey(i);
    // Up to two anonymous levels: a properties array of an Array's elements of ...
    for (let j = i, depth = 0; anonymous(key.split(' <- ')[depth]!) && depth < 3; depth++) {
      const owner = retainer[j]!;
      if (owner < 0) break;
      key += ` <- ${baseKey(owner)}.${retainerEdge[j]}`;
      j = owner;
    }
    return key;
  };
  const summary: Summary = { count: new Map(), size: new Map(), total: 0 };
  for (let i = 0; i < count; i++) {
    const key = keyOf(i);
    const size = nodes[i * N + iSize]!;
    summary.count.set(key, (summary.count.get(key) ?? 0) + 1);
    summary.size.set(key, (summary.size.get(key) ?? 0) + size);
    summary.total += size;
  }
  return summary;
}

const [a, b] = positionals;
if (!a || !b) throw new Error('two snapshots');
const per = Number(values.per);
const A = summarize(a);
const B = summarize(b);
const keys = new Set([...A.size.keys(), ...B.size.keys()]);
const rows = [...keys]
  .map((k) => ({ k, dSize: (B.size.get(k) ?? 0) - (A.size.get(k) ?? 0), dCount: (B.count.get(k) ?? 0) - (A.count.get(k) ?? 0) }))
  .sort((x, y) => y.dSize - x.dSize);
console.log(`total self size: ${(A.total / 1048576).toFixed(1)} -> ${(B.total / 1048576).toFixed(1)} MiB; per unit ${((B.total - A.total) / per).toFixed(0)} B`);
console.log('| kind | count per unit | bytes per unit |');
console.log('| --- | ---: | ---: |');
for (const r of rows.slice(0, Number(values.top))) console.log(`| ${r.k.replace(/\|/g, '\\|')} | ${(r.dCount / per).toFixed(2)} | ${(r.dSize / per).toFixed(0)} |`);
