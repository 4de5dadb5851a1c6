// @ts-check
/**
 * The single executable's main script (scripts/package.mjs), and the tool that makes its code
 * caches. It runs the bundled CLI, an asset, compiled with a V8 code cache chosen for the V8
 * options this process runs with.
 *
 * Why not Node's own SEA code cache (`useCodeCache`): V8 accepts a code cache only when the flags
 * in effect hash the same as when it was made (any V8 option set, --max-semi-space-size among
 * them, even at its default value), and Node 20 has one cache per executable and prints "Code
 * cache data rejected." at every start when it does not match. The service runs with
 * `NODE_OPTIONS=--max-semi-space-size=2` (src/service/installed-program.ts, serviceNodeOptions),
 * interactive use without: so the executable carries one cache per set of options it is run
 * with (the asset `code-cache:` + those options as NODE_OPTIONS gives them), and picks by
 * NODE_OPTIONS. With options it has no cache for it tries the default one, and V8's silent
 * refusal then only costs the start-up the cache would have saved (~20 ms).
 *
 * `node [V8 options] sea-main.cjs --make-code-cache BUNDLE OUTPUT` (run by package.mjs with the
 * target's own node) writes the cache for those options.
 */
"use strict";
/* eslint-disable @typescript-eslint/no-require-imports -- a single executable's main is CommonJS, and its require loads Node's own modules only */
const { readFileSync, writeFileSync } = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const bundleAsset = "imds-analyzer.cjs";
const codeCachePrefix = "code-cache:";

/**
 * The bundle as a CommonJS function, like Node's module wrapper, its "#!" line made a comment
 * (valid only at the very start of a script). The same text at build and at run time: V8's
 * check of a cache includes the source's length.
 * @param {string} source
 */
function wrapped(source) {
  const body = source.startsWith("#!") ? `//${source.slice(2)}` : source;
  return `(function (exports, require, module, __filename, __dirname) {${body}\n})`;
}

/**
 * NODE_OPTIONS as the key of its code cache: its words, one space apart ("" without options).
 * @param {string | undefined} nodeOptions
 */
function codeCacheKey(nodeOptions) {
  return (nodeOptions ?? "").split(/\s+/).filter((word) => word.length > 0).join(" ");
}

/**
 * @param {string} source
 * @param {string} filename
 * @param {Buffer | undefined} cachedData
 */
function compile(source, filename, cachedData) {
  return new vm.Script(wrapped(source), cachedData === undefined ? { filename } : { filename, cachedData });
}

/** @param {readonly string[]} args */
function makeCodeCache(args) {
  const [bundle, output] = args;
  if (bundle === undefined || output === undefined) throw new Error("usage: node [V8 options] sea-main.cjs --make-code-cache BUNDLE OUTPUT");
  writeFileSync(output, compile(readFileSync(bundle, "utf8"), bundle, undefined).createCachedData());
}

function runBundle() {
  const sea = require("node:sea");
  /** @param {string} key */
  const asset = (key) => {
    try {
      // An ArrayBuffer over the executable's own pages (typed string | ArrayBuffer), not a copy.
      return Buffer.from(/** @type {ArrayBuffer} */ (sea.getRawAsset(key)));
    } catch {
      return undefined; // no such asset
    }
  };
  const key = codeCacheKey(process.env["NODE_OPTIONS"]);
  const ownCache = asset(codeCachePrefix + key);
  const cache = ownCache ?? asset(codeCachePrefix);
  const script = compile(sea.getAsset(bundleAsset, "utf8"), process.execPath, cache);
  const options = key === "" ? "no options" : `NODE_OPTIONS="${key}"`;
  if (ownCache !== undefined && script.cachedDataRejected === true) {
    // The cache made for exactly these options was refused: the executable was built wrong.
    process.stderr.write(`imds-analyzer: warning: this executable's code cache for ${options} was rejected (a packaging fault: it starts slower, and works the same)\n`);
  } else if (process.env["IMDS_ANALYZER_DEBUG_CODE_CACHE"] === "1") {
    // Which cache served this start (docs/INSTALL.md): the service's options get their own.
    const outcome = script.cachedDataRejected === true ? "rejected" : "accepted";
    const said = cache === undefined ? "none (this executable has no code cache)" : ownCache === undefined ? `none of its own; the default one: ${outcome}` : outcome;
    process.stderr.write(`imds-analyzer: code cache for ${options}: ${said}\n`);
  }
  /** @type {unknown} */
  const compiled = script.runInThisContext();
  const main = /** @type {(exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void} */ (compiled);
  main(module.exports, require, module, process.execPath, path.dirname(process.execPath));
}

if (process.argv[2] === "--make-code-cache") makeCodeCache(process.argv.slice(3));
else runBundle();
