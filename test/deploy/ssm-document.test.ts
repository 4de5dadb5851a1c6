/**
 * The SSM Run Command document's structure, as Systems Manager requires it (schemaVersion 2.2,
 * typed parameters, one aws:runShellScript step), that it embeds deploy/ssm/capture-and-upload.sh
 * byte for byte, and that no parameter value can put shell code into the script: each value the
 * script receives goes inside single quotes and must match an allowedPattern that admits no quote,
 * so every injection attempt is refused before anything runs.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseDurationMs } from "../../src/live/duration.js";
import { documentWithScript, scriptLines } from "../../deploy/ssm/embed-script.mjs";
import { documentPath, loadDocument, parameterReference, renderScript, resolveParameters, scriptPath } from "./ssm-document.js";

const document = loadDocument();
const script = readFileSync(scriptPath, "utf8");

/** Values that pass every pattern: a command as an operator would send it. */
const validValues = {
  ExecutableUrl: "s3://fleet-tools/imds-analyzer/bin/imds-analyzer-linux-x64",
  ExecutableSha256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  Duration: "1h30m",
  ResultsPrefix: "s3://fleet-results/imds-analyzer",
  Interface: "eth0",
  ExecutionTimeout: "7200",
} as const;

/** Shell code an attacker (or a typo) could put in a parameter. */
const injections = [
  "x'; touch /tmp/imds-analyzer-pwned; echo '",
  "$(touch /tmp/imds-analyzer-pwned)",
  "`touch /tmp/imds-analyzer-pwned`",
  "eth0; touch /tmp/imds-analyzer-pwned",
  "eth0 && touch /tmp/imds-analyzer-pwned",
  "eth0 | sh",
  "eth0\ntouch /tmp/imds-analyzer-pwned",
  "eth0\\",
  "${IFS}",
  "eth0\"",
  "{{ ExecutableUrl }}",
];

/** Parameters whose values the script receives (those referenced in runCommand). */
function parametersInScript(): string[] {
  return [...new Set([...script.matchAll(parameterReference)].map((match) => match[1]!))];
}

