/** One reference token of a JSON pointer, escaped as RFC 6901 section 3 says ("~" first, then "/"). */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}
