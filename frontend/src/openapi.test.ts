// The client's route table against the OpenAPI document the API serves, assembled here the
// way shared/web/src/openapi.rs does: every shared/web/openapi/*.json fragment merged, a path
// or schema defined twice refused.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROUTES, type ApiRoute } from './api';

const DIR = path.resolve(__dirname, '../../shared/web/openapi');
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

interface Parameter {
  name: string;
  in: string;
  $ref?: string;
}
type Operation = { parameters?: Parameter[] };
type PathItem = Record<string, Operation | Parameter[]>;
interface Fragment {
  paths?: Record<string, PathItem>;
  components?: Record<string, Record<string, unknown>>;
}

export function mergeFragments(fragments: [string, Fragment][]): Required<Fragment> {
  const paths: Record<string, PathItem> = {};
  const components: Record<string, Record<string, unknown>> = {};
  const owner = new Map<string, string>();
  for (const [file, f] of fragments) {
    for (const [p, item] of Object.entries(f.paths ?? {})) {
      if (owner.has(`path ${p}`)) throw new Error(`${p} is defined in ${owner.get(`path ${p}`)} and ${file}`);
      owner.set(`path ${p}`, file);
      paths[p] = item;
    }
    for (const [kind, entries] of Object.entries(f.components ?? {})) {
      components[kind] ??= {};
      for (const [name, value] of Object.entries(entries)) {
        const key = `${kind} ${name}`;
        if (owner.has(key)) throw new Error(`components.${kind}.${name} is defined in ${owner.get(key)} and ${file}`);
        owner.set(key, file);
        components[kind][name] = value;
      }
    }
  }
  return { paths, components };
}

function loadDocument() {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
  return mergeFragments(files.map((f) => [f, JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as Fragment]));
}

/** "METHOD path" → the operation's parameters (path-level ones included, $refs resolved). */
function operations(doc: Required<Fragment>): Map<string, Parameter[]> {
  const resolve = (p: Parameter): Parameter => {
    if (!p.$ref) return p;
    const name = p.$ref.replace('#/components/parameters/', '');
    const target = doc.components.parameters?.[name] as Parameter | undefined;
    if (!target) throw new Error(`unresolved ${p.$ref}`);
    return target;
  };
  const ops = new Map<string, Parameter[]>();
  for (const [p, item] of Object.entries(doc.paths)) {
    const shared = (item.parameters as Parameter[] | undefined) ?? [];
    for (const m of METHODS) {
      const op = item[m] as Operation | undefined;
      if (op) ops.set(`${m.toUpperCase()} ${p}`, [...shared, ...(op.parameters ?? [])].map(resolve));
    }
  }
  return ops;
}

describe('the client against the OpenAPI document', () => {
  const doc = loadDocument();
  const ops = operations(doc);
  const routes = Object.entries(ROUTES) as [string, ApiRoute][];

  it('documents every route the client calls (method and path)', () => {
    const missing = routes
      .map(([, r]) => `${r.method} ${r.path}`)
      .filter((key) => !ops.has(key));
    expect(missing).toEqual([]);
  });

  it('documents every path and query parameter the client sends', () => {
    const problems: string[] = [];
    for (const [name, r] of routes) {
      const params = ops.get(`${r.method} ${r.path}`);
      if (!params) continue;
      for (const p of r.path.match(/\{(\w+)\}/g) ?? []) {
        const n = p.slice(1, -1);
        if (!params.some((x) => x.in === 'path' && x.name === n)) problems.push(`${name}: path parameter ${n}`);
      }
      for (const q of r.query ?? []) {
        if (!params.some((x) => x.in === 'query' && x.name === q)) problems.push(`${name}: query parameter ${q}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('refuses a path or a schema defined twice, naming both files', () => {
    expect(() => mergeFragments([['a.json', { paths: { '/x': {} } }], ['b.json', { paths: { '/x': {} } }]])).toThrow(
      '/x is defined in a.json and b.json',
    );
    expect(() =>
      mergeFragments([
        ['a.json', { components: { schemas: { S: {} } } }],
        ['b.json', { components: { schemas: { S: {} } } }],
      ]),
    ).toThrow('components.schemas.S is defined in a.json and b.json');
  });

  it('would notice an undocumented route', () => {
    const without = { ...doc, paths: { ...doc.paths } };
    delete without.paths['/v1/costs/export.csv'];
    expect(operations(without).has('GET /v1/costs/export.csv')).toBe(false);
    expect(ops.has('GET /v1/costs/export.csv')).toBe(true);
  });
});
