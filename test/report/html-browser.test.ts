/// <reference lib="dom" />
/**
 * The HTML dashboard in a real browser: Debian's headless Chromium (/usr/bin/chromium, no
 * browser download) driven by puppeteer-core, with a new empty profile and every network
 * feature off. Checks the DOM the page builds (verdict, every host and caller of a fleet of
 * captures, the inline SVG), that its one script runs under its own CSP and nothing else loads,
 * that typing in the filter narrows the fix and host tables and clicking a header sorts, that a
 * hostile User-Agent or image name stays inert text, and takes screenshots of the top of the
 * page for 1 host and for 1,000 hosts (kept in IMDS_SCREENSHOT_DIR when set, to look at).
 *
 * Skipped (with a printed reason) when chromium is not installed, except under CI=true, where a
 * missing chromium fails: CI installs it (.ci/run).
 */
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "puppeteer-core";
import puppeteer from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateFleet } from "../../bench/fleet-events.mjs";
import { analyzeCaptures } from "../../src/analyze.js";
import { ReportBuilder } from "../../src/report/aggregate.js";
import { hostFromPath, hostLabel } from "../../src/report/host-identity.js";
import { renderHtml } from "../../src/report/render-html.js";
import type { ImdsReport } from "../../src/report/types.js";
import { attributedOk, event, processInfo } from "./event-factory.js";

const chromiumPath = "/usr/bin/chromium";
const capturesDirectory = join(import.meta.dirname, "..", "..", "captures");
const runningInCi = process.env["CI"] === "true";
const viewport = { width: 1440, height: 900 };

