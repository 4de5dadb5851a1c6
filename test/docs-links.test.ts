/**
 * Every relative link in the project's Markdown (README.md, docs/, the READMEs beside the code)
 * leads somewhere: the file or directory exists, and a `#fragment` names a heading of the target
 * (GitHub's anchor rules); and the README links every document in docs/. Links to the web are
 * not followed. Documents move (the README was split into docs/), and a stale link is the first
 * thing a newcomer trips on.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..");

/** Not hand-written documentation: dependencies, build output, generated reports. */
const skippedDirectories = new Set(["node_modules", ".git", "dist", "release", "prebuilds", "build", "out", "golden"]);

function markdownFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return skippedDirectories.has(entry.name) ? [] : markdownFiles(path);
    return entry.isFile() && entry.name.endsWith(".md") ? [path] : [];
  });
}

/** The text outside fenced code blocks and inline code spans, where links are not links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/(`+)[^`\n]*?\1/g, "");
}

/** Inline links and images `[text](target "title")`, and reference definitions `[label]: target`. */
function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]!);
  const references = [...text.matchAll(/^ {0,3}\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((match) => match[1]!);
  return [...inline, ...references];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
  for (const match of withoutFences.matchAll(/^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$/gm)) {
    const text = match[1]!.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/<[^>]+>/g, "");
    const slug = text.toLowerCase().replace(/[^\p{L}\p{N}\p{M} _-]/gu, "").replace(/ /g, "-");
    const seen = counts.get(slug) ?? 0;
    counts.set(slug, seen + 1);
    anchors.add(seen === 0 ? slug : `${slug}-${seen}`);
  }
  return anchors;
}

function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//");
}

/** What is wrong with one link of `file`, or null when it resolves. */
function brokenLink(file: string, target: string): string | null {
  const hashAt = target.indexOf("#");
  const pathPart = decodeURIComponent(hashAt === -1 ? target : target.slice(0, hashAt));
  const fragment = hashAt === -1 ? null : decodeURIComponent(target.slice(hashAt + 1));
  const destination = pathPart === "" ? file : resolve(dirname(file), pathPart);
  if (!destination.startsWith(root)) return `${target}: leaves the repository`;
  if (!existsSync(destination)) return `${target}: ${relative(root, destination)} does not exist`;
  if (fragment === null) return null;
  if (!destination.endsWith(".md") || statSync(destination).isDirectory()) return `${target}: a #fragment on a file that is not Markdown`;
  return headingAnchors(readFileSync(destination, "utf8")).has(fragment) ? null : `${target}: ${relative(root, destination)} has no heading #${fragment}`;
}

describe("links in the documentation", () => {
  it("slugs headings as GitHub does", () => {
    const anchors = headingAnchors("# A `code` title: with (punctuation)\n## Same\n## Same\n```\n# not a heading\n```\n### `process.container`\n");
    expect([...anchors]).toEqual(["a-code-title-with-punctuation", "same", "same-1", "processcontainer"]);
  });

  it("finds links outside code only", () => {
    const markdown = "[a](x.md) `[b](y.md)` ![c](img.png \"t\")\n```\n[d](z.md)\n```\n[e]: ref.md\n";
    expect(linkTargets(markdown)).toEqual(["x.md", "img.png", "ref.md"]);
  });

  const files = markdownFiles(root);

  it("reads the README, docs/ and the READMEs beside the code", () => {
    const names = files.map((file) => relative(root, file));
    for (const expected of ["README.md", "docs/ARCHITECTURE.md", "native/ebpf/README.md", "captures/README.md"]) expect(names).toContain(expected);
  });

  it("the README links every document in docs/ (its \"Read more\" is where a newcomer finds them)", () => {
    const linked = new Set(linkTargets(readFileSync(join(root, "README.md"), "utf8")).map((target) => target.replace(/#.*$/, "")));
    const documents = readdirSync(join(root, "docs")).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`);
    expect(documents.filter((document) => !linked.has(document))).toEqual([]);
  });

  for (const file of files) {
    it(`${relative(root, file)}: every relative link resolves`, () => {
      const problems = linkTargets(readFileSync(file, "utf8"))
        .filter((target) => !isExternal(target))
        .map((target) => brokenLink(file, target))
        .filter((problem) => problem !== null);
      expect(problems).toEqual([]);
    });
  }
});
