// Loss recovery on SACK connections: RACK's log and reordering window
// (RFC 8985 6), PRR's rate (RFC 6937), and against a scripted peer a tail
// loss probe and a lost retransmission, each repaired without an RTO, also
// when the retransmission is the last segment sent.

import assert from "node:assert/strict";
import { Prr } from "../../stack/tcp/loss/prr.ts";
import { Rack } from "../../stack/tcp/loss/rack.ts";
import { ISN, P, passiveOpen, Peer, settle } from "../_peer.ts";

Deno.test("rack: a hole is lost at once after three SACKed segments, not before", () => {
  const r = new Rack();
  for (let i = 0; i < 5; i++) r.sent(i * 1000, (i + 1) * 1000, i * 0.1);
  r.sacked(1000, 2000, 10);
  // One SACKed segment: the reordering window (min RTT / 4) still covers the hole.
  assert.ok(r.detectLoss(10, r.reoWnd(false, 10, 1000)) > 0);
  assert.equal(r.lostBytes, 0);
  r.sacked(2000, 4000, 10.2);
  // Three SACKed (DupThresh) and no reordering seen: no window.
  assert.equal(r.reoWnd(false, 10, 1000), 0);
  assert.equal(r.detectLoss(10.2, 0), 0);
  assert.equal(r.lostBytes, 1000);
  assert.deepEqual(r.nextLost(), [0, 1000]);
  r.sent(0, 1000, 10.3); // retransmitted: no longer lost
  assert.equal(r.lostBytes, 0);
  assert.equal(r.nextLost(), undefined);
});

Deno.test("rack: one SACKed TSO range of three segments is DupThresh; a probe's D-SACK is no reordering", () => {
  const r = new Rack();
  r.sent(0, 4000, 0); // lost
  r.sent(4000, 8000, 0.1); // one packet of four 1000-byte segments
  r.sacked(4000, 8000, 10);
  assert.equal(r.reoWnd(false, 10, 1000), 0, "RFC 6675: more than 2 SMSS SACKed");
  assert.equal(r.detectLoss(10, 0), 0);
  assert.deepEqual(r.nextLost(), [0, 4000]);
  // A tail loss probe's needless copy: the window may grow, RACK still
  // has seen no reordering (RFC 8985 6.2 steps 3 and 4).
  r.dsack(8000, false);
  assert.equal(r.reorderingSeen, false);
  assert.equal(r.reoWnd(false, 10, 1000), 0);
  // A fast retransmission's: the original came late, so the path reorders.
  r.dsack(8000, true);
  assert.equal(r.reorderingSeen, true);
  assert.ok(r.reoWnd(false, 10, 1000) > 0);
});

Deno.test("rack: once reordering is seen, a hole waits out the window (min RTT / 4), then is lost", () => {
  const r = new Rack();
  r.sent(0, 1000, 0);
  r.sent(1000, 2000, 0.1);
  r.sacked(1000, 2000, 10); // min RTT 9.9
  r.acked(2000, 10.5, 10); // the first came late: reordering
  assert.ok(r.reorderingSeen);
  for (let i = 2; i < 6; i++) r.sent(i * 1000, (i + 1) * 1000, 20 + i * 0.01);
  r.sacked(3000, 6000, 30);
  const wnd = r.reoWnd(false, 10, 1000);
  assert.ok(Math.abs(wnd - 9.9 / 4) < 1e-9, `reo_wnd ${wnd}`);
  const wait = r.detectLoss(30, wnd);
  assert.ok(wait > 0 && wait <= wnd, `timer in ${wait} ms`);
  assert.equal(r.lostBytes, 0, "not lost inside the window");
  assert.equal(r.detectLoss(30 + wait, wnd), 0);
  assert.deepEqual(r.nextLost(), [2000, 3000]);
  // A D-SACK widens the window for the rounds that follow (RFC 8985 6.2 step 4).
  r.dsack(6000, true);
  assert.ok(Math.abs(r.reoWnd(false, 10, 1000) - (2 * 9.9) / 4) < 1e-9);
});

