#!/usr/bin/env node
// Builds the native module from source and copies it next to the facade as `ferrio.node`.
// Runs as the package's `install` script, so `npm install` in this folder (or in an app that depends on
// it by path) compiles it with cargo: no prebuilt binaries are downloaded.
//   node scripts/build.js            release build (the default)
//   node scripts/build.js --debug    debug build (faster to compile)
// FERRIO_NODE_SKIP_BUILD=1 skips the build (e.g. when a CI step already built it).
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
if (meta.status !== 0) {
  console.error(`ferrio: \`cargo metadata\` failed (is Rust installed?):\n${meta.stderr}`);
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
