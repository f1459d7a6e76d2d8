// The system calls the runtime makes, through koffi (./ffi.ts), by concern in
// the modules below; callers import them from here.
export { SysError, clone3, errnoName, errnoNameMap, koffi, libc, strerror, syscall } from './ffi.js';
export * from './files.js';
export * from './openat2.js';
export * from './mounts.js';
export * from './process.js';
export * from './memory.js';
export * from './sockets.js';
export * from './posix-spawn.js';
