// seccomp argument values are uint64, but JSON.parse turns every number into
// a double: integers above 2^53 arrive rounded (18446744073709551615 becomes
// 2^64, which is not even a uint64). The digits are still in config.json, so
// for those values we read the text again, turning each integer literal that
// is not a safe integer into a marked string before JSON.parse sees it.

const MARK = '\u0000ocirun-integer:';

/** A JSON token: a string (left alone) or a number. */
const TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** JSON.parse, except that integers beyond Number.MAX_SAFE_INTEGER come back as bigint. */
export function parseWithExactIntegers(text: string): unknown {
  const marked = text.replace(TOKEN, (token) =>
    token.startsWith('"') || !/^-?\d+$/.test(token) || Number.isSafeInteger(Number(token)) ? token : JSON.stringify(MARK + token),
  );
  return JSON.parse(marked, (_key, value: unknown) => (typeof value === 'string' && value.startsWith(MARK) ? BigInt(value.slice(MARK.length)) : value));
}

/** The value at `path` in a document from parseWithExactIntegers, as a bigint when it is an integer. */
export function exactIntegerAt(doc: unknown, path: (string | number)[]): bigint | undefined {
  let node: unknown = doc;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  if (typeof node === 'bigint') return node;
  if (typeof node === 'number' && Number.isSafeInteger(node)) return BigInt(node);
  return undefined;
}
