// @ts-check
/**
 * Reads the dynamic linking needs of an ELF file (a native addon, or a single executable) and
 * checks that it will load on every Linux the project supports: glibc 2.28 or newer (what Node
 * 20's official binaries need), any libpcap soname, no compiler runtime.
 *
 * What the dynamic loader checks is what is read here, from the file itself (no binutils):
 *   - DT_NEEDED: the libraries it must find (libpcap must not be one: it is opened at run time;
 *     libgcc_s must not be one: -static-libgcc);
 *   - the version needs (DT_VERNEED): every symbol version it requires from each library, e.g.
 *     libc.so.6 GLIBC_2.34; with the dynamic symbols that ask for each (what `objdump -T` shows).
 *
 * Used by test/native/elf-check.test.ts for every shipped binary, by `native/build.mjs
 * --prebuild` on what it just built, and by whoever ships a binary (the packaging tests):
 *   import { readElfNeeds, checkElf, addonPolicy, nodeExecutablePolicy } from "./native/elf-check.mjs";
 *   const problems = checkElf(readElfNeeds(path), addonPolicy);   // [] when portable
 * Or from a shell: node native/elf-check.mjs [--executable] FILE... (exit 1 on any problem).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** ELF e_machine values of the architectures the project ships. */
const machines = /** @type {const} */ ({ 62: "x64", 183: "arm64" });

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const SHT_DYNSYM = 11;
const SHT_GNU_VERSYM = 0x6fffffff;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;
const DT_VERNEED = 0x6ffffffen;
const DT_VERNEEDNUM = 0x6fffffffn;

/**
 * @typedef {object} VersionNeed
 * @property {string} file the library the version must come from (libc.so.6)
 * @property {string} version e.g. GLIBC_2.14
 * @property {string[]} symbols the undefined dynamic symbols bound to it (empty when the file has
 *   no section headers to find them by)
 */
/**
 * @typedef {object} ElfNeeds
 * @property {string} path
 * @property {"x64" | "arm64"} arch
 * @property {string[]} needed DT_NEEDED, in order
 * @property {VersionNeed[]} versions
 */

/** @param {string} path @param {string} problem @returns {never} */
function fail(path, problem) {
  throw new Error(`${path}: ${problem}`);
}

/**
 * @param {string} path
 * @returns {ElfNeeds}
 */
