import { constants } from 'node:os';
import { OciError } from './errors.js';

const SIGRTMIN = 34;
const SIGRTMAX = 64;

/** "KILL", "SIGKILL", "9", "RTMIN+3": runc accepts all of these. */
export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= SIGRTMAX) return n;
  } else {
    const name = text.toUpperCase().replace(/^SIG/, '');
    const rt = /^RTM(IN|AX)([+-]\d+)?$/.exec(name);
    if (rt) {
      const n = (rt[1] === 'IN' ? SIGRTMIN : SIGRTMAX) + Number(rt[2] ?? 0);
      if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
    }
    const n = (constants.signals as Record<string, number>)[`SIG${name}`];
    if (n !== undefined) return n;
  }
  throw new OciError('invalid-signal', `invalid signal ${JSON.stringify(text)}: use a name such as KILL or SIGTERM, or a number from 1 to ${SIGRTMAX}`);
}
