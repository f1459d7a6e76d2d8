// rtnetlink(7) over an AF_NETLINK/NETLINK_ROUTE socket: the few link and
// address requests the runtime makes (looking up, moving and bringing up
// network interfaces, reading and adding their addresses). Messages are laid
// out by hand, as netlink(7) and rtnetlink(7) define them (linux/netlink.h,
// linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h).
import { SysError, koffi, libc } from '../sys/libc.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const NLMSG_HDRLEN = 16;

const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;

const IFLA_IFNAME = 3;
const IFLA_NET_NS_FD = 28;
const IFINFOMSG_LEN = 16;
export const IFF_UP = 0x1;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const IFA_FLAGS = 8;
const IFADDRMSG_LEN = 8;
const IFA_F_PERMANENT = 0x80;
const RT_SCOPE_UNIVERSE = 0;

export interface Link {
  index: number;
  name: string;
  flags: number;
}

/** An address as RTM_GETADDR reports it: enough to add it again elsewhere. */
export interface Address {
  family: number;
  prefixLength: number;
  scope: number;
  flags: number;
  /** IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST and IFA_FLAGS, as the kernel gave them. */
  attributes: { type: number; data: Buffer }[];
}

interface Calls {
  socket(domain: number, type: number, protocol: number): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  close(fd: number): number;
}
let calls: Calls | undefined;
function c(): Calls {
  calls ??= {
    socket: libc.func('int socket(int domain, int type, int protocol)'),
    send: libc.func('long send(int fd, const uint8_t *buf, size_t len, int flags)'),
    recv: libc.func('long recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)'),
    close: libc.func('int close(int fd)'),
  } as Calls;
  return calls;
}

/** A netlink error answer: errno is the kernel's (positive). */
export class NetlinkError extends SysError {}

function attribute(type: number, data: Buffer): Buffer {
  const len = 4 + data.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  data.copy(out, 4);
  return out;
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value, 0);
  return b;
}

function cString(text: string): Buffer {
  return Buffer.concat([Buffer.from(text), Buffer.alloc(1)]);
}