Deno.test("rack: a retransmission is judged lost when data sent after it is delivered", () => {
  const r = new Rack();
  r.sent(0, 1000, 0);
  r.sent(1000, 4000, 0.1);
  r.sacked(1000, 4000, 10);
  r.detectLoss(10, 0);
  r.sent(0, 1000, 10); // the repair
  r.sent(4000, 5000, 10); // new data after it, in the same millisecond
  assert.equal(r.lostBytes, 0);
  r.sacked(4000, 5000, 20); // delivered; the repair is not
  assert.equal(r.detectLoss(20, 0), 0);
  assert.deepEqual(r.nextLost(), [0, 1000], "the lost retransmission is found again");
});

Deno.test("prr: in recovery, sending follows ssthresh / RecoverFS of what is delivered, ending at ssthresh", () => {
  const mss = 1000, p = new Prr();
  let pipe = 19 * mss; // 20 in flight, one lost
  const ssthresh = 10 * mss;
  p.start(20 * mss);
  let sent = 0;
  for (let ack = 0; ack < 19; ack++) {
    pipe -= mss; // each ACK delivers one segment
    p.onAck(mss, pipe, ssthresh, mss);
    while (p.quota >= mss) {
      p.sent(mss);
      pipe += mss;
      sent++;
    }
  }
  assert.ok(sent >= 9 && sent <= 10, `${sent} segments sent for 19 delivered`);
  assert.ok(Math.abs(pipe - ssthresh) <= mss, `pipe ${pipe} ends near ssthresh`);
});

Deno.test("prr: below ssthresh, the slow-start bound lets pipe grow back by at most one MSS beyond what is delivered", () => {
  const p = new Prr();
  p.start(10_000);
  // A burst of losses left pipe far below ssthresh (5000).
  assert.equal(p.onAck(1000, 1000, 5000, 1000), 2000); // delivered + 1 MSS
  assert.equal(p.onAck(3000, 2000, 5000, 1000), 3000); // ssthresh - pipe caps it
});

async function open(peer: Peer, opts: { ts?: boolean; rttMs?: number } = {}) {
  const o = await passiveOpen(peer, opts);
  o.conn.setNoDelay(true);
  return o;
}

const MSS = 1448;

/**
 * An open connection with one round trip of `ms` measured; `base` is where
 * its data goes on, and `ack` sends the peer's ACK with a TSval and SACK blocks.
 */
async function openTimed(peer: Peer, ms: number, rttMs?: number) {
  const o = await open(peer, { rttMs });
  const ack = (a: number, tsVal: number, sack?: [number, number][]) =>
    peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: a, flags: "A", ts: o.ts(tsVal), sack });
  await o.conn.write(new Uint8Array(MSS));
  peer.take();
  await peer.advance(ms);
  const base = o.iss + 1 + MSS;
  ack(base, 500 + ms);
  return { ...o, base, ack };
}

/** The data segments the stack has sent since the last take, as segment numbers from `base`. */
function segmentsSent(peer: Peer, base: number): number[] {
  return peer.take().filter((s) => s.data.length > 0).map((s) => (s.seq - base) / MSS);
}

/** The first data segment the stack sends within `ms`, in 1 ms steps, or undefined. */
async function nextData(peer: Peer, ms: number) {
  for (let t = 0; t < ms; t++) {
    await peer.advance(1);
    const seg = peer.take().find((s) => s.data.length > 0);
    if (seg) return seg;
  }
  return undefined;
}

