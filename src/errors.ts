// Every failure the user can see is an OciError with a stable code, so the
// same report renders as a text line or a JSON log entry. Messages keep runc's
// wording where clients match on it ("container does not exist", ...).

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
  | 'unsupported';

const oneLine = (text: string) => text.replace(/\r?\n/g, '\\n');

export class OciError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra lines, e.g. one per config problem, shown after the message. */
    readonly details: string[] = [],
  ) {
    // One line per message: some come with text quoted from the input (JSON.parse quotes a snippet).
    super(oneLine(message));
    this.details = details.map(oneLine);
  }
}

export const notFound = (id: string) => new OciError('container-not-found', `${id}: container does not exist`);
export const alreadyExists = (id: string) =>
  new OciError('container-exists', `${id}: container with given ID already exists`);
export const notRunning = (id: string) => new OciError('container-not-running', `${id}: container not running`);
