// Where messages go: --log FILE (else stderr) in --log-format text|json, as
// runc does. Errors also always reach stderr as plain text, because the
// caller may not read the log file (containerd reads both).
import { writeSync } from 'node:fs';
import { asOciError, wrap } from './errors.js';
import { openForAppend } from './sys/caller-paths.js';

export interface LogTarget {
  file?: string;
  format: 'text' | 'json';
  debug: boolean;
}

let target: LogTarget = { format: 'text', debug: false };
/** --log's file, opened (append, close-on-exec) once the command line is read. */
let logFd = -1;

/** A --log file that cannot be opened is an error, reported on stderr (as runc). */
export function configureLog(t: LogTarget): void {
  target = { ...t, file: undefined };
  if (t.file === undefined) return;
  try {
    logFd = openForAppend(t.file, 0o600);
  } catch (err) {
    throw wrap(err, `--log ${t.file}: cannot open it`, { code: 'usage', errnoOnly: true });
  }
  target = t;
}

function entry(level: string, msg: string, extra: Record<string, unknown> = {}): string {
  const time = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  if (target.format === 'json') return `${JSON.stringify({ level, msg, ...extra, time })}\n`;
  return `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
}

function toLog(line: string): void {
  if (target.file) {
    try {
      writeSync(logFd, line);
    } catch {
      writeSync(2, `ocirun: cannot write to --log ${target.file}\n`);
    }
  } else {
    writeSync(2, line);
  }
}

export function warn(msg: string): void {
  if (target.file || target.format === 'json') toLog(entry('warning', msg));
  else writeSync(2, `ocirun: warning: ${msg}\n`);
}

export function debug(msg: string): void {
  if (target.debug) toLog(entry('debug', msg));
}

/** One report per failure: the stable code and every line of the message. */
export function reportError(err: unknown): void {
  const failure = asOciError(err);
  const lines = [failure.message, ...failure.details];
  if (target.file || target.format === 'json') toLog(entry('error', lines.join('; '), { code: failure.code }));
  if (target.file || target.format === 'text') writeSync(2, lines.map((l) => `ocirun: ${l}\n`).join(''));
  if (target.debug && failure.code === 'internal') writeSync(2, `${(failure.cause instanceof Error ? failure.cause : failure).stack}\n`);
}
