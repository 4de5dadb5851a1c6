/**
 * The SSM document deploy/ssm/imds-analyzer-capture.json read as Systems Manager reads it: its
 * parameters checked (unknown names refused, required ones present, defaults applied, every value
 * matching its allowedPattern), then `{{ Name }}` replaced by the value everywhere in the step's
 * runCommand, whose lines are joined with newlines into the script the agent runs. The tests run
 * that rendered script, so what they run is the document's own text.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repositoryRoot } from "../helpers/packed-package.js";

export const documentPath = join(repositoryRoot, "deploy", "ssm", "imds-analyzer-capture.json");
export const scriptPath = join(repositoryRoot, "deploy", "ssm", "capture-and-upload.sh");

export interface DocumentParameter {
  readonly type: string;
  readonly description: string;
  readonly default?: string;
  readonly allowedPattern?: string;
}

export interface SsmDocument {
  readonly schemaVersion: string;
  readonly description: string;
  readonly parameters: Record<string, DocumentParameter>;
  readonly mainSteps: readonly {
    readonly action: string;
    readonly name: string;
    readonly precondition?: unknown;
    readonly inputs: { readonly runCommand: readonly string[]; readonly timeoutSeconds?: string };
  }[];
}

export function loadDocument(): SsmDocument {
  return JSON.parse(readFileSync(documentPath, "utf8")) as SsmDocument;
}

/** `{{ Name }}` as Systems Manager writes parameter references (spaces inside the braces optional). */
export const parameterReference = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/** The parameter values a command would run with, or an error naming the parameter, as send-command refuses them. */
export function resolveParameters(document: SsmDocument, given: Readonly<Record<string, string>>): Record<string, string> {
  for (const name of Object.keys(given)) {
    if (!(name in document.parameters)) throw new Error(`InvalidParameters: ${name} is not a parameter of the document`);
  }
  const values: Record<string, string> = {};
  for (const [name, parameter] of Object.entries(document.parameters)) {
    const value = given[name] ?? parameter.default;
    if (value === undefined) throw new Error(`InvalidParameters: ${name} is required`);
    if (parameter.allowedPattern !== undefined && !new RegExp(parameter.allowedPattern).test(value)) {
      throw new Error(`InvalidParameters: ${name} ${JSON.stringify(value)} does not match ${parameter.allowedPattern}`);
    }
    values[name] = value;
  }
  return values;
}

/** The script the agent writes and runs for these parameters: runCommand rendered, lines joined. */
export function renderScript(document: SsmDocument, given: Readonly<Record<string, string>>): string {
  const values = resolveParameters(document, given);
  const [step] = document.mainSteps;
  if (step === undefined) throw new Error("the document has no step");
  return `${step.inputs.runCommand.map((line) => line.replace(parameterReference, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`the script refers to ${name}, which is not a parameter`);
    return value;
  })).join("\n")}\n`;
}
