#!/usr/bin/env node
// The `install` script of the packed `ferrio` package (scripts/pack.js makes it so; a clone uses
// scripts/build.js directly). When npm installed the prebuilt platform package for this machine
// (`ferrio-linux-x64-gnu`, …, an optional dependency selected by os/cpu/libc) and it loads, there is nothing
// to do; otherwise the module is built from the sources in the tarball with cargo (scripts/build.js).
// FERRIO_NODE_BUILD_FROM_SOURCE=1 builds from source even when a prebuilt module is there.
"use strict";
const path = require("node:path");
const { platformPackage } = require("../native.js");

const here = path.resolve(__dirname, "..");
const { triple, name } = platformPackage();

function prebuilt() {
  let file;
  try {
    file = require.resolve(name, { paths: [here] });
  } catch {
    return `${name} is not installed`;
  }
  try {
    require(file);
    return null;
  } catch (err) {
    return `${name} did not load (${err.message})`;
  }
}

if (!process.env.FERRIO_NODE_BUILD_FROM_SOURCE) {
  const problem = prebuilt();
  if (problem === null) {
    console.log(`ferrio: using the prebuilt native module from ${name}`);
    process.exit(0);
  }
  console.log(`ferrio: ${problem}; building the native module for ${triple} from source (needs Rust 1.88+)`);
}
require("./build.js");
