/**
 * Network namespaces (`ip netns`) for `up --netns NAME`: the device is
 * created and configured from inside the namespace, so the kernel side
 * of the tunnel (its addresses and routes) lives there and the host's own
 * namespace is left alone, while the stack runs where it was started.
 *
 * @module
 */

import { TunError } from "./device.ts";
import { cString, errno, libc, OpenFlags, SyscallError } from "./_libc.ts";

const { O_RDONLY, O_CLOEXEC } = OpenFlags;

const CLONE_NEWNET = 0x40000000;
/** Where `ip netns add NAME` keeps its namespaces. */
export const NETNS_DIR = "/var/run/netns";

/**
 * Runs `fn` with this thread in the namespace `name` (as `ip netns exec`
 * does, for one thread), then returns to the original one. What `fn`
 * creates there stays there: a TUN device, a netlink socket. Without a
 * name, `fn` runs where it is.
 *
 * @example
 * ```ts
 * import { inNetns } from "./netns.ts";
 * inNetns(undefined, () => 42); // 42: no namespace, no switch
 * ```
 */
export function inNetns<T>(name: string | undefined, fn: () => T): T {
  if (name === undefined) return fn();
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === "." || name === "..") {
    throw new TunError(`Invalid namespace name: "${name}"`);
  }
  const c = libc();
  const target = c.open(cString(`${NETNS_DIR}/${name}`), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    throw new TunError(
      `No such network namespace: ${name} (${NETNS_DIR}/${name}; create it with ip netns add ${name})`,
    );
  }
  const home = c.open(cString("/proc/thread-self/ns/net"), O_RDONLY | O_CLOEXEC);
  try {
    if (home < 0) throw new SyscallError("open /proc/thread-self/ns/net", errno());
    if (c.setns(target, CLONE_NEWNET) < 0) throw new SyscallError(`setns ${name}`, errno());
    let result: { value: T } | { error: unknown };
    try {
      result = { value: fn() };
    } catch (error) {
      result = { error };
    }
    // Back home, or every later socket of this thread would be in `name`.
    if (c.setns(home, CLONE_NEWNET) < 0) {
      throw new SyscallError("setns back to the original namespace", errno());
    }
    if ("error" in result) throw result.error;
    return result.value;
  } finally {
    c.close(target);
    if (home >= 0) c.close(home);
  }
}