Deno.test("tlp: a lost tail gets a probe, not an RTO, and RACK repairs the rest (RFC 8985 7)", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await open(peer);
  const base = iss + 1;
  await conn.write(new Uint8Array(4 * MSS));
  assert.equal(peer.take().length, 4);
  await peer.advance(5);
  // The first two arrive; the last two are lost.
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: base + 2 * MSS, flags: "A", ts: ts(520) });
  peer.take();
  const probe = await nextData(peer, 150);
  assert.ok(probe, "a probe before the 200 ms RTO");
  assert.equal(probe.seq, base + 3 * MSS, "the probe is the last segment");
  assert.equal(peer.stack.tcp.stats.tailLossProbes, 1);
  // The probe's ACK SACKs it: the segment before it is lost, and resent.
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1,
    ack: base + 2 * MSS,
    flags: "A",
    ts: ts(540),
    sack: [[base + 3 * MSS, base + 4 * MSS]],
  });
  const repair = await nextData(peer, 50);
  assert.ok(repair, "the hole is resent");
  assert.equal(repair.seq, base + 2 * MSS);
  const st = peer.stack.tcp.stats;
  assert.equal(st.timeouts, 0, "no RTO");
  assert.equal(st.sackRecoveries, 1);
});

Deno.test("rack: a lost retransmission is sent again without waiting for an RTO", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await open(peer);
  const base = iss + 1;
  await conn.write(new Uint8Array(20 * MSS)); // ten leave, ten wait for the window
  const first = peer.take().filter((s) => s.data.length > 0);
  await peer.advance(5);
  // Segment 0 is lost; 1-9 are SACKed: three or more, so it is lost at once.
  const sack = (to: number, extra: [number, number][] = []) =>
    peer.send({
      sport: P,
      dport: 80,
      seq: ISN + 1,
      ack: base,
      flags: "A",
      ts: ts(520),
      sack: [[base + MSS, to], ...extra],
    });
  sack(base + first.length * MSS);
  const sent1 = peer.take().filter((s) => s.data.length > 0);
  assert.equal(sent1[0]?.seq, base, "fast retransmit of segment 0");
  const after = sent1.filter((s) => s.seq !== base);
  assert.ok(after.length > 0, "PRR lets new data follow the retransmission");
  await peer.advance(5);
  // The new data arrives, the retransmission does not.
  const top = after.at(-1)!;
  sack(top.seq + top.data.length);
  let again;
  for (let t = 0; t < 20 && !again; t++) {
    again = peer.take().find((s) => s.seq === base && s.data.length > 0);
    if (!again) await peer.advance(1);
  }
  assert.ok(again, "segment 0 resent a second time");
  assert.equal(peer.stack.tcp.stats.timeouts, 0, "no RTO");
  assert.equal(peer.stack.tcp.stats.sackRecoveries, 1, "within the same recovery");
});

Deno.test("tlp: in recovery, a lost retransmission with nothing sent after it gets a probe, not an RTO", async () => {
  const peer = new Peer();
  const { conn, base, ack } = await openTimed(peer, 5);
  await conn.write(new Uint8Array(4 * MSS)); // all of it leaves: nothing new to follow
  assert.equal(peer.take().filter((s) => s.data.length > 0).length, 4);
  await peer.advance(1); // within the probe timeout
  // Segment 0 is lost, 1-3 are SACKed: fast retransmit of segment 0.
  ack(base, 520, [[base + MSS, base + 4 * MSS]]);
  assert.deepEqual(peer.take().filter((s) => s.data.length > 0).map((s) => s.seq), [base]);
  // The retransmission is lost too, and no later segment can show it.
  const probe = await nextData(peer, 150);
  assert.ok(probe, "a probe before the 200 ms RTO");
  assert.deepEqual([probe.seq, probe.data.length], [base, MSS], "the first hole, again");
  const st = peer.stack.tcp.stats;
  assert.deepEqual([st.tailLossProbes, st.timeouts, st.sackRecoveries], [1, 0, 1]);
  // It arrives: the recovery ends, and the probe brings no second reduction.
  const cwnd = conn.block.snd.cc.cwnd;
  ack(base + 4 * MSS, 540);
  assert.equal(conn.block.snd.inRecovery, false);
  assert.equal(st.tlpRecoveries, 0);
  assert.ok(conn.block.snd.cc.cwnd >= cwnd);
});

