// process.terminal: the init makes a pty inside the container (its own devpts
// instance), makes the slave its controlling terminal and stdio, and sends the
// master over the console socket the runtime connected to (runc's protocol,
// which containerd and podman read).
import { fstatSync } from 'node:fs';
import { mount, MS, O, RESOLVE, SysError, close, dup3, ioctl, ioctlInt, openat, openat2, unlinkat } from '../sys/libc.js';
import { sendFd } from '../sys/fd-passing.js';
import { makedev } from './devices.js';
import { ensureInRoot, fdPath, openRoot } from './paths.js';
import { OciError, wrap } from '../errors.js';

const TIOCSPTLCK = 0x40045431;
const TIOCGPTPEER = 0x5441;
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
  const master = openPtmx();
  let slave = -1;
  try {
    ioctl(master, TIOCSPTLCK, Buffer.alloc(4), 'unlock pty');
    // The master's own peer (Linux 4.13), not a /dev/pts/N path the container could have replaced.
    slave = ioctlInt(master, TIOCGPTPEER, O.RDWR | O.NOCTTY, "open the pty's peer");
    if (size) setWindowSize(master, size);
    if (bindConsole) bindDevConsole(slave);
    sendFd(consoleSocketFd, master, '/dev/ptmx');
    ioctlInt(slave, TIOCSCTTY, 0, 'set controlling terminal');
    for (let fd = 0; fd < 3; fd++) dup3(slave, fd, 0);
  } finally {
    close(master);
    if (slave > 2) close(slave);
    close(consoleSocketFd);
  }
}

/** The container's /dev/ptmx, found inside its root without magic links, and checked to be the pty multiplexer. */
function openPtmx(): number {
  const rootFd = openRoot('/');
  try {
    const fd = openat2(rootFd, 'dev/ptmx', O.RDWR | O.NOCTTY | O.CLOEXEC, 0, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS);
    const st = fstatSync(fd);
    if (st.isCharacterDevice() && BigInt(st.rdev) === makedev(5, 2)) return fd;
    close(fd);
    throw new OciError('container-init', '/dev/ptmx is not the pty multiplexer (character device 5:2)');
  } finally {
    close(rootFd);
  }
}

/**
 * /dev/console becomes the pty: a mount onto a file made here, never through
 * a symlink the image put there, which would carry the pty over whatever it
 * names (CVE-2025-52565).
 */
function bindDevConsole(slave: number): void {
  const rootFd = openRoot('/');
  const devFd = ensureInRoot(rootFd, '/dev', 'dir');
  let target = -1;
  try {
    target = openConsoleFile(devFd);
    mount(fdPath(slave), fdPath(target), null, MS.BIND, null);
  } catch (err) {
    throw wrap(err, '/dev/console');
  } finally {
    if (target >= 0) close(target);
    close(devFd);
    close(rootFd);
  }
}

/** O_PATH fd of dev/console as a regular file or a device; anything else there is removed first. */
function openConsoleFile(devFd: number): number {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      close(openat(devFd, 'console', O.CREAT | O.EXCL | O.NOFOLLOW | O.WRONLY | O.CLOEXEC, 0o600));
    } catch (err) {
      if (!(err instanceof SysError && err.code === 'EEXIST')) throw err;
    }
    const fd = openat(devFd, 'console', O.PATH | O.NOFOLLOW | O.CLOEXEC);
    const st = fstatSync(fd);
    if (st.isFile() || st.isCharacterDevice()) return fd;
    close(fd);
    unlinkat(devFd, 'console', 0);
  }
  throw new OciError('container-init', 'cannot be made a file');
}
