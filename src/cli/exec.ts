// `exec`: run a process in a running container, from --process FILE or from
// the command line on top of the container's own process settings (as runc).
import { readFileSync } from 'node:fs';
import { OciError, wrap } from '../errors.js';
import type { Globals } from './globals.js';
import { writePidFile } from '../lifecycle/create.js';
import { execInContainer, openForExec } from '../lifecycle/exec.js';
import type { Process, Spec } from '../spec/types.js';
import { formatProblems, validateConfig } from '../spec/validate.js';
import { PR, prctl } from '../sys/libc.js';
import { waitForwardingSignals } from './wait.js';
import { attachConsole, idArgument, preservedFds, storeFor } from './options.js';

export default async function exec(globals: Globals, args: string[], o: Record<string, unknown>): Promise<number> {
  const preserveFds = preservedFds(o.preserveFds, 0);
  const [id, ...command] = args;
  const container = openForExec(storeFor(globals), id);
  const processSpec = o.process ? readProcessFile(String(o.process)) : processFromFlags((container.state.config as Spec).process!, command, o);
  if (o.detach && processSpec.terminal && !o.consoleSocket) {
    throw new OciError('usage', '--tty with --detach needs --console-socket');
  }
  if (!o.detach) prctl(PR.SET_CHILD_SUBREAPER, 1);
  const attach = !o.detach && processSpec.terminal && !o.consoleSocket ? await attachConsole() : null;
  const { pid } = execInContainer(container, {
    process: processSpec,
    consoleSocket: attach ? attach.initEnd : (o.consoleSocket as string | undefined),
    preserveFds,
    subCgroups: parseSubCgroups((o.cgroup as string[] | undefined) ?? []),
  });
  if (o.pidFile) writePidFile(String(o.pidFile), pid);
  if (o.detach) return 0;
  attach?.attach();
  const code = await waitForwardingSignals(pid);
  await attach?.detach();
  return code;
}

/** process.json, checked with the same schema as config.json's process. */
function readProcessFile(file: string): Process {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw wrap(err, `--process ${file}`, { code: 'invalid-config' });
  }
  const problems = validateConfig({ ociVersion: '1.3.0', root: { path: '/' }, process: raw }, '/')
    .filter((p) => p.pointer.startsWith('/process'))
    .map((p) => ({ ...p, pointer: p.pointer.slice('/process'.length) }));
  if (problems.length > 0) {
    const lines = formatProblems(problems, file);
    throw new OciError('invalid-config', lines[0], lines.slice(1));
  }
  return raw as Process;
}

function processFromFlags(base: Process, command: string[], o: Record<string, unknown>): Process {
  if (command.length === 0) throw new OciError('usage', 'exec needs a command, or --process FILE');
  const p: Process = structuredClone(base);
  p.args = command;
  p.terminal = !!o.tty;
  delete p.consoleSize;
  if (o.cwd) p.cwd = String(o.cwd);
  const env = (o.env as string[] | undefined) ?? [];
  for (const e of env) {
    if (!e.includes('=')) throw new OciError('usage', `--env ${JSON.stringify(e)}: use NAME=value`);
  }
  p.env = [...(p.env ?? []), ...env];
  // As runc: --user UID keeps the config's gid, and --additional-gids adds to its groups.
  if (o.user) p.user = { gid: 0, ...p.user, ...parseUser(String(o.user)) };
  const gids = ((o.additionalGids as string[] | undefined) ?? []).map((g) => idArgument(g, '--additional-gids'));
  if (gids.length > 0) p.user = { uid: 0, gid: 0, ...p.user, additionalGids: [...(p.user?.additionalGids ?? []), ...gids] };
  const caps = (o.cap as string[] | undefined) ?? [];
  if (caps.length > 0) {
    const c = (p.capabilities ??= {});
    for (const set of ['bounding', 'effective', 'permitted'] as const) c[set] = [...new Set([...(c[set] ?? []), ...caps])];
  }
  if (o.newPrivs === false) p.noNewPrivileges = true; // commander reads --no-new-privs as newPrivs: false
  if (o.apparmor) p.apparmorProfile = String(o.apparmor);
  if (o.processLabel) p.selinuxLabel = String(o.processLabel);
  return p;
}

function parseUser(text: string): { uid: number; gid?: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(text);
  if (!m) throw new OciError('usage', `--user ${JSON.stringify(text)}: use UID or UID:GID (numbers)`);
  const uid = idArgument(m[1], '--user');
  return m[2] === undefined ? { uid } : { uid, gid: idArgument(m[2], '--user') };
}

/**
 * runc's --cgroup: one PATH for every hierarchy (the only form on cgroup v2),
 * or CONTROLLER[,CONTROLLER...]:PATH per controller (cgroup v1). Returns
 * controller → path, "" for every hierarchy.
 */
export function parseSubCgroups(args: string[]): Map<string, string> {
  const paths = new Map<string, string>();
  for (const arg of args) {
    const colon = arg.indexOf(':');
    if (colon < 0) {
      if (args.length !== 1)
        throw new OciError('usage', `--cgroup ${JSON.stringify(arg)}: missing <controller>: prefix (needed when --cgroup is given more than once)`);
      paths.set('', arg);
      continue;
    }
    for (const controller of arg.slice(0, colon).split(',')) {
      if (controller === '') throw new OciError('usage', `--cgroup ${JSON.stringify(arg)}: empty <controller> prefix`);
      if (paths.has(controller)) throw new OciError('usage', `--cgroup ${JSON.stringify(arg)}: controller ${controller} is given more than once`);
      paths.set(controller, arg.slice(colon + 1));
    }
  }
  return paths;
}
