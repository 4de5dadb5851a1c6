import { describe, expect, it } from "vitest";
import type { ImdsEvent } from "../../src/events.js";
import { renderReport } from "../../src/report/index.js";
import { ReportBuilder } from "../../src/report/aggregate.js";
import { createHash } from "node:crypto";
import { dashboardScript } from "../../src/report/html/dashboard-script.js";
import { escapeHtml, renderHtml } from "../../src/report/render-html.js";
import { renderJson } from "../../src/report/render-json.js";
import { codeSpan, escapeMarkdown, renderMarkdown } from "../../src/report/render-markdown.js";
import type { ImdsReport } from "../../src/report/types.js";
import { attributedOk, event, processInfo, timeAt } from "./event-factory.js";

const hostileUserAgent = `<script>alert("ua")</script> | **bold** [link](http://evil.example/) \`tick\` <img src=x onerror=alert(1)>`;
const hostileCommand = ["/bin/sh", "-c", "curl http://169.254.169.254/ </textarea><script>alert('cmd')</script>\n# heading"];

function hostileReport(fleet = false): ImdsReport {
  const builder = new ReportBuilder();
  if (fleet) builder.addEvent(event({ kind: "v2", userAgent: "<i>x</i>" }), "other-host");
  const calls: ImdsEvent[] = [
    event({ kind: "v1", userAgent: hostileUserAgent, path: "/latest/<svg onload=alert(2)>", time: timeAt(0) }),
    event({ kind: "v1", process: processInfo({ cmdline: hostileCommand }), attribution: attributedOk, time: timeAt(30) }),
    event({ kind: "v2", userAgent: "aws-cli/2.9.19", time: timeAt(60) }),
  ];
  for (const call of calls) builder.addEvent(call, "<b>host</b>");
  builder.addMalformedLine({ path: "<i>events</i>.ndjson", line: 3, problem: "not JSON: <script>x</script>" }, "<b>host</b>");
  return builder.build();
}

describe("HTML report", () => {
  const html = renderHtml(hostileReport());

  /** The page without its one script (checked on its own below). */
  const withoutOwnScript = html.replace(`<script>${dashboardScript}</script>`, "");

  it("escapes everything that comes from the input", () => {
    expect(withoutOwnScript).not.toContain("<script");
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<svg onload");
    expect(html).not.toContain("</textarea>");
    expect(html).not.toContain("<b>host</b>");
    expect(html).not.toContain("<i>events</i>");
    expect(html).toContain("&lt;script&gt;alert(&quot;ua&quot;)&lt;/script&gt;");
    expect(html).toContain("&lt;/textarea&gt;&lt;script&gt;alert(&#39;cmd&#39;)&lt;/script&gt;");
    expect(html).toContain("&lt;b&gt;host&lt;/b&gt;");
  });

  it("is self-contained: one script of our own allowed by its hash, no external asset, no network", () => {
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html.split("<script").length - 1).toBe(1);
    expect(html).toContain(`<script>${dashboardScript}</script></body></html>`);
    // Input text is escaped, so every "<" left in the output starts one of our own tags.
    for (const forbidden of [/<script/i, /<[^>]*\s(?:src|href|xlink:href)=/i, /url\(/i, /@import/i, /<link/i, /<iframe/i, /<object/i]) {
      expect(withoutOwnScript).not.toMatch(forbidden);
    }
    const hash = createHash("sha256").update(dashboardScript, "utf8").digest("base64");
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'">`,
    );
    expect(html).toContain("<style>");
    // The script builds no HTML from the page's data: it only hides, shows and reorders rows.
    expect(dashboardScript).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|Function\(/);
  });

  it("draws an inline SVG timeline of IMDSv1 and IMDSv2 calls per caller", () => {
    const timelines = html.match(/<svg class="timeline"[\s\S]*?<\/svg>/g) ?? [];
    // Drawn in the host's drill-down for each of its callers.
    expect(timelines).toHaveLength(3);
    // One-minute host window, 240 px: a one-second bucket is 4 px wide; IMDSv1 above the middle.
    expect(timelines[0]).toContain('<rect x="120.0" y="1.0" width="4.0" height="14.0" fill="#c62828"><title>2025-03-01T00:00:30.000Z: IMDSv1 1, IMDSv2 0</title></rect>');
    expect(timelines[1]).toContain('<rect x="0.0" y="1.0" width="4.0" height="14.0" fill="#c62828">');
    // IMDSv2 below the middle, at the end of the window (the last bucket starts at 00:01:00).
    expect(timelines[2]).toContain('<rect x="236.1" y="16.0" width="3.9" height="14.0" fill="#2e7d32">');
  });

  it.each([false, true])("is well formed: every element closed in order (fleet: %s)", (fleet) => {
    const html = renderHtml(hostileReport(fleet));
    expect(html).toContain("<h2>Hosts</h2>");
    if (fleet) expect(html).toContain("<h2>Hosts by verdict</h2>");
    const voidElements = new Set(["meta", "br", "hr", "img", "input", "link"]);
    const stack: string[] = [];
    for (const match of html.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*?(\/?)>/g)) {
      const [, closing, name, selfClosing] = match;
      const tag = name!.toLowerCase();
      if (voidElements.has(tag) || selfClosing === "/") continue;
      if (closing === "/") expect(stack.pop()).toBe(tag);
      else stack.push(tag);
    }
    expect(stack).toEqual([]);
  });

  it("escapes the five HTML characters and control characters", () => {
    expect(escapeHtml(`<a href="x">'&'</a>\u0000\u001b`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;\ufffd\ufffd");
  });
});

