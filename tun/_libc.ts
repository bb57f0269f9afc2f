/**
 * The libc calls tunstack makes through FFI. Only `tun/` uses this file.
 *
 * Every call is synchronous except `poll`, which runs on Deno's FFI thread
 * pool so that waiting for packets never blocks the event loop (measured
 * here: a synchronous read or write is ~300 ns, an awaited `nonblocking`
 * call ~30 µs, so only the wake-up may be one; README, Packet I/O).
 *
 * @module
 */

const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  // The same ioctl for requests whose argument is a plain integer.
  ioctl_int: { parameters: ["i32", "u64", "u64"], result: "i32", name: "ioctl" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  if_indextoname: { parameters: ["u32", "buffer"], result: "pointer" },
  geteuid: { parameters: [], result: "u32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  sched_setscheduler: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  sched_getaffinity: { parameters: ["i32", "usize", "buffer"], result: "i32" },
  sched_getcpu: { parameters: [], result: "i32" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  poll: {
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** The opened libc, loaded on first use. */
export function libc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

/** The calling thread's `errno` after a failed synchronous call. */
export function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

/**
 * What a `read` or `write` on a non-blocking fd that just returned -1
 * failed with: the repeat's result if it succeeds, else errno negated. An
 * errno that `expected` does not take is confirmed by calling once more,
 * for errno is read by a second FFI call and the runtime has been seen to
 * change it in between (once in millions of calls here: ENOENT after a read
 * of an empty eventfd, and so a TUN device taken for lost). A real failure
 * repeats; a misread one does not. The first call stays with the caller,
 * where FFI's fast path serves it. `readErrno` is for tests.
 *
 * @example
 * ```ts
 * import { afterFailure, Errno } from "./_libc.ts";
 * const buf = new Uint8Array(8);
 * afterFailure(() => -1, 3, buf, 8n, (e) => e === Errno.EAGAIN, () => Errno.EAGAIN); // -11
 * ```
 */
export function afterFailure(
  call: (fd: number, buf: Uint8Array<ArrayBuffer>, len: bigint) => number,
  fd: number,
  buf: Uint8Array<ArrayBuffer>,
  len: bigint,
  expected: (e: number) => boolean,
  readErrno: () => number = errno,
): number {
  const e = readErrno();
  if (expected(e)) return -e;
  const n = call(fd, buf, len);
  return n >= 0 ? n : -readErrno();
}

/** libc's message for an errno value. */
export function strerror(code: number): string {
  const p = libc().strerror(code);
  return p === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(p);
}

/** A NUL-terminated C string. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s + "\0");
}

/** `open(2)` flags tunstack uses (linux/fcntl.h, x86-64 and arm64 alike). */
export const OpenFlags = {
  O_RDONLY: 0,
  O_WRONLY: 0o1,
  O_RDWR: 0o2,
  O_NONBLOCK: 0o4000,
  O_CLOEXEC: 0o2000000,
} as const;

/** errno values tunstack branches on. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EAGAIN: 11,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
} as const;

/** An error from a system call, carrying its errno. */
export class SyscallError extends Error {
  /** The errno value. */
  readonly code: number;
  /** Builds the error for a failed call named `call`. */
  constructor(call: string, code: number, hint?: string) {
    super(`${hint ?? "System call failed"}: ${call}: ${strerror(code)}`);
    this.name = "SyscallError";
    this.code = code;
  }
}
