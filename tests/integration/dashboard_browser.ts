// Drives /dashboard in headless Chromium (Debian's, through playwright-core)
// from inside the test's namespace: loads the page, makes TIME_WAIT entries
// with curl, and follows the chart up and back down after expiry. Prints
// one JSON line with what it saw; saves screenshots to the artefact folder.
//
//   deno run -A dashboard_browser.ts http://192.0.2.2 ARTEFACT_DIR CONNECTIONS

import { chromium } from "playwright-core";

const [
  base = "http://192.0.2.2",
  outDir = "test-artifacts",
  n = "20",
  base6 = "http://[2001:db8::2]",
] = Deno.args;
const connections = Number(n);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true });
const deadline = (ms: number) => Date.now() + ms;
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 620 } });
  await page.goto(`${base}/dashboard?ms=200`);
  const count = async () => Number(await page.textContent("#tw-count"));
  const series = async () =>
    JSON.parse((await page.getAttribute("#chart", "data-series")) ?? "[]") as number[];
  for (const end = deadline(10_000); Number.isNaN(await count());) {
    if (Date.now() > end) throw new Error("the page never showed a count");
    await page.waitForTimeout(100);
  }
  const before = await count();
  // The server closes first after "Connection: close": each request leaves
  // an entry in the stack's TIME_WAIT table.
  // Every other one over IPv6, whose rows must show [addr]:port.
  for (let i = 0; i < connections; i++) {
    const url = i % 2 ? `${base6}/bytes/10` : `${base}/bytes/10`;
    const r = await new Deno.Command("curl", {
      args: ["-sS", "-m", "5", "-o", "/dev/null", "-H", "Connection: close", url],
    }).output();
    if (r.code !== 0) throw new Error(`curl failed: ${new TextDecoder().decode(r.stderr)}`);
  }
  let peak = 0;
  for (const end = deadline(5000); peak < connections && Date.now() < end;) {
    peak = Math.max(peak, await count());
    await page.waitForTimeout(100);
  }
  const rows = await page.locator("#nearest tr").count();
  const v6Rows = (await page.locator("#nearest tr").allTextContents())
    .filter((t) => t.includes("[2001:db8::2]:80")).length;
  const started = Number(await page.textContent("#tw-started"));
  const limitDrawn = await page.getAttribute("#chart", "data-limit");
  await page.screenshot({ path: `${outDir}/dashboard-rising.png` });
  // Paused, the page stops polling: neither the count nor the time moves.
  await page.click("#pause");
  await page.waitForTimeout(300);
  const heldCount = await count(), heldAt = await page.textContent("#updated");
  await page.waitForTimeout(1000);
  const pauseHeld = (await count()) === heldCount &&
    (await page.textContent("#updated")) === heldAt;
  await page.click("#pause");
  // 2MSL later every entry has expired, and the line is back at zero.
  let after = peak;
  for (const end = deadline(20_000); after > 0 && Date.now() < end;) {
    after = await count();
    await page.waitForTimeout(200);
  }
  await page.waitForTimeout(400);
  await page.screenshot({ path: `${outDir}/dashboard.png` });
  const drawn = await series();
  console.log(JSON.stringify({
    before,
    peak,
    after,
    rows,
    v6Rows,
    limitDrawn,
    pauseHeld,
    updated: heldAt,
    started,
    seriesMax: Math.max(...drawn),
    seriesLast: drawn.at(-1),
    samples: drawn.length,
  }));
} finally {
  await browser.close();
}
