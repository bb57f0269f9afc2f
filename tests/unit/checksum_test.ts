import assert from "node:assert/strict";
import { checksum, fold, pseudoSum, sum16 } from "../../stack/wire/checksum.ts";

Deno.test("checksum: RFC 1071 example sums to 0xddf2", () => {
  // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
  const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(fold(sum16(0, b, 0, b.length)), 0xddf2);
  assert.equal(checksum(sum16(0, b, 0, b.length)), 0x220d);
});

Deno.test("checksum: odd length pads the last byte with zero", () => {
  const b = new Uint8Array([0x00, 0x01, 0xf2]);
  assert.equal(fold(sum16(0, b, 0, 3)), 0xf201);
  const one = new Uint8Array([0xab]);
  assert.equal(fold(sum16(0, one, 0, 1)), 0xab00);
});

Deno.test("checksum: unrolled loop equals the plain definition on all lengths", () => {
  const b = new Uint8Array(203);
  for (let i = 0; i < b.length; i++) b[i] = (i * 37 + 11) & 0xff;
  for (let start = 0; start < 4; start++) {
    for (let end = start; end <= b.length; end++) {
      let ref = 0;
      for (let i = start; i < end; i += 2) ref += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
      assert.equal(fold(sum16(0, b, start, end)), fold(ref), `range ${start}..${end}`);
    }
  }
});

Deno.test("checksum: a known IPv4 header verifies and re-computes", () => {
  // Header from Wikipedia's IPv4 checksum example: checksum b861.
  const hdr = new Uint8Array(20);
  hdr.set([
    0x45,
    0x00,
    0x00,
    0x73,
    0x00,
    0x00,
    0x40,
    0x00,
    0x40,
    0x11,
    0,
    0,
    0xc0,
    0xa8,
    0x00,
    0x01,
    0xc0,
    0xa8,
    0x00,
    0xc7,
  ]);
  assert.equal(checksum(sum16(0, hdr, 0, 20)), 0xb861);
  hdr[10] = 0xb8;
  hdr[11] = 0x61;
  assert.equal(checksum(sum16(0, hdr, 0, 20)), 0);
});

Deno.test("checksum: a sum above 2^32 folds correctly", () => {
  assert.equal(fold(0x1_0000_0000 + 5), 6);
  assert.equal(fold(0xffff * 100000), 0xffff);
});

Deno.test("checksum: pseudo-header adds addresses, protocol and length", () => {
  const ip = new Uint8Array(20);
  ip.set([192, 0, 2, 1], 12);
  ip.set([192, 0, 2, 2], 16);
  const s = pseudoSum(ip, 12, 16, 4, 6, 40);
  assert.equal(s, 0xc000 + 0x0201 + 0xc000 + 0x0202 + 6 + 40);
});
