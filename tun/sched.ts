/**
 * Real-time scheduling for the thread that runs the packet loop.
 *
 * The kernel's own TCP runs in softirq context, which no task can delay;
 * tunstack's TCP runs in a thread that the scheduler may park for
 * milliseconds when the CPUs are busy. Linux's tail loss probe fires after
 * about two round trips plus 2 ms without an ACK, so on a loaded machine
 * such a pause shows up as a kernel retransmission. `SCHED_FIFO` gives the
 * packet thread the CPU whenever it is runnable.
 *
 * @module
 */

import { Errno, errno, libc, SyscallError } from "./_libc.ts";

const SCHED_FIFO = 1;

/** Highest priority `SCHED_FIFO` accepts on Linux. */
export const MAX_RT_PRIORITY = 99;

/**
 * Moves the calling thread (the one running JavaScript, hence the packet
 * loop) to `SCHED_FIFO` at `priority` (1 to 99). Threads it starts later
 * inherit the policy. Throws with a clear reason when refused.
 *
 * @example
 * ```ts ignore
 * import { setRealtimePriority } from "../mod.ts";
 * setRealtimePriority(1); // as root: the stack now preempts ordinary tasks
 * ```
 */
export function setRealtimePriority(priority: number): void {
  if (!Number.isInteger(priority) || priority < 1 || priority > MAX_RT_PRIORITY) {
    throw new RangeError(
      `Invalid real-time priority: ${priority} (must be 1 to ${MAX_RT_PRIORITY})`,
    );
  }
  const param = new Uint8Array(4);
  new DataView(param.buffer).setInt32(0, priority, true);
  if (libc().sched_setscheduler(0, SCHED_FIFO, param) < 0) {
    const e = errno();
    if (e === Errno.EPERM) {
      throw new Error("Permission denied: SCHED_FIFO needs root or CAP_SYS_NICE");
    }
    throw new SyscallError("sched_setscheduler", e, "Cannot set real-time priority");
  }
}
