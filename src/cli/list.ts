import type { Globals } from './globals.js';
import { fromState } from '../lifecycle/container.js';
import { publicState } from '../lifecycle/query.js';
import { OciError } from '../errors.js';
import type { Store } from '../state/store.js';
import { storeFor, writeOut } from './options.js';

type Row = ReturnType<typeof publicState>;

function rows(store: Store): Row[] {
  const result: Row[] = [];
  for (const id of store.ids()) {
    try {
      const state = store.read(id);
      if (state) result.push(publicState(fromState(store, state)));
    } catch (err) {
      // A container whose state is unreadable is still listed by id elsewhere
      // (delete --force cleans it); it must not hide the others.
      if (!(err instanceof OciError)) throw err;
    }
  }
  return result;
}

function table(list: Row[]): string {
  const header = ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'];
  const lines = [header, ...list.map((r) => [r.id, String(r.pid), r.status, r.bundle, r.created, r.owner])];
  const widths = header.map((_, col) => Math.max(...lines.map((l) => l[col].length)));
  return (
    lines
      .map((l) =>
        l
          .map((cell, col) => (col === l.length - 1 ? cell : cell.padEnd(widths[col] + 3)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export default function list(globals: Globals, _args: string[], o: Record<string, unknown>): number {
  const all = rows(storeFor(globals));
  if (o.quiet) writeOut(all.map((r) => `${r.id}\n`).join(''));
  else if (o.format === 'json') writeOut(`${JSON.stringify(all)}\n`);
  else writeOut(table(all));
  return 0;
}
