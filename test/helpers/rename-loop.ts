import { spawn } from 'node:child_process';

/**
 * A process renaming, in `dir`, each [from, to] of `renames` in turn, for
 * ever: the race a hostile container runs against scoped lookups. Node, not
 * a script interpreter, whose launcher (a version-manager shim) would outlive
 * the kill. `stop` kills it and resolves once it is gone.
 */
export function renameLoop(dir: string, renames: Array<[string, string]>): { stop(): Promise<void> } {
  const mover = spawn(
    process.execPath,
    ['-e', `process.chdir(process.argv[1]); for (;;) for (const [from, to] of ${JSON.stringify(renames)}) require('fs').renameSync(from, to);`, dir],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((done) => mover.once('exit', () => done()));
  return {
    stop: () => {
      mover.kill('SIGKILL');
      return exited;
    },
  };
}
