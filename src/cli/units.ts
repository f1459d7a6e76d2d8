// The value syntaxes of runc's update and events flags.
import { OciError } from '../errors.js';

const usage = (flag: string, value: string, what: string) => new OciError('usage', `${flag}: ${JSON.stringify(value)} is not ${what}`);

/**
 * Bytes, as runc's --memory flags take them (docker's RAMInBytes): a number
 * with an optional binary unit k, m, g, t or p (optionally followed by "b" or
 * "ib", any case), e.g. "512k", "16M", "1.5g"; "-1" is no limit.
 */
export function parseBytes(value: string, flag: string): number {
  if (value.trim() === '-1') return -1;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp])?(?:i?b)?\s*$/i.exec(value);
  if (!m) throw usage(flag, value, 'a size such as 512k, 16M or 1g (or -1 for no limit)');
  const power = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  const bytes = Math.floor(Number(m[1]) * 1024 ** power);
  if (!Number.isSafeInteger(bytes)) throw usage(flag, value, 'a size this runtime can represent');
  return bytes;
}

/** An integer flag; `allowMinusOne` for the limits where -1 means none. */
export function parseInteger(value: string, flag: string, opts: { min?: number } = {}): number {
  if (!/^-?\d+$/.test(value.trim())) throw usage(flag, value, 'an integer');
  const n = Number(value);
  if (!Number.isSafeInteger(n) || (opts.min !== undefined && n < opts.min)) {
    throw usage(flag, value, opts.min !== undefined ? `an integer of at least ${opts.min}` : 'an integer');
  }
  return n;
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("5s", "250ms", "1m30s", "1.5h") in milliseconds. */
export function parseDuration(value: string, flag: string): number {
  const text = value.trim();
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  const sign = text.startsWith('-') ? -1 : 1;
  const body = text.replace(/^[-+]/, '');
  re.lastIndex = 0;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    consumed = re.lastIndex;
  }
  if (body === '' || consumed !== body.length) throw usage(flag, value, 'a duration such as 5s, 500ms or 1m30s');
  return sign * total;
}