export function readElfNeeds(path) {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46) fail(path, "not an ELF file");
  if (bytes[4] !== 2 || bytes[5] !== 1) fail(path, "not a 64-bit little-endian ELF file (the only kind shipped)");
  const machine = view.getUint16(18, true);
  const arch = machine === 62 || machine === 183 ? machines[machine] : fail(path, `ELF machine ${machine} is neither x86-64 nor aarch64`);

  const u16 = (/** @type {number} */ offset) => view.getUint16(offset, true);
  const u32 = (/** @type {number} */ offset) => view.getUint32(offset, true);
  const u64 = (/** @type {number} */ offset) => view.getBigUint64(offset, true);
  const within = (/** @type {number} */ offset, /** @type {number} */ length, /** @type {string} */ what) => {
    if (!(offset >= 0 && length >= 0 && offset + length <= bytes.length)) fail(path, `${what} lies outside the file`);
    return offset;
  };

  // Program headers: the dynamic segment, and the loadable ones to turn addresses into offsets.
  const programOffset = Number(u64(32));
  const programEntrySize = u16(54);
  const programCount = u16(56);
  /** @type {{ address: bigint, offset: bigint, size: bigint }[]} */
  const loads = [];
  let dynamic = null;
  for (let i = 0; i < programCount; i++) {
    const at = within(programOffset + i * programEntrySize, 56, "a program header");
    const type = u32(at);
    if (type === PT_LOAD) loads.push({ offset: u64(at + 8), address: u64(at + 16), size: u64(at + 32) });
    if (type === PT_DYNAMIC) dynamic = { offset: Number(u64(at + 8)), size: Number(u64(at + 32)) };
  }
  if (dynamic === null) return { path, arch, needed: [], versions: [] }; // statically linked
  const fileOffset = (/** @type {bigint} */ address, /** @type {string} */ what) => {
    const load = loads.find((segment) => address >= segment.address && address < segment.address + segment.size);
    return load === undefined ? fail(path, `${what} is in no loadable segment`) : Number(address - load.address + load.offset);
  };

  /** @type {bigint[]} */
  const neededNameOffsets = [];
  let stringTable = null;
  let stringTableSize = 0;
  let verneed = null;
  let verneedCount = 0;
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
    within(at, 16, "the dynamic section");
    const tag = u64(at);
    const value = u64(at + 8);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) neededNameOffsets.push(value);
    else if (tag === DT_STRTAB) stringTable = fileOffset(value, "the dynamic string table");
    else if (tag === DT_STRSZ) stringTableSize = Number(value);
    else if (tag === DT_VERNEED) verneed = fileOffset(value, "the version needs");
    else if (tag === DT_VERNEEDNUM) verneedCount = Number(value);
  }
  if (stringTable === null) fail(path, "dynamic section without a string table");
  const strtab = stringTable;
  within(strtab, stringTableSize, "the dynamic string table");
  const string = (/** @type {number} */ offset) => {
    if (offset >= stringTableSize) fail(path, "a name points past the dynamic string table");
    const end = bytes.indexOf(0, strtab + offset);
    return bytes.toString("latin1", strtab + offset, end < 0 ? strtab + stringTableSize : end);
  };
  const needed = neededNameOffsets.map((offset) => string(Number(offset)));

  // Version needs: Elf64_Verneed { vn_version, vn_cnt, vn_file, vn_aux, vn_next } with
  // Elf64_Vernaux { vna_hash, vna_flags, vna_other, vna_name, vna_next } each.
  /** @type {Map<number, VersionNeed>} by vna_other, the index symbols use in .gnu.version */
  const byIndex = new Map();
  /** @type {VersionNeed[]} */
  const versions = [];
  let entry = verneed;
  for (let i = 0; entry !== null && i < verneedCount; i++) {
    within(entry, 16, "a version need");
    const file = string(u32(entry + 4));
    let aux = entry + u32(entry + 8);
    for (let j = 0; j < u16(entry + 2); j++) {
      within(aux, 16, "a version need entry");
      const need = { file, version: string(u32(aux + 8)), symbols: /** @type {string[]} */ ([]) };
      versions.push(need);
      byIndex.set(u16(aux + 6), need);
      aux += u32(aux + 12);
    }
    const next = u32(entry + 12);
    entry = next === 0 ? null : entry + next;
  }

  // Which undefined symbols ask for each version: .dynsym and .gnu.version, found through the
  // section headers (a file without them still gets its version list checked, just unnamed).
  const sectionOffset = Number(u64(40));
  const sectionEntrySize = u16(58);
  const sectionCount = u16(60);
  let dynsym = null;
  let versym = null;
  for (let i = 0; sectionOffset !== 0 && i < sectionCount; i++) {
    const at = within(sectionOffset + i * sectionEntrySize, 64, "a section header");
    const type = u32(at + 4);
    if (type === SHT_DYNSYM) dynsym = { offset: Number(u64(at + 24)), size: Number(u64(at + 32)), entrySize: Number(u64(at + 56)) };
    if (type === SHT_GNU_VERSYM) versym = Number(u64(at + 24));
  }
  if (dynsym !== null && versym !== null && dynsym.entrySize === 24) {
    for (let index = 1; index < dynsym.size / 24; index++) {
      const symbol = within(dynsym.offset + index * 24, 24, "a dynamic symbol");
      const sectionIndex = u16(symbol + 6);
      if (sectionIndex !== 0) continue; // defined here, not needed from elsewhere
      const need = byIndex.get(u16(within(versym + index * 2, 2, "a symbol version")) & 0x7fff);
      need?.symbols.push(string(u32(symbol)));
    }
  }
  return { path, arch, needed, versions };
}

/**
 * @typedef {object} ElfPolicy
 * @property {string} what for messages: "native addon", "single executable"
 * @property {readonly string[]} allowedNeeded the only DT_NEEDED entries allowed
 * @property {string} maxGlibc the newest GLIBC_ version allowed, e.g. "2.28"
 */

/** A native addon: libc only (Node provides the Node-API symbols; libpcap is dlopened). */
export const addonPolicy = /** @type {const} */ ({ what: "native addon", allowedNeeded: ["libc.so.6"], maxGlibc: "2.28" });

/**
 * A single executable: Node's own official binary with the application inside, so exactly what
 * node-v20 linux-x64 and linux-arm64 need (read from their binaries: built on glibc 2.28 with
 * the libraries of that time), and nothing else.
 */
