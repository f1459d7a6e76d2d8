// A minimal, synchronous D-Bus client for systemd's private socket
// (/run/systemd/private: peer to peer with PID 1, root only, no bus daemon and
// so no Hello). Just what the systemd cgroup driver needs: method calls with
// the handful of argument types of org.freedesktop.systemd1.Manager, and
// waiting for a signal. Wire format: the D-Bus specification, "Message
// Protocol" (little-endian, header fields array(struct(byte, variant)),
// body aligned to 8).
import { OciError } from '../errors.js';
import { close, connectUnix, pollOne, read, write } from '../sys/libc.js';

/** A value to marshal: its D-Bus signature and the value. */
export type Typed = [signature: string, value: unknown];

class Writer {
  private chunks: number[] = [];
  get length(): number {
    return this.chunks.length;
  }
  align(n: number): void {
    while (this.chunks.length % n !== 0) this.chunks.push(0);
  }
  bytes(b: Buffer): void {
    for (const x of b) this.chunks.push(x);
  }
  u32(v: number): void {
    this.align(4);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.bytes(b);
  }
  u64(v: number | bigint): void {
    this.align(8);
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.bytes(b);
  }
  string(s: string): void {
    const b = Buffer.from(s);
    this.u32(b.length);
    this.bytes(b);
    this.chunks.push(0);
  }
  signature(s: string): void {
    this.chunks.push(Buffer.byteLength(s));
    this.bytes(Buffer.from(s));
    this.chunks.push(0);
  }
  patchU32(at: number, v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    for (let i = 0; i < 4; i++) this.chunks[at + i] = b[i];
  }
  buffer(): Buffer {
    return Buffer.from(this.chunks);
  }

  /** Marshals `value` as the single complete type at the start of `sig`; returns the rest of `sig`. */
  value(sig: string, value: unknown): string {
    const t = sig[0];
    switch (t) {
      case 'y':
        this.chunks.push(Number(value) & 0xff);
        return sig.slice(1);
      case 'b':
        this.u32(value ? 1 : 0);
        return sig.slice(1);
      case 'u':
        this.u32(Number(value));
        return sig.slice(1);
      case 't':
        this.u64(value as number | bigint);
        return sig.slice(1);
      case 's':
      case 'o':
        this.string(String(value));
        return sig.slice(1);
      case 'g':
        this.signature(String(value));
        return sig.slice(1);
      case 'v': {
        const [inner, v] = value as Typed;
        this.signature(inner);
        this.value(inner, v);
        return sig.slice(1);
      }
      case 'a': {
        const elem = completeType(sig.slice(1));
        this.align(4);
        const lengthAt = this.length;
        this.u32(0);
        this.align(alignmentOf(elem));
        const start = this.length;
        for (const item of value as unknown[]) this.value(elem, item);
        this.patchU32(lengthAt, this.length - start);
        return sig.slice(1 + elem.length);
      }
      case '(': {
        const inner = completeType(sig).slice(1, -1);
        this.align(8);
        let rest = inner;
        for (const field of value as unknown[]) rest = this.value(rest, field);
        return sig.slice(inner.length + 2);
      }
      default:
        throw new OciError('internal', `dbus: cannot marshal type ${t}`);
    }
  }
}

function alignmentOf(sig: string): number {
  return { y: 1, g: 1, v: 1, n: 2, q: 2, b: 4, i: 4, u: 4, h: 4, s: 4, o: 4, a: 4, x: 8, t: 8, d: 8, '(': 8, '{': 8 }[sig[0]] ?? 1;
}

/** The first complete type of a signature. */
function completeType(sig: string): string {
  if (sig[0] === 'a') return `a${completeType(sig.slice(1))}`;
  if (sig[0] !== '(' && sig[0] !== '{') return sig[0];
  let depth = 0;
  for (let i = 0; i < sig.length; i++) {
    if (sig[i] === '(' || sig[i] === '{') depth++;
    else if ((sig[i] === ')' || sig[i] === '}') && --depth === 0) return sig.slice(0, i + 1);
  }
  throw new OciError('internal', `dbus: unbalanced signature ${sig}`);
}

