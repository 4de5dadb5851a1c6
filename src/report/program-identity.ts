/**
 * What identifies a caller's program across hosts, for the fix list: the most specific name
 * known, in this order:
 * 1. `image`: the container image (the same image is the same code wherever it runs);
 * 2. `kubernetes-workload`: namespace and the workload the pod name makes evident (derived), or
 *    the pod itself;
 * 3. `ecs-task-family`: the ECS task definition family and container;
 * 4. `container-name`: a Docker or podman container's name;
 * 5. `command-line`: the executable and its arguments without per-host noise (pids, temporary
 *    files, addresses, random suffixes: command-line-noise.ts);
 * 6. `user-agent`: the client named by the User-Agent (offline analysis, or no process named);
 * 7. `unidentified`: no process and an unrecognised User-Agent: its first product token.
 */
import { normalizedCommand } from "./command-line-noise.js";
import { workloadOfPod } from "./container-names.js";
import type { CallerReport, ProgramIdentity, ReportContainer } from "./types.js";

/** Longest identity name kept (the key of a fix and its label). */
const maxIdentityChars = 300;

function capped(text: string): string {
  return text.length > maxIdentityChars ? `${text.slice(0, maxIdentityChars)}...` : text;
}

/** The orchestrator names of a container: workload (Kubernetes) or task family (ECS), if any. */
function containerIdentity(container: ReportContainer): ProgramIdentity | null {
  if (container.image !== null) {
    const source = container.source === null ? "" : ` (${container.source})`;
    return { identifiedBy: "image", name: capped(container.image), from: `the container's image${source}`, derived: false };
  }
  const kubernetes = container.kubernetes;
  if (kubernetes !== null && kubernetes.pod !== null) {
    const owner = workloadOfPod(kubernetes.pod);
    const namespace = kubernetes.namespace ?? "?";
    const containerName = kubernetes.container === null ? "" : ` container ${kubernetes.container}`;
    if (owner !== null) {
      const kind = owner.kind ?? "workload";
      return {
        identifiedBy: "kubernetes-workload",
        name: capped(`${namespace}/${owner.name}${containerName}`),
        from: `pod name ${kubernetes.pod}: ${kind} derived from its ${owner.rule}`,
        derived: true,
      };
    }
    return { identifiedBy: "kubernetes-workload", name: capped(`${namespace}/${kubernetes.pod}${containerName}`), from: "pod name (no generated suffix)", derived: false };
  }
  const ecs = container.ecs;
  if (ecs !== null && ecs.family !== null) {
    const containerName = ecs.container === null ? "" : ` container ${ecs.container}`;
    return { identifiedBy: "ecs-task-family", name: capped(`${ecs.family}${containerName}`), from: "ECS task definition family (Docker labels)", derived: false };
  }
  if (container.name !== null) {
    return { identifiedBy: "container-name", name: capped(container.name), from: `${container.runtime} container name`, derived: false };
  }
  return null;
}

/** The program behind a caller, as the fix list groups it. */
export function programOfCaller(caller: CallerReport): ProgramIdentity {
  const process = caller.process;
  if (process !== null) {
    const byContainer = process.container === null ? null : containerIdentity(process.container);
    if (byContainer !== null) return byContainer;
    return {
      identifiedBy: "command-line",
      name: capped(normalizedCommand(process.exe, process.comm, process.cmdline)),
      from: "executable and command line, per-host noise taken out",
      derived: false,
    };
  }
  const sdk = caller.sdk;
  if (sdk !== null) {
    const from = sdk.assumed ? "no User-Agent (assumed to be the AWS SDK for JavaScript v3)" : "User-Agent";
    return { identifiedBy: "user-agent", name: sdk.name, from, derived: sdk.assumed };
  }
  const userAgent = caller.userAgents[0];
  const product = typeof userAgent === "string" ? (userAgent.split(/[ \t]/)[0] ?? "") : "";
  return { identifiedBy: "unidentified", name: capped(product === "" ? "(no User-Agent)" : product), from: "first product of an unrecognised User-Agent", derived: false };
}