Deno.test("tlp: a recovery the reordering timer starts gets a probe for its lost retransmission", async () => {
  const peer = new Peer();
  // Every round trip 4 ms or more: RACK's window (min RTT / 4) is 1 ms.
  const { conn, base, ack } = await openTimed(peer, 5, 4);
  await conn.write(new Uint8Array(2 * MSS)); // all of it leaves: nothing new to follow
  assert.equal(peer.take().filter((s) => s.data.length > 0).length, 2);
  await peer.advance(4);
  // Segment 1 is SACKed, segment 0 not: under DupThresh, so RACK waits out
  // its reordering window, and its timer, not an ACK, starts the recovery.
  ack(base, 520, [[base + MSS, base + 2 * MSS]]);
  assert.equal(peer.take().filter((s) => s.data.length > 0).length, 0, "not yet lost");
  const resent = await nextData(peer, 5);
  assert.ok(resent && resent.seq === base, "segment 0 resent when the window ran out");
  assert.equal(peer.stack.tcp.stats.sackRecoveries, 1);
  // That retransmission is lost too: a probe repeats it, not the RTO.
  const probe = await nextData(peer, 150);
  assert.ok(probe, "a probe before the 200 ms RTO");
  assert.deepEqual([probe.seq, probe.data.length], [base, MSS], "the first hole, again");
  const st = peer.stack.tcp.stats;
  assert.deepEqual([st.tailLossProbes, st.timeouts], [1, 0]);
});

Deno.test("tlp: in recovery, progress lets a later lost retransmission have a probe of its own", async () => {
  const peer = new Peer();
  const { conn, base, ack } = await openTimed(peer, 5);
  await conn.write(new Uint8Array(6 * MSS)); // all of it leaves: nothing new to follow
  assert.equal(peer.take().filter((s) => s.data.length > 0).length, 6);
  await peer.advance(1);
  // Segments 0 and 3 are lost; 1, 2, 4 and 5 SACKed: both resent.
  const seg = (i: number) => base + i * MSS;
  ack(base, 520, [[seg(1), seg(3)], [seg(4), seg(6)]]);
  const resent = () => segmentsSent(peer, base);
  assert.deepEqual(resent(), [0, 3]);
  // Both retransmissions are lost: the probe repeats the first hole.
  let probe = await nextData(peer, 150);
  assert.equal(probe && (probe.seq - base) / MSS, 0, "the first probe: segment 0");
  // It arrives: SND.UNA moves up to the second hole, and the probe, sent
  // after segment 3's retransmission, shows that one lost: resent.
  ack(seg(3), 540, [[seg(4), seg(6)]]);
  assert.deepEqual(resent(), [3]);
  // Lost again, with nothing sent after it: a second probe, not the RTO.
  probe = await nextData(peer, 150);
  assert.equal(probe && (probe.seq - base) / MSS, 3, "the second probe: segment 3");
  const st = peer.stack.tcp.stats;
  assert.deepEqual([st.tailLossProbes, st.timeouts, st.sackRecoveries], [2, 0, 1]);
});