class Reader {
  constructor(
    private readonly buf: Buffer,
    public pos = 0,
  ) {}
  align(n: number): void {
    this.pos = Math.ceil(this.pos / n) * n;
  }
  value(sig: string): [unknown, string] {
    const t = sig[0];
    switch (t) {
      case 'y':
        return [this.buf[this.pos++], sig.slice(1)];
      case 'n':
      case 'q': {
        this.align(2);
        const v = t === 'n' ? this.buf.readInt16LE(this.pos) : this.buf.readUInt16LE(this.pos);
        this.pos += 2;
        return [v, sig.slice(1)];
      }
      case 'b':
      case 'i':
      case 'h':
      case 'u': {
        this.align(4);
        const v = t === 'i' ? this.buf.readInt32LE(this.pos) : this.buf.readUInt32LE(this.pos);
        this.pos += 4;
        return [t === 'b' ? v !== 0 : v, sig.slice(1)];
      }
      case 'x':
      case 't':
      case 'd': {
        this.align(8);
        const v = t === 'x' ? this.buf.readBigInt64LE(this.pos) : t === 'd' ? this.buf.readDoubleLE(this.pos) : this.buf.readBigUInt64LE(this.pos);
        this.pos += 8;
        return [v, sig.slice(1)];
      }
      case 's':
      case 'o': {
        this.align(4);
        const n = this.buf.readUInt32LE(this.pos);
        const s = this.buf.toString('utf8', this.pos + 4, this.pos + 4 + n);
        this.pos += 4 + n + 1;
        return [s, sig.slice(1)];
      }
      case 'g': {
        const n = this.buf[this.pos];
        const s = this.buf.toString('utf8', this.pos + 1, this.pos + 1 + n);
        this.pos += n + 2;
        return [s, sig.slice(1)];
      }
      case 'v': {
        const [inner] = this.value('g') as [string, string];
        return [this.value(inner)[0], sig.slice(1)];
      }
      case 'a': {
        const elem = completeType(sig.slice(1));
        this.align(4);
        const n = this.buf.readUInt32LE(this.pos);
        this.pos += 4;
        this.align(alignmentOf(elem));
        const end = this.pos + n;
        const items: unknown[] = [];
        while (this.pos < end) items.push(this.value(elem)[0]);
        return [items, sig.slice(1 + elem.length)];
      }
      case '(':
      case '{': {
        const inner = completeType(sig).slice(1, -1);
        this.align(8);
        const fields: unknown[] = [];
        let rest = inner;
        while (rest) {
          const [v, r] = this.value(rest);
          fields.push(v);
          rest = r;
        }
        return [fields, sig.slice(inner.length + 2)];
      }
      default:
        throw new OciError('internal', `dbus: cannot read type ${t}`);
    }
  }
}

interface Message {
  type: number;
  serial: number;
  replySerial?: number;
  member?: string;
  errorName?: string;
  body: unknown[];
}

const METHOD_CALL = 1;
const METHOD_RETURN = 2;
const ERROR = 3;
const SIGNAL = 4;

export class SystemdBus {
  private serial = 0;
  private pending = Buffer.alloc(0);
  /** Signals that arrived while waiting for a reply. */
  private signals: Message[] = [];
  /** The signal whose body is read; other signals' bodies are skipped. */
  private readonly wantBody = (type: number, member: string | undefined) => type !== SIGNAL || member === 'JobRemoved';

  private constructor(private readonly fd: number) {}

  /** Connects and authenticates (EXTERNAL, as the caller's uid). */
  static connect(socketPath = '/run/systemd/private'): SystemdBus {
    const fd = connectUnix(socketPath);
    const bus = new SystemdBus(fd);
    try {
      const uid = Buffer.from(String(process.getuid?.() ?? 0)).toString('hex');
      bus.send(Buffer.from(`\0AUTH EXTERNAL ${uid}\r\n`));
      const reply = bus.readLine();
      if (!reply.startsWith('OK ')) throw new OciError('system', `systemd refused D-Bus authentication: ${reply.trim()}`);
      bus.send(Buffer.from('BEGIN\r\n'));
    } catch (err) {
      close(fd);
      throw err;
    }
    return bus;
  }

  close(): void {
    close(this.fd);
  }

  private send(data: Buffer): void {
    let off = 0;
    while (off < data.length) off += write(this.fd, data.subarray(off));
  }

