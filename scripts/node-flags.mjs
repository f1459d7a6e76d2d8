// The Node flags bin/ocirun runs with, read from its shebang: the build makes
// the code cache under them, and the bench boots Node with them for its
// comparison row.
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** @param {string} repoRoot @returns {string[]} */
export function ocirunNodeFlags(repoRoot) {
  const shebang = readFileSync(path.join(repoRoot, 'bin/ocirun'), 'utf8').split('\n')[0];
  return shebang.split(' node ')[1].split(' ');
}
