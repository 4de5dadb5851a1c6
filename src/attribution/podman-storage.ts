/**
 * podman: the container's name and image are in containers/storage's record of its containers,
 * `<root>/overlay-containers/containers.json` (and `volatile-containers.json` beside it, or in the
 * run root with a transient store): an array of {id, names[], metadata}, where `metadata` is a
 * JSON string holding "name" and "image-name". The directory comes from conmon's `-b` bundle
 * (`<root>/<driver>-containers/<id>/userdata`), else the default roots.
 */
import type { ContainerNames, ContainerNameSource, SourceContext } from "./container-names.js";
import { conmonBundleDirectories } from "./conmon-bundle.js";
import { maxNameChars, nameField, objectField } from "./runtime-files.js";

const recordFiles = ["containers.json", "volatile-containers.json"] as const;

export const podmanStorageSource: ContainerNameSource = {
  source: "podman-storage",
  runtimes: ["podman", "unknown"],
  async find(lookup, context) {
    const id = lookup.container.id;
    const fromConmon = (await conmonBundleDirectories(lookup, context)).map((bundle) => bundle.slice(0, -`/${id}/userdata`.length));
    const directories = [...new Set([...fromConmon, ...context.paths.containersStorageRoots.map((root) => `${root}/overlay-containers`)])];
    for (const directory of directories) {
      for (const file of recordFiles) {
        const records = await context.readJson(`${directory}/${file}`);
        if (records === null) continue;
        const names = namesFromContainerRecords(records, id, context);
        if (names !== null) return names;
      }
    }
    return null;
  },
};

/** The entry for `id` in a containers.json; null when it has none. */
export function namesFromContainerRecords(records: unknown, id: string, context: Pick<SourceContext, "note">): ContainerNames | null {
  if (!Array.isArray(records)) {
    context.note("malformed");
    return null;
  }
  const record = records.map(objectField).find((entry) => entry?.["id"] === id);
  if (record === undefined || record === null) return null;
  const names = Array.isArray(record["names"]) ? record["names"].map(nameField) : [];
  const metadata = parseMetadata(record["metadata"]);
  return {
    runtime: "podman",
    name: names[0] ?? nameField(metadata?.["name"]),
    image: nameField(metadata?.["image-name"]),
    kubernetes: null,
    ecs: null,
  };
}

/** containers/storage keeps the runtime's metadata as a JSON string inside the JSON. */
function parseMetadata(value: unknown): Readonly<Record<string, unknown>> | null {
  if (typeof value !== "string" || value.length > 16 * maxNameChars) return null;
  try {
    return objectField(JSON.parse(value));
  } catch {
    return null;
  }
}
