// Finds and loads ferrio's native module, following napi-rs's package convention: the module for this
// machine comes either from a local build (`ferrio.node`, made by scripts/build.js in a clone or by the
// source fallback at install time) or from a per-platform package (`ferrio-linux-x64-gnu`, …) that npm
// installs as an optional dependency of `ferrio` when its os/cpu/libc match.
//
// Used by lib/addon.js at run time and by scripts/install.js at install time, so both look in the same places.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

/** Whether this Linux runs on musl rather than glibc. */
function isMusl() {
  try {
    const report = process.report.getReport();
    if (report.header && report.header.glibcVersionRuntime) return false;
    if (Array.isArray(report.sharedObjects)) {
      return report.sharedObjects.some((f) => f.includes("libc.musl-") || f.includes("ld-musl-"));
    }
  } catch {
    // fall through to the file check
  }
  try {
    return fs.readFileSync("/usr/bin/ldd", "utf8").includes("musl");
  } catch {
    return false;
  }
}

/**
 * The napi-rs platform triple of this process (`linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`, …), the
 * suffix of the platform package's name and of its `.node` file.
 */
function platformTriple() {
  const { platform, arch } = process;
  switch (platform) {
    case "linux":
      if (arch === "arm") return `linux-arm-${isMusl() ? "musleabihf" : "gnueabihf"}`;
      return `linux-${arch}-${isMusl() ? "musl" : "gnu"}`;
    case "win32":
      return `win32-${arch}-msvc`;
    default:
      return `${platform}-${arch}`;
  }
}

/** The platform package for this machine (`ferrio-<triple>`) and the file it holds. */
function platformPackage() {
  const triple = platformTriple();
  return { triple, name: `ferrio-${triple}`, file: `ferrio.${triple}.node` };
}

/** Every place the module may be, in the order they are tried: `{ what, file?, pkg? }`. */
function candidates(dir) {
  const { triple, name } = platformPackage();
  const list = [];
  if (process.env.FERRIO_NODE_ADDON) {
    list.push({ what: `$FERRIO_NODE_ADDON (${process.env.FERRIO_NODE_ADDON})`, file: process.env.FERRIO_NODE_ADDON });
  }
  const local = path.join(dir, "ferrio.node");
  list.push({ what: local, file: local });
  const napi = path.join(dir, "native", `ferrio.${triple}.node`);
  list.push({ what: napi, file: napi });
  list.push({ what: `the package ${name}`, pkg: name });
  return list;
}

/**
 * Loads the first module found. Throws an Error with code ERR_FERRIO_NATIVE_MISSING naming every place it
 * looked (and why a module that exists did not load) when there is none.
 */
function loadNative(dir) {
  const tried = [];
  for (const c of candidates(dir)) {
    let file = c.file;
    if (c.pkg) {
      try {
        file = require.resolve(c.pkg, { paths: [dir] });
      } catch {
        tried.push(`${c.what} (not installed)`);
        continue;
      }
    } else if (!fs.existsSync(file)) {
      tried.push(`${c.what} (no such file)`);
      continue;
    }
    try {
      return require(file);
    } catch (err) {
      tried.push(`${c.what} (failed to load: ${err && err.message ? err.message : err})`);
    }
  }
  const { triple, name } = platformPackage();
  const err = new Error(
    `ferrio: no native module for ${triple}; looked for:\n  - ${tried.join("\n  - ")}\n` +
      `Install the prebuilt package ${name} (an optional dependency of ferrio: do not omit optional ` +
      "dependencies), or build the module from source with a Rust toolchain (1.88+) on PATH: " +
      "`npm rebuild ferrio` (where npm holds back install scripts, approve it first: " +
      "`npm install-scripts approve ferrio`; in a clone: `node scripts/build.js`).",
  );
  err.code = "ERR_FERRIO_NATIVE_MISSING";
  throw err;
}

module.exports = { platformTriple, platformPackage, candidates, loadNative };
