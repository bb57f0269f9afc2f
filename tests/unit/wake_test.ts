// The stack's fine timer: whole milliseconds, rounded up, and not re-armed
// for a request it already serves.

import assert from "node:assert/strict";
import { WakeTimer } from "../../stack/_wake.ts";

function fakeTimers() {
  let now = 0;
  const armed = new Map<number, { fn: () => void; due: number }>();
  let next = 1;
  const log: string[] = [];
  return {
    clock: () => now,
    set: (fn: () => void, ms: number) => {
      armed.set(next, { fn, due: now + ms });
      log.push(`set ${ms}`);
      return next++;
    },
    clear: (id: number) => {
      armed.delete(id);
      log.push("clear");
    },
    /** Moves the clock to `t` and fires what is due by then. */
    advance(t: number) {
      now = t;
      for (const [id, a] of [...armed]) {
        if (a.due <= t) {
          armed.delete(id);
          a.fn();
        }
      }
    },
    log,
  };
}

Deno.test("wake: rounds the delay up, keeps a timer due within a millisecond after a request, re-arms for an earlier one", () => {
  const t = fakeTimers();
  let fired = 0;
  const w = new WakeTimer(t.clock, () => fired++, t.set, t.clear);
  w.request(2.4);
  assert.deepEqual(t.log, ["set 3"], "never before the time asked for");
  w.request(2.3); // due at 3, under a millisecond after 2.3: kept
  w.request(5); // later: the earlier timer fires first and the tick asks again
  assert.deepEqual(t.log, ["set 3"]);
  w.request(1.5); // the pending one would be 1.5 ms late
  assert.deepEqual(t.log, ["set 3", "clear", "set 2"]);
  t.advance(2);
  assert.equal(fired, 1);
  w.request(4.2); // nothing pending: a new timer
  assert.deepEqual(t.log.slice(3), ["set 3"]);
  w.cancel();
  t.advance(10);
  assert.equal(fired, 1, "a cancelled timer does not fire");
});