function chromiumInstalled(): boolean {
  try {
    accessSync(chromiumPath, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const haveChromium = chromiumInstalled();
if (!haveChromium && !runningInCi) console.log(`html-browser.test.ts skipped: no ${chromiumPath} (apt-get install -y chromium)`);

const scratchDirectory = mkdtempSync(join(tmpdir(), "imds-html-browser-"));
const screenshotDirectory = process.env["IMDS_SCREENSHOT_DIR"] ?? join(scratchDirectory, "screenshots");
mkdirSync(screenshotDirectory, { recursive: true });

/** The report `imds-analyzer analyze <captures> --report x.html` would make. */
async function reportOfCaptures(captureNames: readonly string[]): Promise<ImdsReport> {
  const builder = new ReportBuilder();
  for (const captureName of captureNames) {
    const host = hostFromPath(captureName);
    const source = `captures/${captureName}`;
    const { summary, hadErrors } = await analyzeCaptures([join(capturesDirectory, captureName)], {
      onEvent: (imdsEvent) => { builder.addEvent({ ...imdsEvent, source }, host); },
    });
    expect(hadErrors).toBe(false);
    builder.addSummary(summary, host);
  }
  return builder.build();
}

function fleetReport(hosts: number): ImdsReport {
  const builder = new ReportBuilder();
  generateFleet({ hosts }, {
    event: (imdsEvent, host) => { builder.addEvent(imdsEvent, host); },
    summary: (summary, host) => { builder.addSummary(summary, host); },
  });
  return builder.build();
}

function writeHtml(name: string, html: string): string {
  const path = join(scratchDirectory, `${name}.html`);
  writeFileSync(path, html);
  return path;
}

/** How a DOM serializer writes text: only &, <, > and no-break space are escaped. */
function serializedText(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("\u00a0", "&nbsp;");
}

/** Width and height from the IHDR chunk, which the PNG format requires to come first. */
function pngSize(png: Buffer): { widthPx: number; heightPx: number } {
  expect(png.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
  return { widthPx: png.readUInt32BE(16), heightPx: png.readUInt32BE(20) };
}

describe("HTML dashboard in headless Chromium", () => {
  if (!haveChromium) {
    it.runIf(runningInCi)("chromium is installed (required when CI=true)", () => {
      expect(chromiumInstalled(), "apt-get install -y chromium").toBe(true);
    });
    it.skipIf(runningInCi)("skipped: chromium is not installed", () => undefined);
    return;
  }

  let browser: Browser | null = null;

  beforeAll(async () => {
    browser = await puppeteer.launch({
      executablePath: chromiumPath,
      headless: true,
      userDataDir: join(scratchDirectory, "profile"),
      // A closed network: nothing may be fetched, and the browser must not try.
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      defaultViewport: viewport,
      timeout: 60_000,
    });
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(scratchDirectory, { recursive: true, force: true });
  });

  /** Opens a file; every request but the file itself, and every console error, is recorded. */
  async function open(path: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
    if (browser === null) throw new Error("no browser");
    const page = await browser.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    const url = pathToFileURL(path).href;
    page.on("request", (request) => { if (request.url() !== url) requests.push(request.url()); });
    page.on("console", (message) => { if (message.type() === "error") errors.push(message.text()); });
    page.on("pageerror", (error) => { errors.push(String(error)); });
    await page.goto(url, { waitUntil: "load" });
    return { page, requests, errors };
  }

  async function visibleRows(page: Page, table: string): Promise<number> {
    return page.$$eval(`#${table} tbody tr`, (rows) => rows.filter((row) => !(row as HTMLElement).hidden).length);
  }

  it("shows every host and caller of a fleet of captures, with the chart and the script allowed by its CSP only", async () => {
    const report = await reportOfCaptures(["js-sdk-put-hang-lo-veth.pcapng", "curl-v1-v2-lo.pcap", "keepalive-pipelined-lo.pcap"]);
    expect(report.verdict).toBe("NOT_READY");
    const { page, requests, errors } = await open(writeHtml("captures", renderHtml(report)));
    const dom = await page.content();
    expect(await page.title()).toBe("IMDSv2 readiness: NOT READY");
    expect(dom).toContain("<h1>IMDSv2 readiness: NOT READY</h1>");
    for (const host of report.hosts) expect(dom).toContain(`<code>${serializedText(hostLabel(host))}</code>`);
    for (const caller of report.callers.filter((candidate) => candidate.v1 > 0)) expect(dom).toContain(serializedText(caller.caller.label));
    expect(await page.$$eval("svg.chart rect.v1", (bars) => bars.length)).toBeGreaterThan(0);
    expect(await page.$$eval("#fix-table tbody tr", (rows) => rows.length)).toBe(report.fixes.length);
    // One script, ours; nothing requested; no CSP violation or script error.
    expect(await page.$$eval("script", (scripts) => scripts.length)).toBe(1);
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("typing in the filter narrows the fix and host tables; clicking a header sorts", async () => {
    const report = fleetReport(60);
    const { page, errors } = await open(writeHtml("fleet-60", renderHtml(report)));
    const fixes = report.fixes.length;
    expect(fixes).toBeGreaterThanOrEqual(5);
    expect(await visibleRows(page, "fix-table")).toBe(fixes);
    expect(await visibleRows(page, "host-table")).toBe(60);

    // A namespace: the checkout image's fix, and the hosts where it runs.
    await page.type("#filter", "shop-staging");
    const checkout = report.fixes.filter((fix) => fix.placement.workloads.some((workload) => workload.startsWith("shop-staging/")));
    expect(checkout).toHaveLength(1);
    expect(await visibleRows(page, "fix-table")).toBe(1);
    expect(await page.$$eval("#fix-table tbody tr:not([hidden])", (rows) => rows.map((row) => (row as HTMLElement).dataset["fix"]))).toEqual([checkout[0]!.id]);
    expect(await visibleRows(page, "host-table")).toBe(checkout[0]!.hostCount);
    expect(await page.$eval("#filter-status", (status) => status.textContent)).toBe(`1 of ${fixes} fixes, ${checkout[0]!.hostCount} of 60 hosts listed`);

    // A host name: that host's fixes only.
    await page.$eval("#filter", (input) => { (input as HTMLInputElement).value = ""; });
    await page.type("#filter", "node-00004");
    const host = report.hosts.find((candidate) => candidate.hostname === "node-00004")!;
    expect(await visibleRows(page, "fix-table")).toBe(host.fixes.length);
    expect(await visibleRows(page, "host-table")).toBe(1);

    // A reason and an image, two words: both must match.
    await page.$eval("#filter", (input) => { (input as HTMLInputElement).value = ""; });
    await page.type("#filter", "too old billing");
    expect(await visibleRows(page, "fix-table")).toBe(1);

    // Cleared: everything again.
    await page.$eval("#filter", (input) => { (input as HTMLInputElement).value = ""; input.dispatchEvent(new Event("input")); });
    expect(await visibleRows(page, "fix-table")).toBe(fixes);

    // Sort fixes by IMDSv1 calls, ascending then descending.
    const v1Column = async (): Promise<number[]> => page.$$eval("#fix-table tbody tr", (rows) => rows.map((row) => Number((row.children[4] as HTMLElement).dataset["value"])));
    await page.click("#fix-table th:nth-child(5)");
    const ascending = await v1Column();
    expect(ascending).toEqual([...ascending].sort((a, b) => a - b));
    await page.click("#fix-table th:nth-child(5)");
    const descending = await v1Column();
    expect(descending).toEqual([...ascending].reverse());
    expect(errors).toEqual([]);
    await page.close();
  });

  it("keeps a hostile User-Agent and image name as text: no element made, no handler ran", async () => {
    const hostile = "<script>document.documentElement.setAttribute('data-pwned','script')</script><img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">";
    const builder = new ReportBuilder();
    builder.addEvent(event({ userAgent: `evil/1.0 ${hostile}` }), "i-0123456789abcdef0");
    const container = { runtime: "containerd", id: "e".repeat(64), name: null, image: `registry.example.com/${hostile}:1`, kubernetes: { namespace: `ns${hostile}`, pod: "x-7d9f8b6c5-x2x9z", podUid: null, container: "c" }, ecs: null, source: "containerd-bundle" };
    builder.addEvent(event({ host: "web-2", process: processInfo({ container: container as unknown as ReturnType<typeof processInfo>["container"] }), attribution: attributedOk }), "web-2");
    const { page, requests, errors } = await open(writeHtml("hostile", renderHtml(builder.build())));
    expect(await page.$$eval("script", (scripts) => scripts.length)).toBe(1);
    expect(await page.$$eval("img", (images) => images.length)).toBe(0);
    expect(await page.evaluate(() => document.documentElement.getAttribute("data-pwned"))).toBeNull();
    expect(await page.evaluate(() => document.body.innerText)).toContain("registry.example.com/<script>");
    // Filtering on the hostile text still only hides rows.
    await page.type("#filter", "<script>");
    expect(await visibleRows(page, "fix-table")).toBe(1);
    expect(await page.$$eval("img", (images) => images.length)).toBe(0);
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it.each([1, 1000])("screenshot of the top of the page for %i host(s)", async (hosts) => {
    const report = hosts === 1 ? await reportOfCaptures(["js-sdk-put-hang-lo-veth.pcapng"]) : fleetReport(hosts);
    expect(report.hosts).toHaveLength(hosts);
    const html = renderHtml(report);
    const { page, errors } = await open(writeHtml(`top-${hosts}`, html));
    const screenshotPath = join(screenshotDirectory, `report-top-${hosts}-host${hosts === 1 ? "" : "s"}.png`);
    await page.screenshot({ path: screenshotPath, clip: { x: 0, y: 0, ...viewport } });
    expect(pngSize(readFileSync(screenshotPath))).toEqual({ widthPx: viewport.width, heightPx: viewport.height });
    // A rendered page, not a blank one: a blank 1440x900 PNG is a few KB.
    expect(statSync(screenshotPath).size).toBeGreaterThan(40_000);
    // The top of the page holds the verdict, the counts and the chart; the fix table starts in it.
    const chartBox = await page.$eval("svg.chart", (chart) => chart.getBoundingClientRect().bottom);
    expect(chartBox).toBeLessThan(viewport.height);
    const fixesTop = await page.$eval("#fixes", (heading) => heading.getBoundingClientRect().top);
    expect(fixesTop).toBeLessThan(viewport.height);
    expect(errors).toEqual([]);
    if (hosts === 1000) expect(Buffer.byteLength(html)).toBeLessThan(2_500_000);
    await page.close();
  });
});
