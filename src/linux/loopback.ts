// A new network namespace starts with its loopback interface down
// (network_namespaces(7)); runc and crun bring it up, and so does the init,
// with the SIOCGIFFLAGS/SIOCSIFFLAGS ioctls of netdevice(7) on an AF_INET socket.
import { close, ioctl, socket } from '../sys/libc.js';

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x1;
/** struct ifreq: the name in 16 bytes (IFNAMSIZ), then a union whose ifr_flags is a short. */
const IFREQ_SIZE = 40;
const IFR_FLAGS_OFFSET = 16;

export function bringLoopbackUp(): void {
  const fd = socket(AF_INET, SOCK_DGRAM);
  try {
    const ifreq = Buffer.alloc(IFREQ_SIZE);
    ifreq.write('lo', 0);
    ioctl(fd, SIOCGIFFLAGS, ifreq, 'SIOCGIFFLAGS lo');
    ifreq.writeUInt16LE(ifreq.readUInt16LE(IFR_FLAGS_OFFSET) | IFF_UP, IFR_FLAGS_OFFSET);
    ioctl(fd, SIOCSIFFLAGS, ifreq, 'SIOCSIFFLAGS lo');
  } finally {
    close(fd);
  }
}
