// Bulk throughput over the tunnel against the Linux kernel over a veth pair,
// in private namespaces, in the same run: 1 GiB from the kernel to the
// stack's discard port (nc) and 1 GiB from the stack's HTTP server to curl.

import { Netns } from "../tests/integration/_netns.ts";

export interface ThroughputResult {
  workload: string;
  tunstackGbps: number;
  kernelVethGbps: number;
  ratio: number;
}

const GiB = 1024 * 1024 * 1024;

async function timed(ns: Netns, cmd: string): Promise<number> {
  const t = performance.now();
  await ns.ok(["sh", "-c", cmd], 300_000);
  return (performance.now() - t) / 1000;
}

function gbps(bytes: number, secs: number): number {
  return Math.round((bytes * 8) / secs / 1e7) / 100;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs each workload `runs` times against both and returns medians. */
export async function runThroughput(runs = 3, bytes = GiB): Promise<ThroughputResult[]> {
  const tun = await Netns.create();
  const [a, b] = [await Netns.create(), await Netns.create()];
  try {
    // tunstack in its own namespace, default flags.
    const dir = await Deno.makeTempDir({ prefix: "tunstack-bench-" });
    tun.controlDir = dir;
    await tun.startStack();
    // Two kernels joined by veth, MTU 1500 like the TUN device.
    await (async () => {
      const add = new Deno.Command("ip", {
        args: [
          "link",
          "add",
          "bva",
          "netns",
          a.name,
          "type",
          "veth",
          "peer",
          "name",
          "bvb",
          "netns",
          b.name,
        ],
      });
      const r = await add.output();
      if (r.code !== 0) throw new Error(new TextDecoder().decode(r.stderr));
    })();
    await a.ok(["ip", "addr", "add", "198.51.100.1/24", "dev", "bva"]);
    await b.ok(["ip", "addr", "add", "198.51.100.2/24", "dev", "bvb"]);
    await a.ok(["ip", "link", "set", "bva", "up", "mtu", "1500"]);
    await b.ok(["ip", "link", "set", "bvb", "up", "mtu", "1500"]);

    const up: number[][] = [[], []], down: number[][] = [[], []];
    for (let i = 0; i < runs; i++) {
      // Kernel -> discard.
      up[0].push(gbps(bytes, await timed(tun, `head -c ${bytes} /dev/zero | nc -N 192.0.2.2 9`)));
      const sink = b.spawn(["sh", "-c", "timeout 120 nc -l 198.51.100.2 9 > /dev/null"]);
      await new Promise((r) => setTimeout(r, 200));
      up[1].push(gbps(bytes, await timed(a, `head -c ${bytes} /dev/zero | nc -N 198.51.100.2 9`)));
      await sink.done;
      // Stack -> curl; kernel -> nc reader over veth.
      down[0].push(
        gbps(
          bytes,
          await timed(tun, `curl -sS --fail -o /dev/null http://192.0.2.2/bytes/${bytes}`),
        ),
      );
      const src = b.spawn([
        "sh",
        "-c",
        `head -c ${bytes} /dev/zero | timeout 120 nc -N -l 198.51.100.2 8080`,
      ]);
      await new Promise((r) => setTimeout(r, 200));
      down[1].push(gbps(bytes, await timed(a, "nc -d 198.51.100.2 8080 > /dev/null")));
      await src.done;
    }
    const row = (workload: string, x: number[][]) => {
      const t = median(x[0]), k = median(x[1]);
      return {
        workload,
        tunstackGbps: t,
        kernelVethGbps: k,
        ratio: Math.round((t / k) * 100) / 100,
      };
    };
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    return [
      row("1 GiB kernel -> stack discard (nc)", up),
      row("1 GiB stack HTTP -> curl", down),
    ];
  } finally {
    await tun.close();
    await a.close();
    await b.close();
  }
}
