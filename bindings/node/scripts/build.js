#!/usr/bin/env node
// Builds the native module from source with cargo and copies it next to the facade as `ferrio.node`.
// In a clone it is the package's `install` script (`npm install` in bindings/node compiles the workspace's
// ferrio-node crate); in a packed `ferrio` package it is the fallback scripts/install.js runs when no
// prebuilt platform package fits, building the Cargo project that `scripts/pack.js` put in the tarball.
//   node scripts/build.js            release build (the default)
//   node scripts/build.js --debug    debug build (faster to compile)
// FERRIO_NODE_SKIP_BUILD=1 skips the build (e.g. when a CI step already built it). CARGO names cargo;
// CARGO_TARGET_DIR is honoured.
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const here = path.resolve(__dirname, "..");
if (process.env.FERRIO_NODE_SKIP_BUILD) {
  console.log("ferrio: FERRIO_NODE_SKIP_BUILD set, not building the native module");
  process.exit(0);
}
const debug = process.argv.includes("--debug") || process.env.FERRIO_NODE_PROFILE === "debug";
const cargo = process.env.CARGO || "cargo";

const meta = spawnSync(cargo, ["metadata", "--format-version", "1", "--no-deps"], {
  cwd: here,
  encoding: "utf8",
  maxBuffer: 64 * 1024 * 1024,
});
if (meta.error || meta.status !== 0) {
  const why = meta.error ? meta.error.message : meta.stderr;
  console.error(`ferrio: \`${cargo} metadata\` failed: is a Rust toolchain (1.88+) on PATH?\n${why}`);
  process.exit(1);
}
const targetDir = JSON.parse(meta.stdout).target_directory;

const args = ["build", "-p", "ferrio-node", "--lib"];
if (!debug) args.push("--release");
console.log(`ferrio: ${cargo} ${args.join(" ")}`);
const build = spawnSync(cargo, args, { cwd: here, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status || 1);

const file =
  process.platform === "win32"
    ? "ferrio_node.dll"
    : process.platform === "darwin"
      ? "libferrio_node.dylib"
      : "libferrio_node.so";
const built = path.join(targetDir, debug ? "debug" : "release", file);
const dest = path.join(here, "ferrio.node");
// Copy to a temporary name of this process's own and rename, so a running process never sees a
// half-written module and two builds at once never take each other's file.
const temporary = `${dest}.${process.pid}.tmp`;
fs.copyFileSync(built, temporary);
fs.renameSync(temporary, dest);
console.log(`ferrio: ${path.relative(process.cwd(), built)} -> ${path.relative(process.cwd(), dest)}`);

// A packed package builds into its own folder (node_modules/ferrio/target): hundreds of megabytes that
// are of no use once the module is copied out. A target directory elsewhere (a clone's workspace, or
// CARGO_TARGET_DIR) is left alone.
if (path.resolve(targetDir) === path.join(here, "target")) {
  fs.rmSync(targetDir, { recursive: true, force: true });
}
