/**
 * `tunstack up`: create the device, configure it, run the stack until
 * SIGINT/SIGTERM. Counters are printed on SIGUSR2 and on exit.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type RunningStack, startTunStack, type TunStackOptions } from "../mod.ts";
import { formatCounters } from "../stack/stats.ts";
import { parseCidr, parseIp } from "../stack/wire/ip_address.ts";
import { formatIp, inPrefix } from "../stack/wire/ip_address.ts";

/** Help text of `tunstack up`. */
export const UP_HELP = `Usage: tunstack up [flags]

Creates a TUN device, gives the kernel side an address, and runs the stack
on the other side. Stops on SIGINT or SIGTERM (the device is removed).
Prints counters on SIGUSR2 and on exit (SIGUSR1 is taken by
Deno: it opens the V8 inspector).

Flags:
  --dev NAME            device name (default tunstack0)
  --mtu N               device MTU, 68-65535, at least 1280 with IPv6 (default 1500)
  --kernel-ipv4 A/P     kernel-side IPv4 address/prefix (default 192.0.2.1/24)
  --kernel-ipv6 A/P     kernel-side IPv6 address/prefix (default 2001:db8::1/64)
  --ipv4 A              the stack's IPv4 address (default 192.0.2.2)
  --ipv6 A              the stack's IPv6 address (default 2001:db8::2)
  --no-ipv4             run without IPv4
  --no-ipv6             run without IPv6
  --vnet-hdr            open the device with IFF_VNET_HDR
  --quiet               print nothing but errors
  -h, --help            show this text`;

/** Parses `up` flags into stack options; throws a clear error on bad input. */
export function parseUpArgs(args: string[]): TunStackOptions & { quiet: boolean } {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      dev: { type: "string", default: "tunstack0" },
      mtu: { type: "string", default: "1500" },
      "kernel-ipv4": { type: "string", default: "192.0.2.1/24" },
      "kernel-ipv6": { type: "string", default: "2001:db8::1/64" },
      ipv4: { type: "string", default: "192.0.2.2" },
      ipv6: { type: "string", default: "2001:db8::2" },
      "no-ipv4": { type: "boolean", default: false },
      "no-ipv6": { type: "boolean", default: false },
      "vnet-hdr": { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
    },
  });
  if (!/^\d+$/.test(values.mtu)) {
    throw new Error(`MTU out of range: "${values.mtu}" is not a number`);
  }
  const opts: TunStackOptions & { quiet: boolean } = {
    name: values.dev,
    mtu: Number(values.mtu),
    vnetHdr: values["vnet-hdr"],
    quiet: values.quiet,
  };
  if (values["no-ipv4"] && values["no-ipv6"]) {
    throw new Error("Invalid address: --no-ipv4 and --no-ipv6 leave no address");
  }
  for (const v of [4, 6] as const) {
    if (values[`no-ipv${v}`]) continue;
    const kernel = parseCidr(values[`kernel-ipv${v}`], v);
    const own = parseIp(values[`ipv${v}`]);
    if (!own || own.length !== (v === 4 ? 4 : 16)) {
      throw new Error(`Invalid address: "${values[`ipv${v}`]}" is not IPv${v}`);
    }
    if (!inPrefix(own, kernel.address, kernel.prefix)) {
      throw new Error(
        `Invalid address: ${formatIp(own)} is outside the kernel's prefix ${
          values[`kernel-ipv${v}`]
        }, so the kernel would not route to it`,
      );
    }
    if (formatIp(own) === formatIp(kernel.address)) {
      throw new Error(`Invalid address: the stack and the kernel both use ${formatIp(own)}`);
    }
    opts[`ipv${v}`] = own;
    opts[`kernelIpv${v}`] = kernel;
  }
  return opts;
}

function describe(r: RunningStack, o: TunStackOptions): string {
  const lines = [`tunstack: device ${r.tun.device.name} up, mtu ${o.mtu}`];
  for (const v of [4, 6] as const) {
    const k = o[`kernelIpv${v}`];
    const own = o[`ipv${v}`];
    if (k && own) {
      lines.push(`  ipv${v}: kernel ${formatIp(k.address)}/${k.prefix}, stack ${formatIp(own)}`);
    }
  }
  return lines.join("\n");
}

/** Runs `tunstack up`; resolves to the exit code. */
export async function runUp(args: string[]): Promise<number> {
  let opts;
  try {
    opts = parseUpArgs(args);
  } catch (e) {
    console.error(`tunstack: ${(e as Error).message}`);
    return 2;
  }
  let running: RunningStack;
  try {
    running = startTunStack(opts);
  } catch (e) {
    console.error(`tunstack: ${(e as Error).message}`);
    return 1;
  }
  if (!opts.quiet) console.log(describe(running, opts));
  const printCounters = () =>
    console.log(
      formatCounters({ link: { ...running.tun.loop.stats }, ...running.stack.counters() }),
    );
  const stopped = Promise.withResolvers<void>();
  const onStop = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", onStop);
  Deno.addSignalListener("SIGTERM", onStop);
  Deno.addSignalListener("SIGUSR2", printCounters);
  await stopped.promise;
  Deno.removeSignalListener("SIGINT", onStop);
  Deno.removeSignalListener("SIGTERM", onStop);
  Deno.removeSignalListener("SIGUSR2", printCounters);
  await running.close();
  if (!opts.quiet) {
    console.log("tunstack: stopped; counters:");
    printCounters();
  }
  return 0;
}