  private fill(timeoutMs: number): void {
    if (pollOne(this.fd, 1 /* POLLIN */, timeoutMs) === 0) throw new OciError('system', `no answer from systemd within ${timeoutMs / 1000} s`);
    const chunk = read(this.fd, 65536);
    if (chunk.length === 0) throw new OciError('system', 'systemd closed the D-Bus connection');
    this.pending = Buffer.concat([this.pending, chunk]);
  }

  private readLine(): string {
    for (;;) {
      const i = this.pending.indexOf('\r\n');
      if (i >= 0) {
        const line = this.pending.toString('utf8', 0, i);
        this.pending = this.pending.subarray(i + 2);
        return line;
      }
      this.fill(10_000);
    }
  }

  private readMessage(timeoutMs: number): Message {
    for (;;) {
      if (this.pending.length >= 16) {
        const bodyLength = this.pending.readUInt32LE(4);
        const fieldsLength = this.pending.readUInt32LE(12);
        const headerEnd = Math.ceil((16 + fieldsLength) / 8) * 8;
        const total = headerEnd + bodyLength;
        if (this.pending.length >= total) {
          const msg = this.pending.subarray(0, total);
          this.pending = this.pending.subarray(total);
          return parseMessage(msg, headerEnd, this.wantBody);
        }
      }
      this.fill(timeoutMs);
    }
  }

  /** Calls a method of systemd's manager (or of `objectPath`) and returns the reply's body. */
  call(member: string, args: Typed[], opts: { path?: string; iface?: string; timeoutMs?: number } = {}): unknown[] {
    const serial = ++this.serial;
    const signature = args.map(([s]) => s).join('');
    const body = new Writer();
    for (const [s, v] of args) body.value(s, v);
    const fields: [number, Typed][] = [
      [1, ['o', opts.path ?? '/org/freedesktop/systemd1']],
      [2, ['s', opts.iface ?? 'org.freedesktop.systemd1.Manager']],
      [3, ['s', member]],
      [6, ['s', 'org.freedesktop.systemd1']],
    ];
    if (signature) fields.push([8, ['g', signature]]);
    const header = new Writer();
    header.bytes(Buffer.from([0x6c /* 'l' */, METHOD_CALL, 0, 1]));
    header.u32(body.length);
    header.u32(serial);
    header.value('a(yv)', fields);
    header.align(8);
    this.send(Buffer.concat([header.buffer(), body.buffer()]));
    for (;;) {
      const m = this.readMessage(opts.timeoutMs ?? 30_000);
      if (m.type === SIGNAL) {
        this.signals.push(m);
        continue;
      }
      if (m.replySerial !== serial) continue;
      if (m.type === ERROR) throw new OciError('system', `systemd: ${member}: ${m.errorName}: ${String(m.body[0] ?? '')}`);
      if (m.type === METHOD_RETURN) return m.body;
    }
  }

  /** The body of the first signal `member` for which `match` holds, waiting up to `timeoutMs`. */
  waitSignal(member: string, match: (body: unknown[]) => boolean, timeoutMs: number): unknown[] {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.signals.findIndex((s) => s.member === member && match(s.body));
      if (i >= 0) return this.signals.splice(i, 1)[0].body;
      this.signals = [];
      const m = this.readMessage(Math.max(1, deadline - Date.now()));
      if (m.type === SIGNAL) this.signals.push(m);
    }
  }
}

function parseMessage(msg: Buffer, headerEnd: number, wantBody: (type: number, member: string | undefined) => boolean): Message {
  if (msg[0] !== 0x6c) throw new OciError('system', 'systemd answered in big-endian D-Bus, which this client does not read');
  const r = new Reader(msg, 12);
  const [fields] = r.value('a(yv)') as [[number, unknown][], string];
  const m: Message = { type: msg[1], serial: msg.readUInt32LE(8), body: [] };
  let signature = '';
  for (const [code, value] of fields) {
    if (code === 3) m.member = value as string;
    else if (code === 4) m.errorName = value as string;
    else if (code === 5) m.replySerial = value as number;
    else if (code === 8) signature = value as string;
  }
  if (!wantBody(m.type, m.member)) return m;
  const body = new Reader(msg, headerEnd);
  let rest = signature;
  while (rest) {
    const [v, r2] = body.value(rest);
    m.body.push(v);
    rest = r2;
  }
  return m;
}