Deno.test("tlp: in recovery, a probe that is only SACKed still lets the next stall have one", async () => {
  const peer = new Peer();
  const { conn, base, ack } = await openTimed(peer, 5);
  conn.write(new Uint8Array(40 * MSS));
  await settle();
  const seg = (i: number) => base + i * MSS;
  const sent = () => segmentsSent(peer, base);
  assert.equal(sent().length, 10, "the initial window");
  await peer.advance(1);
  // Segment 0 is lost, 1-9 SACKed: recovery resends 0 and PRR lets 10-13 follow.
  ack(base, 520, [[seg(1), seg(10)]]);
  assert.deepEqual(sent(), [0, 10, 11, 12, 13]);
  // All five are lost: the probe is new data, segment 14.
  await peer.advance(1);
  let probe = await nextData(peer, 150);
  assert.equal(probe && (probe.seq - base) / MSS, 14, "the first probe: new data");
  // Only the probe arrives. SND.UNA stays, but RACK now knows 0 and 10-13
  // lost, and PRR lets the first of them go again.
  ack(base, 540, [[seg(1), seg(10)], [seg(14), seg(15)]]);
  const again = sent();
  assert.equal(again[0], 0, `resent ${again}`);
  // Those are lost too: a second probe, not the RTO.
  probe = await nextData(peer, 150);
  assert.ok(probe, "a second probe before the 200 ms RTO");
  const st = peer.stack.tcp.stats;
  assert.deepEqual([st.tailLossProbes, st.timeouts, st.sackRecoveries], [2, 0, 1]);
});

Deno.test("tlp: in recovery, a probe for a hole that holds the FIN sends the FIN again with it", async () => {
  const peer = new Peer();
  const { conn, base, ack } = await openTimed(peer, 5);
  await conn.write(new Uint8Array(3 * MSS));
  conn.close();
  await settle();
  assert.deepEqual(peer.take().map((s) => [s.seq - base, s.data.length, s.flags]), [
    [0, MSS, "A"],
    [MSS, MSS, "A"],
    [2 * MSS, MSS, "PA"],
    [3 * MSS, 0, "FA"],
  ]);
  await peer.advance(1);
  // Segment 0 lost, 1 SACKed: one segment is no DupThresh, so RACK's
  // reordering window runs out before segment 0 goes again.
  ack(base, 511, [[base + MSS, base + 2 * MSS]]);
  const again = await nextData(peer, 20);
  assert.equal(again?.seq, base);
  // It arrives: a partial ACK, still in recovery. Segment 2 and the FIN,
  // sent before it, are lost, and RACK sends them again: lost too, with
  // nothing sent after them. The probe sends both at once.
  ack(base + 2 * MSS, 520);
  assert.equal(conn.block.snd.inRecovery, true);
  assert.equal((await nextData(peer, 20))?.seq, base + 2 * MSS);
  const probe = await nextData(peer, 150);
  assert.ok(probe, "a probe before the 200 ms RTO");
  assert.deepEqual([probe.seq - base, probe.data.length, probe.flags], [2 * MSS, MSS, "FA"]);
  assert.equal(peer.stack.tcp.stats.timeouts, 0);
});

Deno.test("tlp: in recovery, a peer that SACKs SND.UNA itself still gets a probe from SND.UNA", async () => {
  const peer = new Peer();
  const { conn, base, ack } = await openTimed(peer, 5);
  await conn.write(new Uint8Array(4 * MSS));
  peer.take();
  await peer.advance(1);
  ack(base, 520, [[base + MSS, base + 4 * MSS]]); // segment 0 lost: fast retransmit
  assert.equal((await nextData(peer, 1))?.seq, base);
  ack(base, 521, [[base, base + 4 * MSS]]); // a block that holds SND.UNA: no hole left
  const probe = await nextData(peer, 150);
  assert.ok(probe, "a probe before the 200 ms RTO");
  assert.deepEqual([probe.seq, probe.data.length], [base, MSS]);
});

Deno.test("tlp: a probe timer an ACK moved later asks for its wake-up again, not for the next 10 ms tick", async () => {
  const peer = new Peer();
  const { conn, base, ack } = await openTimed(peer, 2);
  await conn.write(new Uint8Array(3 * MSS));
  peer.take();
  const first = conn.block.ptoAt;
  assert.ok(first > peer.now);
  const wakes: number[] = [];
  peer.stack.tcp.onWake = (at) => wakes.push(at);
  // The first segment's ACK moves the probe later; the wake-up asked for
  // the first time comes, and finds nothing due.
  await peer.advance(1);
  ack(base + MSS, 503);
  const moved = conn.block.ptoAt;
  assert.ok(moved > first);
  wakes.length = 0;
  peer.stack.tick(first);
  assert.deepEqual(wakes, [moved]);
});

