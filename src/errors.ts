// Every failure the user can see is an OciError with a stable code, so the
// same report renders as a text line or a JSON log entry. Messages keep runc's
// wording where clients match on it ("container does not exist", ...).
//
// Context is added with wrap(): the new error says where ("device /dev/fuse:
// ..."), keeps the one it wraps as its `cause`, and errnoOf() still finds the
// errno of the system call at the bottom of the chain. At the edges (the log,
// the init's report to create) anything else is turned into an OciError by
// asOciError(): a failed system call is 'system', the rest 'internal' (a bug).

export type ErrorCode =
  | 'usage'
  | 'invalid-id'
  | 'invalid-config'
  | 'invalid-bundle'
  | 'container-not-found'
  | 'container-exists'
  | 'container-not-running'
  | 'wrong-state'
  | 'invalid-signal'
  | 'container-init'
  | 'hook-failed'
  | 'system'
  | 'state-corrupt'
  | 'unsupported'
  | 'internal';

const oneLine = (text: string) => text.replace(/\r?\n/g, '\\n');

export class OciError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra lines, e.g. one per config problem, shown after the message. */
    readonly details: string[] = [],
    options: { cause?: unknown } = {},
  ) {
    // One line per message: some come with text quoted from the input (JSON.parse quotes a snippet).
    super(oneLine(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.details = details.map(oneLine);
  }
}

export const notFound = (id: string) => new OciError('container-not-found', `${id}: container does not exist`);
export const alreadyExists = (id: string) => new OciError('container-exists', `${id}: container with given ID already exists`);
export const notRunning = (id: string) => new OciError('container-not-running', `${id}: container not running`);

/** The errno name (EACCES) of a failed system call: Node's fs errors and sys/libc.ts's SysError both carry it as `code`. */
function ownErrno(err: unknown): string | undefined {
  if (err instanceof OciError || !(err instanceof Error)) return undefined;
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/** The errno name of the failed system call behind `err` (itself or down its causes), if there is one. */
export function errnoOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 16; e = e.cause, depth++) {
    const errno = ownErrno(e);
    if (errno) return errno;
  }
  return undefined;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The code `err` gets when nothing more specific is known: its own, 'system' for a failed system call, else 'internal'. */
function codeOf(err: unknown): ErrorCode {
  if (err instanceof OciError) return err.code;
  return ownErrno(err) ? 'system' : 'internal';
}

/** `err` as an OciError: itself, or one with its message, the code codeOf() gives and `err` as the cause. */
export function asOciError(err: unknown): OciError {
  return err instanceof OciError ? err : new OciError(codeOf(err), messageOf(err), [], { cause: err });
}

export interface WrapOptions {
  /** The code, when the context decides it; else the cause's (see codeOf). */
  code?: ErrorCode;
  /** Name only the cause's errno (EACCES), where the context already says which call failed. */
  errnoOnly?: boolean;
  /** What to say of the cause instead of its message (which may name an fd path, say). */
  causeText?: string;
  /** Appended after the cause, e.g. what to check. */
  hint?: string;
}

/** `err` with `context` in front ("context: cause"), keeping `err` as the cause and so its errno. */
export function wrap(err: unknown, context: string, options: WrapOptions = {}): OciError {
  const cause = options.causeText ?? ((options.errnoOnly && errnoOf(err)) || messageOf(err));
  const details = err instanceof OciError ? err.details : [];
  return new OciError(options.code ?? codeOf(err), `${context}: ${cause}${options.hint ?? ''}`, details, { cause: err });
}