describe("the SSM document (deploy/ssm/imds-analyzer-capture.json)", () => {
  it("is a Run Command document: schemaVersion 2.2, one aws:runShellScript step for Linux, typed and described parameters", () => {
    expect(document.schemaVersion).toBe("2.2");
    expect(document.description.length).toBeGreaterThan(0);
    expect(document.mainSteps).toHaveLength(1);
    const [step] = document.mainSteps;
    expect(step).toMatchObject({ action: "aws:runShellScript", name: "captureAndUpload", precondition: { StringEquals: ["platformType", "Linux"] } });
    expect(step!.inputs.timeoutSeconds).toBe("{{ ExecutionTimeout }}");
    expect(Object.keys(document.parameters).sort()).toEqual(Object.keys(validValues).sort());
    for (const [name, parameter] of Object.entries(document.parameters)) {
      expect(parameter.type, name).toBe("String");
      expect(parameter.description.length, name).toBeGreaterThan(10);
      expect(parameter.allowedPattern, name).toMatch(/^\^.*\$$/);
      if (parameter.default !== undefined) expect(new RegExp(parameter.allowedPattern!).test(parameter.default), `${name}'s default`).toBe(true);
    }
    // Without a default a parameter is required: the executable, its hash and where results go.
    expect(Object.entries(document.parameters).filter(([, parameter]) => parameter.default === undefined).map(([name]) => name).sort())
      .toEqual(["ExecutableSha256", "ExecutableUrl", "ResultsPrefix"]);
    expect(() => resolveParameters(document, { ExecutableUrl: validValues.ExecutableUrl })).toThrow(/ExecutableSha256 is required/);
    expect(() => resolveParameters(document, { ...validValues, Extra: "1" })).toThrow(/Extra is not a parameter/);
  });

  it("embeds deploy/ssm/capture-and-upload.sh byte for byte (node deploy/ssm/embed-script.mjs writes it)", () => {
    expect(`${document.mainSteps[0]!.inputs.runCommand.join("\n")}\n`).toBe(script);
    const documentText = readFileSync(documentPath, "utf8");
    expect(documentWithScript(documentText, script)).toBe(documentText);
    // The check can fail: one changed line of the script is a different document.
    const changed = script.replace("set -eu", "set -u");
    expect(changed).not.toBe(script);
    expect(documentWithScript(documentText, changed)).not.toBe(documentText);
    expect(scriptLines(changed)).not.toEqual(document.mainSteps[0]!.inputs.runCommand);
  });

  it("uses every script parameter only as a whole single-quoted assignment, and every parameter somewhere", () => {
    const referenced = parametersInScript();
    expect(referenced.sort()).toEqual(["Duration", "ExecutableSha256", "ExecutableUrl", "Interface", "ResultsPrefix"]);
    const lines = script.split("\n").filter((line) => line.includes("{{"));
    expect(lines).toHaveLength(referenced.length);
    for (const line of lines) expect(line).toMatch(/^[a-z_0-9]+='\{\{ [A-Za-z0-9]+ \}\}'$/);
    expect(JSON.stringify(document.mainSteps[0]!.inputs).match(parameterReference)?.length).toBe(referenced.length + 1); // + ExecutionTimeout
  });

  it("each interpolated parameter refuses quotes, whitespace and shell syntax, and accepts an ordinary value", () => {
    for (const name of parametersInScript()) {
      const pattern = new RegExp(document.parameters[name]!.allowedPattern!);
      const valid = validValues[name as keyof typeof validValues];
      expect(pattern.test(valid), `${name} accepts ${valid}`).toBe(true);
      for (const attempt of [...injections, `${valid}'`, `'${valid}`, `${valid} `, `${valid}\n`, `${valid};id`]) {
        expect(pattern.test(attempt), `${name} refuses ${JSON.stringify(attempt)}`).toBe(false);
        expect(() => renderScript(document, { ...validValues, [name]: attempt }), name).toThrow(new RegExp(`InvalidParameters: ${name} `));
      }
    }
  });

  it("renders, for valid values, a script that sh and bash parse, with every value a literal word", () => {
    const rendered = renderScript(document, validValues);
    expect(rendered).not.toContain("{{");
    for (const shell of ["sh", "bash"]) {
      const check = spawnSync(shell, ["-n"], { input: rendered, encoding: "utf8" });
      expect(check.status, `${shell} -n: ${check.stderr}`).toBe(0);
    }
    // The assignments, run alone, give back exactly the values sent.
    const assignments = rendered.split("\n").filter((line) => /^[a-z_0-9]+='[^']*'$/.test(line));
    const echoed = spawnSync("sh", ["-c", `${assignments.join("\n")}\nprintf '%s\\n' "$executable_url" "$executable_sha256" "$duration" "$results_prefix" "$capture_interface"`], { encoding: "utf8" });
    expect(echoed.stdout.trim().split("\n")).toEqual([validValues.ExecutableUrl, validValues.ExecutableSha256, validValues.Duration, validValues.ResultsPrefix, validValues.Interface]);
  });

  it("accepts the durations (a subset of what capture takes) and S3 URLs operators write, and refuses malformed ones", () => {
    const accepts = (name: string, value: string): boolean => new RegExp(document.parameters[name]!.allowedPattern!).test(value);
    for (const duration of ["90s", "10m", "1h30m", "2d", "1d12h"]) expect(accepts("Duration", duration), duration).toBe(true);
    for (const duration of ["90s", "10m", "1h30m", "2d", "1d12h", "999999d"]) expect(parseDurationMs(duration), duration).toBeGreaterThan(0);
    for (const duration of ["", "1 h", "1.5h", "h", "1w", "-1h", "0s", "1h0m", "01h"]) expect(accepts("Duration", duration), duration).toBe(false);
    for (const url of ["s3://my.bucket-1/a/b/imds-analyzer-linux-arm64", "s3://b12/k"]) expect(accepts("ExecutableUrl", url), url).toBe(true);
    for (const url of ["https://example.com/x", "s3://B/x", "s3://bucket/", "s3://bucket", "s3://bucket//x", "file:///etc/passwd"]) expect(accepts("ExecutableUrl", url), url).toBe(false);
    for (const prefix of ["s3://results-bucket", "s3://results-bucket/", "s3://results-bucket/imds-analyzer/", "s3://results-bucket/a/b=c"]) expect(accepts("ResultsPrefix", prefix), prefix).toBe(true);
    expect(accepts("ExecutableSha256", "A".repeat(64))).toBe(true);
    expect(accepts("ExecutableSha256", "a".repeat(63))).toBe(false);
    expect(accepts("Interface", "-i")).toBe(false);
    for (const timeout of ["1", "3600", "172800"]) expect(accepts("ExecutionTimeout", timeout), timeout).toBe(true);
    for (const timeout of ["0", "172801", "999999", "01"]) expect(accepts("ExecutionTimeout", timeout), timeout).toBe(false);
  });
});
