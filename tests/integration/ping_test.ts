import assert from "node:assert/strict";
import { integrationIgnored, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();

Deno.test({
  name: "ping and ping -6 over the tunnel: 0% loss, pairs and checksums in tcpdump",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns, dir) => {
      const stack = await ns.startStack();
      const pcap = `${dir}/ping.pcap`;
      const dump = await ns.capture(pcap, "tunstack0", ["icmp", "or", "icmp6"]);
      const p4 = await ns.run(["ping", "-c", "5", "-i", "0.2", "-W", "2", "192.0.2.2"], 20_000);
      const p6 = await ns.run(
        ["ping", "-6", "-c", "5", "-i", "0.2", "-W", "2", "2001:db8::2"],
        20_000,
      );
      assert.match(p4.stdout, / 0% packet loss/, p4.stdout + p4.stderr);
      assert.match(p6.stdout, / 0% packet loss/, p6.stdout + p6.stderr);
      await dump.stop("SIGINT");

      const text = await ns.ok(["tcpdump", "-r", pcap, "-n", "-vv"]);
      const lines = text.split("\n");
      const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
      assert.equal(count(/192\.0\.2\.1 > 192\.0\.2\.2: ICMP echo request/), 5, text);
      assert.equal(count(/192\.0\.2\.2 > 192\.0\.2\.1: ICMP echo reply/), 5, text);
      assert.equal(
        count(/2001:db8::1 > 2001:db8::2: \[icmp6 sum ok\] ICMP6, echo request/),
        5,
        text,
      );
      assert.equal(count(/2001:db8::2 > 2001:db8::1: \[icmp6 sum ok\] ICMP6, echo reply/), 5, text);
      // tcpdump -vv flags any bad IP or ICMP checksum with "bad cksum"/"wrong".
      assert.doesNotMatch(text, /bad cksum|incorrect|wrong/i);
      // Each reply pairs with its request: same id and seq.
      const seqs = (re: RegExp) =>
        lines.filter((l) => re.test(l)).map((l) =>
          /id (\d+), seq (\d+)/.exec(l)?.slice(1).join("/")
        );
      assert.deepEqual(seqs(/echo reply/), seqs(/echo request/));

      const st = await stack.stop("SIGTERM");
      assert.equal(st.code, 0, stack.stderr);
      assert.match(stack.stdout, /icmp\.echoReplies\s+10/);
      const link = await ns.run(["ip", "link", "show", "tunstack0"]);
      assert.notEqual(link.code, 0, "device must disappear on shutdown");
    }),
});
