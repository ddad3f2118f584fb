// The native module, loaded once for every module of the facade (native.js says where it is looked for:
// a local build or the platform package, both found from the package's root, one level above lib/).
"use strict";

const path = require("node:path");
const { loadNative } = require("../native.js");

module.exports = loadNative(path.join(__dirname, ".."));
