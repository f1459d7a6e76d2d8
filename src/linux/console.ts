// process.terminal: the init makes a pty inside the container (its own devpts
// instance), makes the slave its controlling terminal and stdio, and sends the
// master over the console socket the runtime connected to (runc's protocol,
// which containerd and podman read).
import { mount, MS, O, close, dup3, ioctl, ioctlInt, open } from '../sys/libc.js';
import { sendFd } from '../sys/fd-passing.js';

const TIOCSPTLCK = 0x40045431;
const TIOCGPTN = 0x80045430;
const TIOCSWINSZ = 0x5414;
const TIOCSCTTY = 0x540e;

export interface ConsoleSize {
  height: number;
  width: number;
}

export function setWindowSize(fd: number, size: ConsoleSize): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(size.height, 0);
  ws.writeUInt16LE(size.width, 2);
  ioctl(fd, TIOCSWINSZ, ws, 'TIOCSWINSZ');
}

/**
 * Creates the pty, hands the master to `consoleSocketFd`, and makes the slave
 * fds 0-2 and the controlling terminal (the caller must lead its session).
 * With `bindConsole`, the slave is also bind-mounted on /dev/console.
 */
export function setupTerminal(consoleSocketFd: number, size: ConsoleSize | undefined, bindConsole: boolean): void {
  const master = open('/dev/ptmx', O.RDWR | O.NOCTTY | O.CLOEXEC);
  let slave = -1;
  try {
    ioctl(master, TIOCSPTLCK, Buffer.alloc(4), 'unlock pty');
    const ptn = Buffer.alloc(4);
    ioctl(master, TIOCGPTN, ptn, 'pty number');
    const slavePath = `/dev/pts/${ptn.readUInt32LE(0)}`;
    slave = open(slavePath, O.RDWR | O.NOCTTY);
    if (size) setWindowSize(master, size);
    if (bindConsole) bindDevConsole(slavePath);
    sendFd(consoleSocketFd, master, '/dev/ptmx');
    ioctlInt(slave, TIOCSCTTY, 0, 'set controlling terminal');
    for (let fd = 0; fd < 3; fd++) dup3(slave, fd, 0);
  } finally {
    close(master);
    if (slave > 2) close(slave);
    close(consoleSocketFd);
  }
}

function bindDevConsole(slavePath: string): void {
  try {
    close(open('/dev/console', O.CREAT | O.WRONLY | O.NOFOLLOW | O.CLOEXEC, 0o600));
  } catch {
    // already a device or file: mount over it
  }
  mount(slavePath, '/dev/console', null, MS.BIND, null);
}
