// README's "Configuration fields" table names every field the schemas accept
// and says what ocirun does with it: a field added to schemas/ without a row
// (or a row left for a field no longer there) fails here.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');

type Schema = {
  $ref?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
};

const files = new Map<string, Schema>();
function schemaFile(name: string): Schema {
  let s = files.get(name);
  if (!s) files.set(name, (s = JSON.parse(readFileSync(path.join(repo, 'schemas', name), 'utf8')) as Schema));
  return s;
}

function resolve(node: Schema, file: string): [Schema, string] {
  while (node.$ref) {
    const [target, fragment = ''] = node.$ref.split('#');
    file = target || file;
    node = fragment
      .split('/')
      .filter(Boolean)
      .reduce((n: Record<string, unknown>, key) => n[key] as Record<string, unknown>, schemaFile(file) as Record<string, unknown>) as Schema;
  }
  return [node, file];
}

/** Every property path the schemas accept: "a.b", "a[].b" under arrays, "a.*.b" under maps. */
function schemaFields(): Set<string> {
  const out = new Set<string>();
  const walk = (start: Schema, startFile: string, at: string) => {
    const [node, file] = resolve(start, startFile);
    for (const alt of [...(node.allOf ?? []), ...(node.anyOf ?? []), ...(node.oneOf ?? [])]) walk(alt, file, at);
    for (const [key, sub] of Object.entries(node.properties ?? {})) {
      const field = at ? `${at}.${key}` : key;
      out.add(field);
      walk(sub, file, field);
    }
    if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, file, `${at}.*`);
    if (node.items) walk(node.items, file, `${at}[]`);
  };
  walk({ $ref: 'config.schema.json' }, 'config.schema.json', '');
  return out;
}

/** The field names in the first column of README's table ("x.*" covering x and all under it). */
function tableFields(): string[] {
  const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
  const section = readme.split('\n## Configuration fields\n')[1]?.split('\n## ')[0];
  if (!section) throw new Error('README.md has no "Configuration fields" section');
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...line.split('|')[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]));
}

const covers = (row: string, field: string) =>
  row === field || (row.endsWith('.*') && (field === row.slice(0, -2) || field.startsWith(row.slice(0, -1)) || field.startsWith(`${row.slice(0, -2)}[]`)));

describe("README's configuration fields table", () => {
  const fields = schemaFields();
  const rows = tableFields();

  // An object whose fields have rows of their own (root, process, linux.resources...) needs none.
  const isParent = (field: string) => rows.some((r) => r.startsWith(`${field}.`) || r.startsWith(`${field}[]`));

  it('lists every field the schemas accept', () => {
    expect(fields.size).toBeGreaterThan(100);
    expect([...fields].filter((f) => !rows.some((r) => covers(r, f)) && !isParent(f))).toEqual([]);
  });

  it('lists no field the schemas do not have', () => {
    expect(rows.filter((r) => ![...fields].some((f) => covers(r, f)))).toEqual([]);
  });

  it('lists each field once', () => {
    expect([...fields].filter((f) => rows.filter((r) => covers(r, f)).length > 1)).toEqual([]);
  });
});
