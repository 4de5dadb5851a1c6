// @ts-check
/**
 * Writes capture-and-upload.sh into the SSM document imds-analyzer-capture.json as its
 * runCommand, one line per array element (Systems Manager joins them with newlines into the
 * script it runs). Everything else in the document is edited by hand and kept as it is.
 *
 *   node deploy/ssm/embed-script.mjs           # rewrite the document
 *   node deploy/ssm/embed-script.mjs --check   # exit 1 when the document's script differs
 *
 * test/deploy/ssm-document.test.ts fails while the two differ.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const scriptPath = join(import.meta.dirname, "capture-and-upload.sh");
export const documentPath = join(import.meta.dirname, "imds-analyzer-capture.json");

/** The script as runCommand lines: its text split at newlines, without the final empty one. */
export function scriptLines(/** @type {string} */ script) {
  if (!script.endsWith("\n")) throw new Error(`${scriptPath} must end with a newline`);
  return script.slice(0, -1).split("\n");
}

/** The document's text with `script` as its runCommand (2-space JSON, final newline). */
export function documentWithScript(/** @type {string} */ documentText, /** @type {string} */ script) {
  /** @type {unknown} */
  const parsed = JSON.parse(documentText);
  const document = /** @type {{ mainSteps?: { action?: string, inputs: { runCommand?: string[] } }[] }} */ (parsed);
  const steps = document.mainSteps;
  const step = Array.isArray(steps) && steps.length === 1 ? steps[0] : undefined;
  if (step?.action !== "aws:runShellScript") throw new Error(`${documentPath}: expected one aws:runShellScript step`);
  step.inputs.runCommand = scriptLines(script);
  return `${JSON.stringify(document, null, 2)}\n`;
}

if (process.argv[1] === import.meta.filename) {
  const current = readFileSync(documentPath, "utf8");
  const wanted = documentWithScript(current, readFileSync(scriptPath, "utf8"));
  if (process.argv.includes("--check")) {
    if (current !== wanted) {
      process.stderr.write(`${documentPath} does not embed ${scriptPath}: run node deploy/ssm/embed-script.mjs\n`);
      process.exit(1);
    }
  } else if (current !== wanted) {
    writeFileSync(documentPath, wanted);
    process.stderr.write(`wrote ${documentPath}\n`);
  }
}
