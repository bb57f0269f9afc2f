// `tunstack up --pcap FILE`: the stack's own capture with its verdicts as
// pcapng comments, read back by tshark and tcpdump, rotating past its size.

import assert from "node:assert/strict";
import { integrationIgnored, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();

Deno.test({
  name: "pcap: tshark reads the verdicts (tcp_twstart, drops) as comments; tcpdump reads the file",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      // The control directory is one the stack may write to already.
      const file = `${ns.controlDir}/verdicts.pcapng`;
      await ns.startStack(["--pcap", file, "--pcap-size", "1"]);
      // The server closes first: the client's FIN puts the connection in TIME_WAIT.
      const url = "http://192.0.2.2/bytes/100";
      await ns.ok(["curl", "-sS", "--fail", "-o", "/dev/null", "-H", "Connection: close", url]);
      // A UDP datagram: there is no UDP, so IP drops it (and answers protocol unreachable).
      await ns.ok(["sh", "-c", "echo x | nc -u -w1 192.0.2.2 9"]);
      await new Promise((r) => setTimeout(r, 300)); // the capture flushes every 100 ms
      // As the README shows it: only the frames with a verdict.
      const shown = await ns.ok([
        "tshark",
        "-r",
        file,
        "-Y",
        "frame.comment",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "frame.comment",
      ]);
      const comments = shown.trim().split("\n").map((l) => l.split("\t")[1]);
      assert.ok(comments.includes("tcp_twstart"), comments.join(" | "));
      assert.ok(comments.includes("drop: ip.dropped.unknownProtocol"), comments.join(" | "));
      // 3 MB more: past --pcap-size 1 the file moves to FILE.1 (a ring of two).
      await ns.ok(["curl", "-sS", "--fail", "-o", "/dev/null", "http://192.0.2.2/bytes/3000000"]);
      await new Promise((r) => setTimeout(r, 300));
      const st = await Deno.stat(`${file}.1`);
      assert.ok(st.size > 1024 * 1024, `rotated at 1 MB: ${st.size} bytes`);
      const tcpdump = await ns.ok(["tcpdump", "-nn", "-r", `${file}.1`, "-c", "3"]);
      assert.match(tcpdump, /192\.0\.2\.\d\.\d+ > 192\.0\.2\.\d\.\d+: Flags/);
    }),
});