Deno.test("dsack: a duplicate segment is reported in the next ACK's first SACK block (RFC 2883)", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await open(peer);
  const data = new Uint8Array(1000);
  const seg = { sport: P, dport: 80, seq: ISN + 1, ack: iss + 1, flags: "PA", data, ts: ts(520) };
  peer.send(seg);
  peer.take();
  peer.send(seg); // again: a needless retransmission
  const [ack] = peer.take();
  assert.equal(ack.ack, ISN + 1001);
  assert.deepEqual(ack.sack, [[ISN + 1, ISN + 1001]]);
  // Reported once: the next ACK carries no block.
  peer.send({ ...seg, seq: ISN + 1001, data: new Uint8Array(10) });
  await peer.advance(50);
  const later = peer.take();
  assert.ok(later.length > 0 && later.every((s) => (s.sack ?? []).length === 0));
  conn.close();
});

Deno.test("undo: a recovery whose retransmission is D-SACKed gets its window back (RFC 3708)", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await open(peer);
  const base = iss + 1;
  await conn.write(new Uint8Array(10 * MSS));
  peer.take();
  await peer.advance(5);
  const cwnd = conn.block.snd.cc.cwnd;
  // Segment 0 is late, not lost: 1-9 are SACKed first.
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1,
    ack: base,
    flags: "A",
    ts: ts(520),
    sack: [[base + MSS, base + 10 * MSS]],
  });
  assert.equal(peer.take().filter((s) => s.seq === base && s.data.length > 0).length, 1);
  assert.ok(conn.block.snd.cc.cwnd < cwnd, "the window was cut");
  // The original arrives, then the retransmission: the peer D-SACKs it.
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: base + 10 * MSS, flags: "A", ts: ts(521) });
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1,
    ack: base + 10 * MSS,
    flags: "A",
    ts: ts(522),
    sack: [[base, base + MSS]],
  });
  const st = peer.stack.tcp.stats;
  assert.equal(st.dsacksReceived, 1);
  assert.equal(st.recoveriesUndone, 1);
  assert.ok(conn.block.snd.cc.cwnd >= cwnd, `cwnd ${conn.block.snd.cc.cwnd} back to ${cwnd}`);
});

/** Lets time pass until the RTO resends the segment at `base`; returns that retransmission. */
async function timeoutRetransmission(peer: Peer, base: number) {
  for (let t = 0; t < 2000; t++) {
    await peer.advance(1);
    const rexmit = peer.take().find((s) => s.data.length > 0);
    if (rexmit) {
      assert.equal(rexmit.seq, base, "the RTO resent the first segment");
      return rexmit;
    }
  }
  throw new Error("No retransmission within 2 s");
}

// Data sent, no ACK until the RTO has fired and its retransmission left;
// then an ACK echoing `echo(original TSval, retransmission's TSval)`.
async function afterTimeout(echoOriginal: boolean) {
  const peer = new Peer({ tcp: { tlp: false } });
  const { conn, iss } = await open(peer);
  const base = iss + 1;
  await conn.write(new Uint8Array(4 * MSS));
  const first = peer.take();
  assert.equal(first.length, 4);
  const cwndBefore = conn.block.snd.cc.cwnd;
  const rexmit = await timeoutRetransmission(peer, base);
  assert.ok(rexmit.ts![0] > first[0].ts![0], "with a newer TSval");
  const echo = echoOriginal ? first[3].ts![0] : rexmit.ts![0];
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1,
    ack: base + 4 * MSS,
    flags: "A",
    ts: [600, echo],
  });
  return { peer, conn, cwndBefore, after: peer.take() };
}

