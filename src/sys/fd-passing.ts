// Passing file descriptors over AF_UNIX sockets (unix(7), SCM_RIGHTS): how
// the pty master reaches the console socket and a seccomp notify fd its
// listener. Node cannot do this itself, so sendmsg/recvmsg go through koffi.
import { SysError, koffi, libc } from './libc.js';
import { OciError } from '../errors.js';

const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const CMSG_HEADER = 16; // cmsg_len (size_t), cmsg_level, cmsg_type (int): LP64 layout
const MSG_CMSG_CLOEXEC = 0x40000000;

// Declared on first use: at load they would bring koffi into every create.
let calls: { sendmsg: (...args: unknown[]) => unknown; recvmsg: (...args: unknown[]) => unknown } | undefined;
function msgCalls() {
  if (!calls) {
    const iovec = koffi.struct('ocirun_iovec', { base: 'void *', len: 'size_t' });
    koffi.struct('ocirun_msghdr', {
      name: 'void *',
      namelen: 'uint32_t',
      iov: koffi.pointer(iovec),
      iovlen: 'size_t',
      control: 'void *',
      controllen: 'size_t',
      flags: 'int',
    });
    calls = {
      sendmsg: libc.func('long sendmsg(int fd, const ocirun_msghdr *msg, int flags)'),
      recvmsg: libc.func('long recvmsg(int fd, _Inout_ ocirun_msghdr *msg, int flags)'),
    };
  }
  return calls;
}

export function sendFd(socketFd: number, fd: number, payload: string): void {
  const data = Buffer.from(payload.length > 0 ? payload : '\0');
  const control = Buffer.alloc(CMSG_HEADER + 8);
  control.writeBigUInt64LE(BigInt(CMSG_HEADER + 4), 0);
  control.writeInt32LE(SOL_SOCKET, 8);
  control.writeInt32LE(SCM_RIGHTS, 12);
  control.writeInt32LE(fd, 16);
  const msg = { name: null, namelen: 0, iov: { base: data, len: data.length }, iovlen: 1, control, controllen: control.length, flags: 0 };
  if (Number(msgCalls().sendmsg(socketFd, msg, 0)) < 0) throw new SysError('sendmsg', koffi.errno());
}

/** Receives one fd (close-on-exec) and the message that came with it. */
export function recvFd(socketFd: number): { fd: number; payload: string } {
  const data = Buffer.alloc(4096);
  const control = Buffer.alloc(CMSG_HEADER + 8);
  const msg = { name: null, namelen: 0, iov: { base: data, len: data.length }, iovlen: 1, control, controllen: control.length, flags: 0 };
  const n = Number(msgCalls().recvmsg(socketFd, msg, MSG_CMSG_CLOEXEC));
  if (n < 0) throw new SysError('recvmsg', koffi.errno());
  if (control.readInt32LE(8) !== SOL_SOCKET || control.readInt32LE(12) !== SCM_RIGHTS) {
    throw new OciError('system', 'no file descriptor came with the message');
  }
  return { fd: control.readInt32LE(16), payload: data.subarray(0, n).toString() };
}
