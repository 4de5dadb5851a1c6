/**
 * The HTML report in a real browser: headless Chromium (Debian `chromium`) loads the rendered
 * file, and we check the DOM it built (--dump-dom) and a screenshot. Parsing by a browser is the
 * only way to know the single file is well-formed enough to show the verdict, every caller and
 * the inline SVG timelines, and that a hostile User-Agent stays text.
 *
 * Skipped (with a printed reason) when chromium is not installed, except under CI=true, where a
 * missing chromium fails: CI must install it (.ci/run).
 */
import { spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { analyzeCaptures } from "../../src/analyze.js";
import { ReportBuilder } from "../../src/report/aggregate.js";
import { hostFromPath, hostLabel } from "../../src/report/host-identity.js";
import { renderHtml } from "../../src/report/render-html.js";
import type { ImdsReport } from "../../src/report/types.js";
import { event } from "./event-factory.js";

const capturesDirectory = join(import.meta.dirname, "..", "..", "captures");
const chromiumTimeoutMs = 30_000;
const screenshotWidthPx = 1280;
const screenshotHeightPx = 2000;
/** A blank 1280x2000 PNG compresses to a few KB; a rendered report is well above this. */
const minimumScreenshotBytes = 20_000;
const runningInCi = process.env["CI"] === "true";

function findOnPath(command: string): string | null {
  for (const directory of (process.env["PATH"] ?? "").split(delimiter)) {
    if (directory.length === 0) continue;
    const candidate = join(directory, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

const chromium = findOnPath("chromium");
if (chromium === null && !runningInCi) {
  console.log("html-browser.test.ts skipped: no `chromium` on PATH (apt-get install -y chromium)");
}

const scratchDirectory = mkdtempSync(join(tmpdir(), "imds-html-browser-"));
afterAll(() => { rmSync(scratchDirectory, { recursive: true, force: true }); });

interface ChromiumRun {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

let profileCount = 0;

/** Runs headless chromium on one file with a fresh profile, killed (by process group) after 30 s. */
function runChromium(executable: string, extraArgs: readonly string[], htmlPath: string): Promise<ChromiumRun> {
  const profileDirectory = join(scratchDirectory, `profile-${String(++profileCount)}`);
  const args = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${profileDirectory}`,
    ...extraArgs,
    pathToFileURL(htmlPath).href,
  ];
  return new Promise((resolve, reject) => {
    // Own process group, so a timeout kills chromium's zygote and renderers too.
    const child = spawn(executable, args, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    }, chromiumTimeoutMs);
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error) => { clearTimeout(timer); reject(error); });
    child.on("close", (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8"), timedOut });
    });
  });
}

async function dumpDom(executable: string, htmlPath: string): Promise<string> {
  const run = await runChromium(executable, ["--dump-dom"], htmlPath);
  expect(run.timedOut, run.stderr).toBe(false);
  expect(run.exitCode, run.stderr).toBe(0);
  return run.stdout;
}

/** The report `imds-analyzer analyze <captures> --report --format html` would make. */
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

/** How a DOM serializer writes text: only &, <, > and no-break space are escaped. */
function serializedText(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("\u00a0", "&nbsp;");
}

function countOf(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

/** Width and height from the IHDR chunk, which the PNG format requires to come first. */
function pngSize(png: Buffer): { widthPx: number; heightPx: number } {
  expect(png.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
  expect(png.readUInt32BE(8)).toBe(13);
  expect(png.subarray(12, 16).toString("latin1")).toBe("IHDR");
  return { widthPx: png.readUInt32BE(16), heightPx: png.readUInt32BE(20) };
}

describe("HTML report in headless chromium", () => {
  if (chromium === null) {
    it.runIf(runningInCi)("chromium is installed (required when CI=true)", () => {
      expect(findOnPath("chromium"), "apt-get install -y chromium").not.toBeNull();
    });
    it.skipIf(runningInCi)("skipped: chromium is not installed", () => undefined);
    return;
  }
  const executable = chromium;

  const captureNames = ["js-sdk-put-hang-lo-veth.pcapng", "curl-v1-v2-lo.pcap"] as const;
  let reportPath = "";
  let report: ImdsReport | null = null;
  let html = "";

  async function renderedReport(): Promise<{ report: ImdsReport; html: string; path: string }> {
    if (report === null) {
      report = await reportOfCaptures(captureNames);
      html = renderHtml(report);
      reportPath = join(scratchDirectory, "report.html");
      writeFileSync(reportPath, html);
    }
    return { report, html, path: reportPath };
  }

  it("builds a DOM with the verdict, every caller and the SVG timelines", async () => {
    const rendered = await renderedReport();
    // The fixture must be what we think it is, or the DOM checks below prove little.
    expect(rendered.report.verdict).toBe("NOT_READY");
    // The curl capture fetched the instance id: that host is known by it (and its file name).
    expect(rendered.report.hosts.map((host) => [host.host, host.hostname]).sort()).toEqual([
      ["i-0123456789abcdef0", "curl-v1-v2-lo"],
      ["js-sdk-put-hang-lo-veth", "js-sdk-put-hang-lo-veth"],
    ]);
    expect(rendered.report.callers.length).toBeGreaterThanOrEqual(2);

    const dom = await dumpDom(executable, rendered.path);
    expect(dom).toContain("<title>IMDSv2 readiness: NOT READY</title>");
    expect(dom).toContain("<h1>IMDSv2 readiness: NOT READY</h1>");
    expect(dom).toContain(serializedText("IMDSv1 callers must change before tokens can be required."));
    for (const caller of rendered.report.callers) {
      expect(caller.caller.label.length).toBeLessThanOrEqual(200); // else the page shows it truncated
      expect(dom).toContain(serializedText(caller.caller.label));
    }
    for (const host of rendered.report.hosts) expect(dom).toContain(`<code>${serializedText(hostLabel(host))}</code>`);
    expect(dom).toContain("<code>i-0123456789abcdef0 (curl-v1-v2-lo)</code>");
    // Every inline SVG the renderer wrote survived parsing as an SVG element with its bars.
    const svgCount = countOf(rendered.html, '<svg class="timeline"');
    expect(svgCount).toBeGreaterThan(0);
    expect(countOf(dom, '<svg class="timeline"')).toBe(svgCount);
    expect(countOf(dom, "</svg>")).toBe(countOf(rendered.html, "</svg>"));
    expect(dom).toMatch(/<svg class="timeline"[^>]*>.*?<rect [^>]*fill="#c62828"/s);
    // Self-contained: nothing the page could fetch.
    expect(dom).not.toMatch(/<(script|link|img|iframe)\b/i);
  });

  it("renders a screenshot of the requested size with content", async () => {
    const rendered = await renderedReport();
    const screenshotPath = join(scratchDirectory, "report.png");
    const run = await runChromium(executable, [`--screenshot=${screenshotPath}`, `--window-size=${String(screenshotWidthPx)},${String(screenshotHeightPx)}`, "--hide-scrollbars"], rendered.path);
    expect(run.timedOut, run.stderr).toBe(false);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(statSync(screenshotPath).size).toBeGreaterThan(minimumScreenshotBytes);
    expect(pngSize(readFileSync(screenshotPath))).toEqual({ widthPx: screenshotWidthPx, heightPx: screenshotHeightPx });
  });

  it("keeps a hostile User-Agent as text: no script or img element, no handler ran", async () => {
    const hostileUserAgent =
      "evil/1.0 <script>window.pwned=1;document.documentElement.setAttribute('data-pwned','script')</script>" +
      "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">";
    const builder = new ReportBuilder();
    builder.addEvent(event({ userAgent: hostileUserAgent }), "i-0123456789abcdef0");
    const hostileHtml = renderHtml(builder.build());
    const hostilePath = join(scratchDirectory, "hostile.html");
    writeFileSync(hostilePath, hostileHtml);

    const dom = await dumpDom(executable, hostilePath);
    expect(dom).toContain("<h1>IMDSv2 readiness: NOT READY</h1>");
    expect(dom).not.toMatch(/<script\b/i);
    expect(dom).not.toMatch(/<img\b/i);
    expect(dom).not.toContain("data-pwned=");
    expect(dom).toContain("evil/1.0 &lt;script&gt;window.pwned=1;");
    expect(dom).toContain("&lt;img src=x onerror=");
  });
});