Deno.test("eifel: an ACK echoing the original's TSval undoes a spurious RTO (RFC 3522, RFC 4015)", async () => {
  const { peer, conn, cwndBefore } = await afterTimeout(true);
  const st = peer.stack.tcp.stats;
  assert.equal(st.timeouts, 1);
  assert.equal(st.spuriousTimeouts, 1);
  assert.equal(conn.block.snd.cc.cwnd >= cwndBefore, true, "cwnd as before the timeout");
  assert.equal(conn.block.snd.cc.ssthresh, Number.MAX_SAFE_INTEGER, "ssthresh as before");
});

Deno.test("eifel: an ACK echoing the retransmission's TSval leaves the timeout's reduction", async () => {
  const { peer, conn } = await afterTimeout(false);
  const st = peer.stack.tcp.stats;
  assert.equal(st.timeouts, 1);
  assert.equal(st.spuriousTimeouts, 0);
  assert.ok(conn.block.snd.cc.ssthresh < Number.MAX_SAFE_INTEGER, "ssthresh was cut");
});

// Without timestamps: data sent, no ACK until the RTO's retransmission of
// the first segment left, then an ACK of that first segment only.
async function frtoAfterTimeout() {
  const peer = new Peer({ tcp: { tlp: false } });
  const { conn, iss } = await open(peer, { ts: false });
  const base = iss + 1;
  const MSS = conn.block.effMss; // 1460: no timestamp option
  await conn.write(new Uint8Array(16 * MSS));
  const first = peer.take().filter((s) => s.data.length > 0);
  assert.equal(first.length, 10, "the initial window; six segments wait");
  const cwndBefore = conn.block.snd.cc.cwnd;
  const rexmit = await timeoutRetransmission(peer, base);
  assert.equal(rexmit.ts, undefined, "no timestamps: Eifel cannot tell");
  // The first ACK after it covers one segment: F-RTO sends two new ones.
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: base + MSS, flags: "A" });
  const probes = peer.take().filter((s) => s.data.length > 0);
  assert.deepEqual(
    probes.map((s) => s.seq),
    [base + 10 * MSS, base + 11 * MSS],
    "two new segments",
  );
  return { peer, conn, base, cwndBefore, MSS };
}

Deno.test("f-rto: a second ACK of data never retransmitted marks the timeout spurious (RFC 5682)", async () => {
  const { peer, conn, base, cwndBefore, MSS } = await frtoAfterTimeout();
  // The originals had arrived: the next ACK covers them.
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: base + 10 * MSS, flags: "A" });
  const after = peer.take().filter((s) => s.data.length > 0);
  assert.ok(after.length > 0, "sending goes on");
  assert.ok(after.every((s) => s.seq >= base + 12 * MSS), "new data only, nothing resent");
  const st = peer.stack.tcp.stats;
  assert.equal(st.timeouts, 1);
  assert.equal(st.spuriousTimeouts, 1);
  assert.ok(conn.block.snd.cc.cwnd >= cwndBefore, "cwnd as before the timeout");
  assert.equal(conn.block.snd.cc.ssthresh, Number.MAX_SAFE_INTEGER, "ssthresh as before");
});

Deno.test("f-rto: a duplicate ACK after the new segments is a real loss: go back and slow start", async () => {
  const { peer, conn, base, MSS } = await frtoAfterTimeout();
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: base + MSS, flags: "A" });
  const after = peer.take().filter((s) => s.data.length > 0);
  assert.equal(after[0]?.seq, base + MSS, "the next unacknowledged segment is resent");
  assert.equal(peer.stack.tcp.stats.spuriousTimeouts, 0);
  assert.ok(conn.block.snd.cc.cwnd <= 3 * MSS, `cwnd ${conn.block.snd.cc.cwnd}`);
  assert.ok(conn.block.snd.cc.ssthresh < Number.MAX_SAFE_INTEGER, "ssthresh was cut");
});