function ifinfomsg(index: number, flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

function parseAttributes(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let off = 0; off + 4 <= buf.length;) {
    const len = buf.readUInt16LE(off);
    if (len < 4) break;
    out.set(buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}

function parseLink(payload: Buffer): Link {
  const attrs = parseAttributes(payload.subarray(IFINFOMSG_LEN));
  const name = attrs.get(IFLA_IFNAME);
  return {
    index: payload.readInt32LE(4),
    flags: payload.readUInt32LE(8),
    name: name ? name.subarray(0, name.indexOf(0) < 0 ? name.length : name.indexOf(0)).toString() : '',
  };
}

/** A NETLINK_ROUTE socket in the network namespace of the thread that opened it. */
export class RouteSocket {
  private seq = 0;
  private constructor(readonly fd: number) {}

  static open(): RouteSocket {
    const fd = Number(c().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (fd < 0) throw new SysError('socket', koffi.errno(), 'AF_NETLINK');
    return new RouteSocket(fd);
  }

  close(): void {
    c().close(this.fd);
  }

  /** Sends one request and returns the payloads of the answers (for a dump: every part of it). */
  private request(type: number, flags: number, body: Buffer, what: string): { type: number; payload: Buffer }[] {
    const seq = ++this.seq;
    const header = Buffer.alloc(NLMSG_HDRLEN);
    header.writeUInt32LE(NLMSG_HDRLEN + body.length, 0);
    header.writeUInt16LE(type, 4);
    header.writeUInt16LE(NLM_F_REQUEST | flags, 6);
    header.writeUInt32LE(seq, 8);
    const message = Buffer.concat([header, body]);
    if (Number(c().send(this.fd, message, message.length, 0)) < 0) throw new SysError('send', koffi.errno(), what);
    const answers: { type: number; payload: Buffer }[] = [];
    const buf = Buffer.alloc(65536);
    for (;;) {
      const n = Number(c().recv(this.fd, buf, buf.length, 0));
      if (n < 0) {
        if (koffi.errno() === 4 /* EINTR */) continue;
        throw new SysError('recv', koffi.errno(), what);
      }
      for (let off = 0; off + NLMSG_HDRLEN <= n;) {
        const len = buf.readUInt32LE(off);
        const msgType = buf.readUInt16LE(off + 4);
        const msgSeq = buf.readUInt32LE(off + 8);
        if (len < NLMSG_HDRLEN) break;
        const payload = Buffer.from(buf.subarray(off + NLMSG_HDRLEN, off + len));
        off += (len + 3) & ~3;
        if (msgSeq !== seq) continue;
        if (msgType === NLMSG_DONE) return answers;
        if (msgType === NLMSG_ERROR) {
          const errno = -payload.readInt32LE(0);
          if (errno !== 0) throw new NetlinkError(what, errno);
          return answers; // the acknowledgement
        }
        answers.push({ type: msgType, payload });
        if ((flags & NLM_F_DUMP) === 0 && (flags & NLM_F_ACK) === 0) return answers;
      }
    }
  }

  /** The interface of that name, or null when there is none (ENODEV). */
  linkByName(name: string): Link | null {
    try {
      const [answer] = this.request(RTM_GETLINK, 0, Buffer.concat([ifinfomsg(0), attribute(IFLA_IFNAME, cString(name))]), `RTM_GETLINK ${name}`);
      return answer ? parseLink(answer.payload) : null;
    } catch (err) {
      if (err instanceof NetlinkError && err.code === 'ENODEV') return null;
      throw err;
    }
  }

  links(): Link[] {
    return this.request(RTM_GETLINK, NLM_F_DUMP, ifinfomsg(0), 'RTM_GETLINK')
      .filter((a) => a.type === RTM_NEWLINK)
      .map((a) => parseLink(a.payload));
  }

  /**
   * Moves an interface into the network namespace behind `netnsFd`, named
   * `name` there (a name with "%d" lets the kernel pick a free one; an
   * existing name is EEXIST).
   */
  moveLink(index: number, name: string, netnsFd: number): void {
    const body = Buffer.concat([ifinfomsg(index), attribute(IFLA_IFNAME, cString(name)), attribute(IFLA_NET_NS_FD, u32(netnsFd))]);
    this.request(RTM_NEWLINK, NLM_F_ACK, body, `RTM_NEWLINK moving ${name}`);
  }

  setLinkUp(index: number, what: string): void {
    this.request(RTM_NEWLINK, NLM_F_ACK, ifinfomsg(index, IFF_UP, IFF_UP), `RTM_NEWLINK setting ${what} up`);
  }

  /** The addresses of an interface that are permanent (IFA_F_PERMANENT) and of global scope (RT_SCOPE_UNIVERSE), any family. */
  permanentGlobalAddresses(index: number): Address[] {
    const answers = this.request(RTM_GETADDR, NLM_F_DUMP, Buffer.alloc(IFADDRMSG_LEN), 'RTM_GETADDR');
    const out: Address[] = [];
    for (const { type, payload } of answers) {
      if (type !== RTM_NEWADDR || payload.readUInt32LE(4) !== index) continue;
      const attrs = parseAttributes(payload.subarray(IFADDRMSG_LEN));
      const flagsAttr = attrs.get(IFA_FLAGS);
      const flags = flagsAttr ? flagsAttr.readUInt32LE(0) : payload.readUInt8(2);
      const scope = payload.readUInt8(3);
      if ((flags & IFA_F_PERMANENT) === 0 || scope !== RT_SCOPE_UNIVERSE) continue;
      out.push({
        family: payload.readUInt8(0),
        prefixLength: payload.readUInt8(1),
        scope,
        flags,
        attributes: [IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST, IFA_FLAGS].flatMap((t) => (attrs.has(t) ? [{ type: t, data: attrs.get(t)! }] : [])),
      });
    }
    return out;
  }

  addAddress(index: number, address: Address, what: string): void {
    const msg = Buffer.alloc(IFADDRMSG_LEN);
    msg.writeUInt8(address.family, 0);
    msg.writeUInt8(address.prefixLength, 1);
    msg.writeUInt8(address.flags & 0xff, 2);
    msg.writeUInt8(address.scope, 3);
    msg.writeUInt32LE(index, 4);
    const body = Buffer.concat([msg, ...address.attributes.map((a) => attribute(a.type, a.data))]);
    // NLM_F_CREATE | NLM_F_EXCL: a new address, as `ip address add` asks.
    this.request(RTM_NEWADDR, NLM_F_ACK | 0x400 | 0x200, body, what);
  }
}

/** "192.0.2.1/24" or "2001:db8::1/64", for messages. */
export function formatAddress(address: Address): string {
  const data = (address.attributes.find((a) => a.type === IFA_LOCAL) ?? address.attributes.find((a) => a.type === IFA_ADDRESS))?.data;
  if (!data) return '?';
  const text = data.length === 4 ? [...data].join('.') : [...Array(data.length / 2).keys()].map((i) => data.readUInt16BE(i * 2).toString(16)).join(':');
  return `${text}/${address.prefixLength}`;
}
