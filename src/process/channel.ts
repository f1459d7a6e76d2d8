// The parent and the container's init talk over a SOCK_SEQPACKET socketpair,
// one JSON message per packet. Both sides read synchronously: the init must
// never return to Node's event loop (it is a forked copy of the runtime whose
// helper threads do not exist), and the parent has nothing else to do.
import type { ErrorCode } from '../errors.js';
import type { HookState } from '../hooks/hooks.js';
import { SOCK_CLOEXEC, SOCK_SEQPACKET, close, read, socketpair, write } from '../sys/libc.js';

export type Message =
  | { type: 'go' }
  | { type: 'ok' }
  | { type: 'need-maps' }
  | { type: 'init-pid'; pid: number }
  | { type: 'ready' }
  /** Followed by one packet carrying the seccomp notify fd (SCM_RIGHTS). */
  | { type: 'seccomp-notify-fd' }
  /** The init's rootfs is mounted, not yet pivoted into: run prestart and createRuntime hooks. */
  | { type: 'hooks' }
  /** They ran: the state for the hooks the init runs itself. */
  | { type: 'hooks-done'; state: HookState }
  /** Already worded for the user (see initFailure in init.ts). */
  | { type: 'error'; message: string; code: ErrorCode };

export class Channel {
  constructor(public fd: number) {}

  static pair(): [Channel, Channel] {
    const [a, b] = socketpair(SOCK_SEQPACKET | SOCK_CLOEXEC);
    return [new Channel(a), new Channel(b)];
  }

  send(message: Message): void {
    write(this.fd, JSON.stringify(message));
  }

  /** null when the other side has gone (every copy of its end closed). */
  receive(): Message | null {
    const data = read(this.fd, 65536);
    return data.length === 0 ? null : (JSON.parse(data.toString()) as Message);
  }

  close(): void {
    if (this.fd >= 0) close(this.fd);
    this.fd = -1;
  }
}