export const nodeExecutablePolicy = /** @type {const} */ ({
  what: "single executable",
  allowedNeeded: ["libdl.so.2", "libstdc++.so.6", "libm.so.6", "libgcc_s.so.1", "libpthread.so.0", "libc.so.6", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"],
  maxGlibc: "2.28",
});

/** @param {string} version "2.3.4" @returns {number[]} */
function versionNumbers(version) {
  return version.split(".").map(Number);
}

/** @param {string} a @param {string} b @returns {number} <0, 0, >0 */
export function compareVersions(a, b) {
  const left = versionNumbers(a);
  const right = versionNumbers(b);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** @param {ElfNeeds} needs @returns {string | null} the newest GLIBC_ version it needs ("2.14"), null for none */
export function newestGlibc(needs) {
  let newest = null;
  for (const { version } of needs.versions) {
    const number = /^GLIBC_([0-9.]+)$/.exec(version)?.[1];
    if (number !== undefined && (newest === null || compareVersions(number, newest) > 0)) newest = number;
  }
  return newest;
}

/**
 * What keeps `needs` from loading everywhere `policy` promises; [] when nothing does.
 * @param {ElfNeeds} needs
 * @param {ElfPolicy} policy
 * @returns {string[]}
 */
export function checkElf(needs, policy) {
  const problems = [];
  for (const library of needs.needed) {
    if (/^libpcap\.so/.test(library)) problems.push(`${needs.path}: links ${library} (libpcap must be opened at run time, by soname)`);
    else if (/^libgcc_s\.so/.test(library) && !policy.allowedNeeded.includes(library)) problems.push(`${needs.path}: needs ${library} (link with -static-libgcc)`);
    else if (!policy.allowedNeeded.includes(library)) problems.push(`${needs.path}: needs ${library}; a ${policy.what} may need only ${policy.allowedNeeded.join(", ")}`);
  }
  for (const need of needs.versions) {
    const number = /^GLIBC_([0-9.]+)$/.exec(need.version)?.[1];
    if (number === undefined || compareVersions(number, policy.maxGlibc) <= 0) continue;
    const symbols = need.symbols.length > 0 ? ` (${need.symbols.join(", ")})` : "";
    problems.push(`${needs.path}: needs ${need.version} from ${need.file}${symbols}; at most GLIBC_${policy.maxGlibc} is allowed`);
  }
  return problems;
}

/**
 * @typedef {object} ShippedBinary
 * @property {string} path
 * @property {ElfPolicy} policy
 */

/**
 * Every native binary the project ships that exists under `packageRoot` now: the addons built
 * at install (native/NAME/build/Release/*.node), the prebuilt ones (prebuilds/linux-ARCH/*.node)
 * and the single executables (release/imds-analyzer-linux-ARCH).
 * @param {string} packageRoot
 * @returns {ShippedBinary[]}
 */
export function shippedBinaries(packageRoot) {
  /** @type {ShippedBinary[]} */
  const found = [];
  const filesIn = (/** @type {string} */ directory) => (existsSync(directory) ? readdirSync(directory).sort().map((name) => join(directory, name)) : []);
  for (const addon of filesIn(join(packageRoot, "native"))) {
    for (const file of filesIn(join(addon, "build", "Release"))) if (file.endsWith(".node")) found.push({ path: file, policy: addonPolicy });
  }
  for (const platform of filesIn(join(packageRoot, "prebuilds"))) {
    for (const file of filesIn(platform)) if (file.endsWith(".node")) found.push({ path: file, policy: addonPolicy });
  }
  for (const file of filesIn(join(packageRoot, "release"))) {
    if (/\/imds-analyzer-linux-[a-z0-9]+$/.test(file)) found.push({ path: file, policy: nodeExecutablePolicy });
  }
  return found;
}

/** Command line: node native/elf-check.mjs [--executable] FILE... */
function main() {
  const args = process.argv.slice(2);
  const policy = args.includes("--executable") ? nodeExecutablePolicy : addonPolicy;
  const files = args.filter((arg) => arg !== "--executable");
  let failed = false;
  for (const file of files) {
    const needs = readElfNeeds(file);
    const problems = checkElf(needs, policy);
    console.log(`${file}: ${needs.arch}, GLIBC ${newestGlibc(needs) ?? "none"}, needs ${needs.needed.join(" ") || "nothing"}`);
    for (const problem of problems) console.error(`  ${problem}`);
    failed ||= problems.length > 0;
  }
  process.exitCode = failed ? 1 : 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
