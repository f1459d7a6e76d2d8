// Hooks (runtime-spec config.md "POSIX-platform Hooks", runtime.md
// "Lifecycle"): each hook runs to completion, in the order listed, with the
// container's state on its stdin. The same code runs them from the runtime
// (prestart, createRuntime, poststart, poststop) and from the container's init
// (createContainer, startContainer), so it uses posix_spawn and polling only:
// no event loop, no child_process.
import { OciError } from '../errors.js';
import { warn } from '../log.js';
import { SPEC_VERSION } from '../spec/default-spec.js';
import type { Hook, Hooks } from '../spec/types.js';
import type { SpecStatus } from '../state/status.js';
import { O, POLLIN, SysError, WNOHANG, close, memfdWith, pipe2, pollOne, posixSpawn, read, setNonBlocking, strerror, tryKill, waitpid } from '../sys/libc.js';
import { sleepMs } from '../sys/proc.js';

export type HookKind = keyof Hooks;

/** The state passed on stdin (runtime.md "State"). */
export interface HookState {
  ociVersion: string;
  id: string;
  status: SpecStatus;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** Hook output quoted in an error: its last bytes, on one line. */
const OUTPUT_TAIL = 400;

export function stateForHooks(
  container: { id: string; bundle: string; annotations?: Record<string, string> },
  status: HookState['status'],
  pid?: number,
): HookState {
  return { ociVersion: SPEC_VERSION, id: container.id, status, pid, bundle: container.bundle, annotations: container.annotations };
}

export function hasHooks(hooks: Hooks | undefined, ...kinds: HookKind[]): boolean {
  return kinds.some((kind) => (hooks?.[kind]?.length ?? 0) > 0);
}

/**
 * Runs the hooks of one kind; the first that fails stops the rest and is
 * thrown as an OciError with code 'hook-failed'. A hook without `env` gets
 * `defaultEnv`, or else the runtime's environment.
 */
export function runHooks(kind: HookKind, hooks: Hooks | undefined, state: HookState, defaultEnv?: string[]): void {
  const list = hooks?.[kind] ?? [];
  list.forEach((hook, index) => {
    const failure = runHook(hook, state, defaultEnv);
    if (failure) throw new OciError('hook-failed', `${kind} hook #${index} (${hook.path}) ${failure}`);
  });
}

/** For the hooks whose failure is only a warning (poststop): every hook runs. */
export function runHooksWarning(kind: HookKind, hooks: Hooks | undefined, state: HookState): void {
  (hooks?.[kind] ?? []).forEach((hook, index) => {
    const failure = runHook(hook, state);
    if (failure) warn(`${kind} hook #${index} (${hook.path}) ${failure}`);
  });
}

/** Runs one hook; returns why it failed, or null. */
function runHook(hook: Hook, state: HookState, defaultEnv?: string[]): string | null {
  const argv = hook.args?.length ? hook.args : [hook.path];
  // Without env a hook on the host inherits the runtime's environment, as with runc.
  const env = hook.env ?? defaultEnv ?? Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ''}`);
  const stdin = memfdWith('hook-state', Buffer.from(JSON.stringify(state)));
  const [outRead, outWrite] = pipe2(O.CLOEXEC);
  let pid: number;
  try {
    pid = posixSpawn(hook.path, argv, env, [stdin, outWrite, outWrite]);
  } catch (err) {
    close(outRead);
    return `could not be started: ${err instanceof SysError ? `${err.code} (${strerror(err.errno)})` : String(err)}`;
  } finally {
    close(stdin);
    close(outWrite);
  }
  const output = new OutputTail(outRead);
  try {
    const deadline = hook.timeout ? Date.now() + hook.timeout * 1000 : Infinity;
    for (;;) {
      const [reaped, status] = waitpid(pid, WNOHANG);
      if (reaped === pid) {
        output.drain();
        const how = describeStatus(status);
        return how ? output.quote(how) : null;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        tryKill(pid, 9);
        waitpid(pid);
        output.drain();
        return output.quote(`timed out after ${hook.timeout} s and was killed`);
      }
      output.waitAndDrain(Math.min(left, 50));
    }
  } finally {
    output.close();
  }
}

function describeStatus(status: number): string | null {
  const signal = status & 0x7f;
  if (signal) return `was killed by signal ${signal}`;
  const code = (status >> 8) & 0xff;
  return code === 0 ? null : `exited with status ${code}`;
}

/** Keeps the last bytes a hook wrote to stdout and stderr, without ever blocking on them. */
class OutputTail {
  private tail = Buffer.alloc(0);
  private eof = false;

  constructor(private fd: number) {
    setNonBlocking(fd);
  }

  waitAndDrain(ms: number): void {
    // Once the hook closed its output, poll would return at once: sleep instead.
    if (this.eof) sleepMs(Math.min(ms, 10));
    else if (pollOne(this.fd, POLLIN, ms)) this.drain();
  }

  drain(): void {
    while (!this.eof) {
      let chunk: Buffer;
      try {
        chunk = read(this.fd, 4096);
      } catch {
        return; // EAGAIN: nothing more for now
      }
      if (chunk.length === 0) this.eof = true;
      this.tail = Buffer.concat([this.tail, chunk]).subarray(-OUTPUT_TAIL);
    }
  }

  quote(failure: string): string {
    const text = this.tail.toString().replace(/\s+/g, ' ').trim();
    return text ? `${failure}: ${text}` : failure;
  }

  close(): void {
    close(this.fd);
  }
}
