// Sends one hand-made IPv4 packet (hex on the command line) through a raw
// socket with IP_HDRINCL, so a test can put any segment on the wire: here,
// an RST aimed at a TIME_WAIT entry. Run inside the test's namespace.

const lib = Deno.dlopen("libc.so.6", {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
});
const hex = Deno.args[0] ?? "";
const pkt = Uint8Array.from(hex.match(/../g)!.map((x) => parseInt(x, 16)));
const fd = lib.symbols.socket(2, 3, 255); // AF_INET, SOCK_RAW, IPPROTO_RAW
if (fd < 0) {
  console.error("raw_send: socket failed (needs root)");
  Deno.exit(1);
}
const sa = new Uint8Array(16);
sa[0] = 2; // AF_INET, little-endian sa_family
sa.set(pkt.subarray(16, 20), 4);
const n = lib.symbols.sendto(fd, pkt, BigInt(pkt.length), 0, sa, 16);
lib.symbols.close(fd);
if (Number(n) !== pkt.length) {
  console.error("raw_send: sendto failed");
  Deno.exit(1);
}
console.log(`sent ${pkt.length} bytes`);
