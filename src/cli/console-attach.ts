// Attaching the caller's terminal to a container's pty when ocirun itself
// holds the console (run or exec in the foreground with process.terminal and
// no --console-socket), as runc does: the init sends the pty master over a
// socketpair, and this process copies bytes both ways in raw mode.
import tty from 'node:tty';
import { SOCK_CLOEXEC, close, socketpair } from '../sys/libc.js';
import { recvFd } from '../sys/fd-passing.js';
import { setWindowSize } from '../linux/console.js';

const SOCK_STREAM = 1;

export class ConsoleAttach {
  private readonly ends: [number, number];
  private master = -1;
  private restore: (() => void)[] = [];
  private drained: Promise<void> = Promise.resolve();

  constructor() {
    this.ends = socketpair(SOCK_STREAM | SOCK_CLOEXEC);
  }

  /** The end to hand to the spawner as consoleSocket. */
  get initEnd(): { fd: number } {
    return { fd: this.ends[1] };
  }

  /** After the init is ready: take the master and start copying. */
  attach(): void {
    this.master = recvFd(this.ends[0]).fd;
    close(this.ends[0]);
    const fromPty = new tty.ReadStream(this.master);
    const toPty = new tty.WriteStream(this.master);
    // Reading the master fails with EIO once the last slave fd is closed and
    // everything written before has been read: that is the end of output.
    this.drained = new Promise((resolve) => {
      fromPty.on('error', () => resolve());
      fromPty.on('end', () => resolve());
    });
    toPty.on('error', () => {});
    fromPty.pipe(process.stdout, { end: false });
    const stdin = process.stdin;
    if (stdin.isTTY) {
      stdin.setRawMode(true);
      this.restore.push(() => stdin.setRawMode(false));
    }
    stdin.pipe(toPty);
    const resize = () => {
      if (process.stdout.isTTY) setWindowSize(this.master, { height: process.stdout.rows, width: process.stdout.columns });
    };
    resize();
    process.on('SIGWINCH', resize);
    this.restore.push(() => {
      process.off('SIGWINCH', resize);
      stdin.unpipe(toPty);
      stdin.pause();
      fromPty.destroy();
      toPty.destroy();
    });
  }

  /**
   * Once the container's process has exited: copies what is still buffered in
   * the pty (bounded: a daemon may keep the terminal open), then restores the
   * caller's terminal.
   */
  async detach(): Promise<void> {
    await Promise.race([this.drained, new Promise((resolve) => setTimeout(resolve, 1000))]);
    for (const undo of this.restore.reverse()) undo();
  }
}
