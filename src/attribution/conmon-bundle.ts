/**
 * conmon, the container monitor CRI-O and podman start per container, is the container
 * process's parent; its command line names the container's bundle directory (`-b DIR`,
 * `<storage root>/overlay-containers/<id>/userdata`, holding config.json), whatever storage root
 * the runtime was configured with.
 */
import type { ContainerLookup, SourceContext } from "./container-names.js";
import type { ParentProcess } from "../events.js";

/** Bundle directories conmon ancestors name for this container (each ends in "/<id>/userdata"). */
export async function conmonBundleDirectories(lookup: ContainerLookup, context: SourceContext): Promise<string[]> {
  const suffix = `/${lookup.container.id}/userdata`;
  const directories: string[] = [];
  for (const conmon of await context.runtimeAncestors(lookup, isConmon)) {
    const argv = await context.commandLine(conmon.pid);
    const bundle = argv === null ? null : optionValue(argv, "-b", "--bundle");
    if (bundle !== null && bundle.startsWith("/") && bundle.endsWith(suffix) && !bundle.split("/").includes("..")) directories.push(bundle);
  }
  return directories;
}

function isConmon(parent: ParentProcess): boolean {
  return parent.comm === "conmon";
}

/** The value of `-x VALUE`, `--long VALUE` or `--long=VALUE`; null when absent. */
function optionValue(argv: readonly string[], short: string, long: string): string | null {
  for (let index = 1; index < argv.length; index++) {
    const argument = argv[index]!;
    if ((argument === short || argument === long) && index + 1 < argv.length) return argv[index + 1]!;
    if (argument.startsWith(`${long}=`)) return argument.slice(long.length + 1);
  }
  return null;
}
