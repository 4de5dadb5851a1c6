// @ts-check
/**
 * Fault injection for live tests, loaded with `node --import` before the built CLI: it makes one
 * stage of the real capture throw, as a bug there would, when it meets the marker text
 * (IMDS_FAULT_MARKER, default "fault-injection") in a frame or in an event's path. Everything
 * else stays real (libpcap, eBPF, the pipeline, the sinks). IMDS_FAULT_STAGE says where:
 * - "frame": CapturePipeline.onFrame, on the packet path (inside libpcap's batch callback);
 * - "event": the events file's write, on the way out (after attribution).
 * Nothing here runs unless a test asks for it; the CLI never loads it by itself.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const marker = process.env["IMDS_FAULT_MARKER"] ?? "fault-injection";
const stage = process.env["IMDS_FAULT_STAGE"] ?? "frame";
const dist = join(import.meta.dirname, "..", "..", "dist");

/**
 * The class `name` exported by a built module.
 * @param {string} relativePath
 * @param {string} name
 * @returns {Promise<{ prototype: Record<string, unknown> }>}
 */
async function load(relativePath, name) {
  // A computed specifier: dist/ is build output, not something the type checker must see.
  /** @type {unknown} */
  const loaded = await import(pathToFileURL(join(dist, relativePath)).href);
  const exports = /** @type {Record<string, unknown>} */ (loaded);
  const target = exports[name];
  if (typeof target !== "function") throw new Error(`${relativePath} exports no class ${name}`);
  return /** @type {{ prototype: Record<string, unknown> }} */ (/** @type {unknown} */ (target));
}

/**
 * @param {{ prototype: Record<string, unknown> }} target
 * @param {string} method
 * @param {(argument: unknown) => boolean} trips
 */
function throwWhen(target, method, trips) {
  const original = /** @type {(this: unknown, argument: unknown) => unknown} */ (target.prototype[method]);
  target.prototype[method] = function (/** @type {unknown} */ argument) {
    if (trips(argument)) throw new TypeError(`injected fault in ${method} (${stage} stage)`);
    return original.call(this, argument);
  };
}

if (stage === "frame") {
  const CapturePipeline = await load("pipeline/capture-pipeline.js", "CapturePipeline");
  const needle = Buffer.from(marker, "latin1");
  throwWhen(CapturePipeline, "onFrame", (frame) => {
    const bytes = /** @type {{ bytes: Uint8Array }} */ (frame).bytes;
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(needle);
  });
} else if (stage === "event") {
  const RotatingEventFile = await load("sink/rotating-event-file.js", "RotatingEventFile");
  throwWhen(RotatingEventFile, "write", (event) => String(/** @type {{ path?: unknown }} */ (event).path).includes(marker));
} else {
  throw new Error(`IMDS_FAULT_STAGE must be "frame" or "event", not ${JSON.stringify(stage)}`);
}
