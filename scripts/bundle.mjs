// @ts-check
/**
 * Bundles the command line (src/bin.ts and everything it imports, commander included) into one
 * CommonJS file, dist/imds-analyzer.cjs: the npm package's "bin" and the script inside the single
 * executables (scripts/package.mjs). One file starts faster than ~110 modules resolved and read
 * one by one, and Node's single executable applications run one CommonJS script only.
 *
 * What a CommonJS bundle must not keep from the ES modules it is made of:
 * - `import.meta` is empty in CommonJS: `import.meta.url` becomes the bundle's own file URL
 *   (from __filename, which is the executable itself under a single executable);
 * - src/version.ts reads ../package.json relative to its module at run time, which is nowhere
 *   near the bundle (and absent from an executable): its contents are replaced by the version.
 * The lazy `import()`s of the report and live code become lazily run functions inside the file,
 * so they cost parsing only, and the single executable's code cache (which cannot serve a real
 * `import()`) covers them.
 *
 * Usage: node scripts/bundle.mjs (run by `npm run build`, after tsc).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
export const bundlePath = join(root, "dist", "imds-analyzer.cjs");
/** @type {unknown} */
const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const { version } = /** @type {{ version: string }} */ (packageJson);
const versionModule = join(root, "src", "version.ts");

/** @type {import("esbuild").Plugin} */
const fixedVersion = {
  name: "fixed-version",
  setup(plugin) {
    plugin.onLoad({ filter: /[\\/]src[\\/]version\.ts$/ }, (args) => {
      if (args.path !== versionModule) return undefined;
      return { contents: `export const version = ${JSON.stringify(version)};\n`, loader: "ts" };
    });
  },
};

/** @type {import("esbuild").BuildResult<{ metafile: true }>} */
const result = await build({
  entryPoints: [join(root, "src", "bin.ts")],
  outfile: bundlePath,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // Not a banner: a banner would come before "use strict" and turn strict mode off.
  inject: [join(root, "scripts", "bundle-import-meta-url.mjs")],
  define: { "import.meta.url": "importMetaUrl" },
  plugins: [fixedVersion],
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
});
const inputs = Object.keys(result.metafile.inputs).length;
if (!process.argv.includes("--quiet")) console.log(`imds-analyzer: bundled ${inputs} modules into ${bundlePath}`);