describe("Markdown report", () => {
  const markdown = renderMarkdown(hostileReport());

  it("puts input text in code spans or escapes it: no HTML, links, images or broken tables", () => {
    // Code spans show their text literally (CommonMark); outside them nothing may remain.
    const outsideCode = markdown.replace(/(`+)(?!`)[\s\S]*?[^`]\1(?!`)/g, "");
    expect(outsideCode).not.toContain("<");
    // No link or image: every "[" outside code is backslash-escaped.
    expect(outsideCode).not.toMatch(/(?<!\\)\[/);
    expect(markdown).toContain("``10.0.0.10 <script>alert(\"ua\")</script> \\| **bold** [link](http://evil.example/) `tick` <img src=x onerror=alert(1)>``");
    // Table rows keep their column count: every | inside a cell is escaped.
    const callerRows = markdown.split("\n").filter((line) => line.startsWith("| `"));
    for (const row of callerRows) expect(row.split(/(?<!\\)\|/).length - 2).toBe(10);
    // The newline in the command line does not start a Markdown heading.
    expect(markdown).not.toMatch(/^# heading/m);
  });

  it("starts with the verdict and gives the enforcement command", () => {
    const lines = markdown.split("\n");
    expect(lines[0]).toBe("# IMDSv2 readiness: NOT READY");
    expect(markdown).toContain("```sh\naws ec2 modify-instance-metadata-options --instance-id INSTANCE_ID --http-tokens required\n```");
  });

  it("escapes Markdown punctuation and HTML in prose", () => {
    expect(escapeMarkdown("a|b *c* _d_ `e` [f] <g> & #h ~i\n")).toBe("a\\|b \\*c\\* \\_d\\_ \\`e\\` \\[f\\] &lt;g&gt; &amp; \\#h \\~i ");
  });

  it("fences code spans with more backticks than the text holds", () => {
    expect(codeSpan("plain")).toBe("`plain`");
    expect(codeSpan("a`b")).toBe("``a`b``");
    expect(codeSpan("`x``")).toBe("``` `x`` ```");
    expect(codeSpan("a|b", true)).toBe("`a\\|b`");
    expect(codeSpan("line\nbreak")).toBe("`line break`");
    expect(codeSpan("")).toBe("` `");
  });
});

describe("JSON report", () => {
  it("is the report object itself", () => {
    const report = hostileReport();
    const json = renderJson(report);
    expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(report)));
    expect(json.endsWith("}\n")).toBe(true);
    expect(JSON.parse(json)).toMatchObject({ schema: "imds-analyzer/report@1", verdict: "NOT_READY" });
  });

  it("renders every format through renderReport", async () => {
    const report = hostileReport();
    expect(await renderReport(report, "json")).toBe(renderJson(report));
    expect(await renderReport(report, "markdown")).toBe(renderMarkdown(report));
    expect(await renderReport(report, "html")).toBe(renderHtml(report));
  });
});
