import assert from "node:assert/strict";
import { checkIfName, TunDevice } from "../../tun/device.ts";
import { afterFailure, Errno } from "../../tun/_libc.ts";
import { checkMtu } from "../../tun/interface.ts";
import { cpuMask } from "../../tun/steering.ts";

Deno.test("tun: a missing clone device gives a clear error", () => {
  assert.throws(
    () => TunDevice.open({ name: "tunstack-x", path: "/nonexistent/tun" }),
    /^TunError: No TUN device: \/nonexistent\/tun does not exist/,
  );
});

Deno.test("tun: interface names and MTUs are checked before any system call", () => {
  assert.equal(checkIfName("tunstack0"), undefined);
  assert.match(checkIfName("")!, /1 to 15 bytes/);
  assert.match(checkIfName("a-very-long-name0")!, /1 to 15 bytes/);
  assert.match(checkIfName("a b")!, /space/);
  assert.equal(checkMtu(1500, true), undefined);
  assert.equal(checkMtu(68, false), undefined);
  assert.match(checkMtu(67, false)!, /^MTU out of range: 67/);
  assert.match(checkMtu(1279, true)!, /with IPv6/);
  assert.match(checkMtu(65536, false)!, /out of range/);
  assert.match(checkMtu(1500.5, false)!, /out of range/);
});

Deno.test("tun: receive steering writes rps_cpus masks as the kernel parses them", () => {
  assert.equal(cpuMask([]), "0");
  assert.equal(cpuMask([1]), "2");
  assert.equal(cpuMask([0, 2, 3]), "d");
  assert.equal(cpuMask([31]), "80000000");
  // Groups of 32 CPUs, the highest first, each after the first padded.
  assert.equal(cpuMask([0, 33]), "2,00000001");
  assert.equal(cpuMask([64]), "1,00000000,00000000");
});

Deno.test("tun: a read or write errno that the call does not repeat is taken for a misread", () => {
  const buf = new Uint8Array(8);
  const again = (e: number) => e === Errno.EAGAIN;
  // Scripted repeats and errno values, consumed in order, after a first
  // call that returned -1.
  const script = (results: number[], errnos: number[]) => {
    let calls = 0;
    return {
      call: () => (calls++, results.shift()!),
      errno: () => errnos.shift()!,
      calls: () => calls,
    };
  };
  // The expected errno: no repeat.
  let s = script([], [Errno.EAGAIN]);
  assert.equal(afterFailure(s.call, 3, buf, 8n, again, s.errno), -Errno.EAGAIN);
  assert.equal(s.calls(), 0);
  // ENOENT read after an empty read (seen here): the repeat says EAGAIN.
  s = script([-1], [Errno.ENOENT, Errno.EAGAIN]);
  assert.equal(afterFailure(s.call, 3, buf, 8n, again, s.errno), -Errno.EAGAIN);
  // A packet came in between: the repeat's length.
  s = script([60], [Errno.ENOENT]);
  assert.equal(afterFailure(s.call, 3, buf, 8n, again, s.errno), 60);
  // A real failure repeats, and is reported after one repeat.
  s = script([-1, 0], [77, 77]);
  assert.equal(afterFailure(s.call, 3, buf, 8n, again, s.errno), -77);
  assert.equal(s.calls(), 1);
});
