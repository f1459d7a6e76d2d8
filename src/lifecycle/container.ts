// A container opened for one operation: its state, its status as the system
// shows it (state/status.ts) and, for an operation that changes it, its lock,
// held until release(). A status the operation does not work on is refused
// with runc's words, which clients match on ("<id>: container does not
// exist", "<id>: container not running").
import { OciError, notFound, notRunning } from '../errors.js';
import { currentStatus, type Status } from '../state/status.js';
import type { ContainerLock, ContainerState, Store } from '../state/store.js';

export interface OpenContainer {
  readonly id: string;
  readonly state: ContainerState;
  readonly status: Status;
  /** Gives the lock back, if one is held; a second call does nothing. */
  release(): void;
}

/** What is left of a container for delete: its state, or null where there is none to read. */
export interface ContainerRemains extends Omit<OpenContainer, 'state'> {
  readonly state: ContainerState | null;
}

export type Refusal = (id: string, status: Status) => OciError;

export interface OpenOptions {
  /** Take the container's lock (waiting while another command holds it). */
  lock?: boolean;
  /** The statuses the operation works on; any other is refused. Default: every one. */
  allow?: readonly Status[];
  /** The error for a status not allowed. Default: "container not running". */
  refuse?: Refusal;
  /**
   * A container directory without a state file (a create that has not
   * written it yet, or never will): "does not exist" (the default), or
   * refused as a stopped container.
   */
  withoutState?: 'not-found' | 'stopped';
}

/** Every status but stopped: there is an init to act on. */
export const LIVE: readonly Status[] = ['creating', 'created', 'running', 'paused'];

const notRunningRefusal: Refusal = (id) => notRunning(id);

/** The container `id`, in a status `options.allow` accepts; with `lock`, the caller must release() it. */
export function openContainer(store: Store, id: string, options: OpenOptions = {}): OpenContainer {
  const lock = options.lock ? store.lock(id) : null;
  try {
    const state = store.read(id);
    if (state === null) {
      if (options.withoutState === 'stopped') throw (options.refuse ?? notRunningRefusal)(id, 'stopped');
      throw notFound(id);
    }
    const container = fromState(store, state, lock);
    requireStatus(container, options.allow, options.refuse);
    return container;
  } catch (err) {
    lock?.release();
    throw err;
  }
}

/** Refuses the container unless its status is one of `allow`. */
export function requireStatus(container: Pick<OpenContainer, 'id' | 'status'>, allow?: readonly Status[], refuse: Refusal = notRunningRefusal): void {
  if (allow && !allow.includes(container.status)) throw refuse(container.id, container.status);
}

/**
 * The container of a state already read, with the lock its caller holds, if
 * any: create's, which claimed the id, is the one `run` hands on to start.
 */
export function fromState(store: Store, state: ContainerState, lock: ContainerLock | null = null): OpenContainer {
  return { id: state.id, state, status: currentStatus(store, state), release: () => lock?.release() };
}

/**
 * For delete: the container's state, or null where it has none (a create
 * that never finished) or, with `damaged`, where its state file is damaged.
 */
export function openRemains(store: Store, id: string, options: { lock: boolean; damaged: boolean }): ContainerRemains {
  const lock = options.lock ? store.lock(id) : null;
  let state: ContainerState | null;
  try {
    state = store.read(id);
  } catch (err) {
    if (!(err instanceof OciError && err.code === 'state-corrupt') || !options.damaged) {
      lock?.release();
      throw err;
    }
    state = null;
  }
  return { id, state, status: currentStatus(store, state), release: () => lock?.release() };
}
