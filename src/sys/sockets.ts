// Sockets: AF_UNIX stream and datagram sockets, socket pairs, poll.
import { check, E, f, koffi, SysError } from './ffi.js';

/** poll one fd for events; returns revents, 0 on timeout. */
export function pollOne(fd: number, events: number, timeoutMs: number): number {
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(events, 4);
  for (;;) {
    const r = Number(f.poll(pfd, 1, timeoutMs));
    if (r >= 0) return r === 0 ? 0 : pfd.readInt16LE(6);
    if (koffi.errno() !== E.EINTR) throw new SysError('poll', koffi.errno());
  }
}
export const POLLIN = 0x1;
export const POLLHUP = 0x10;

export function socketpair(type: number): [number, number] {
  const sv = [0, 0];
  check(f.socketpair(1 /* AF_UNIX */, type, 0, sv), 'socketpair');
  return [sv[0], sv[1]];
}
export const SOCK_SEQPACKET = 5;
export const SOCK_CLOEXEC = 0o2000000;

/** socket(2), close-on-exec. */
export function socket(domain: number, type: number): number {
  return check(f.socket(domain, type | SOCK_CLOEXEC, 0), 'socket');
}

/**
 * struct sockaddr_un for a path, or for an abstract address written "@name"
 * (unix(7): a leading NUL byte, and no terminating one).
 */
function unixAddress(path: string): { addr: Buffer; len: number } {
  const name = Buffer.from(path.startsWith('@') ? `\0${path.slice(1)}` : path);
  if (name.length > 107) throw new SysError('bind', 36 /* ENAMETOOLONG */, path);
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(1 /* AF_UNIX */, 0);
  name.copy(addr, 2);
  return { addr, len: 2 + name.length + (path.startsWith('@') ? 0 : 1) };
}

/** An AF_UNIX datagram socket bound to `path`, non-blocking and close-on-exec. */
export function bindUnixDatagram(path: string): number {
  const fd = check(f.socket(1 /* AF_UNIX */, 2 /* SOCK_DGRAM */ | SOCK_CLOEXEC | 0o4000 /* SOCK_NONBLOCK */, 0), 'socket', path);
  const { addr, len } = unixAddress(path);
  try {
    check(f.bind(fd, addr, len), 'bind', path);
  } catch (err) {
    f.close(fd);
    throw err;
  }
  return fd;
}

/** The next datagram waiting on a non-blocking socket, or null when there is none. */
export function receiveDatagram(fd: number): Buffer | null {
  const buf = Buffer.alloc(4096);
  const n = Number(f.recv(fd, buf, buf.length, 0));
  if (n >= 0) return buf.subarray(0, n);
  if (koffi.errno() === E.EWOULDBLOCK || koffi.errno() === E.EINTR) return null;
  throw new SysError('recv', koffi.errno());
}

/** One datagram from `fd` to the socket at `path` (or "@abstract"). */
export function sendDatagram(fd: number, path: string, data: Buffer): void {
  const { addr, len } = unixAddress(path);
  check(f.sendto(fd, data, data.length, 0, addr, len), 'sendto', path);
}

/** A connected AF_UNIX stream socket (close-on-exec). */
export function connectUnix(path: string): number {
  const fd = check(f.socket(1 /* AF_UNIX */, 1 /* SOCK_STREAM */ | SOCK_CLOEXEC, 0), 'socket', path);
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(1, 0);
  if (Buffer.byteLength(path) > 107) throw new SysError('connect', 36 /* ENAMETOOLONG */, path);
  addr.write(path, 2);
  try {
    check(f.connect(fd, addr, 2 + Buffer.byteLength(path) + 1), 'connect', path);
  } catch (err) {
    f.close(fd);
    throw err;
  }
  return fd;
}
