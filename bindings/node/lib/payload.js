// Payloads: the arguments of an event ⇄ the JSON text and binary attachments the engine carries, with
// Buffers (and TypedArrays) replaced by socket.io's {"_placeholder":true,"num":N}, and the depth and
// circularity checks that keep the conversion bounded.
"use strict";

const { FerrioError } = require("./errors.js");

// The arguments nest at most the server's `maxJsonDepth` arrays and objects, their own array included
// (the engine checks the JSON text again; a Buffer's placeholder object is a level only it counts). The
// walks below stop there, so a circular value cannot run them forever: past the limit, a value that
// contains itself is refused as such (ERR_FERRIO_INVALID_ARGS), any other as the engine refuses it
// (ERR_FERRIO_TOO_DEEP, the code of its error).

function isBinary(v) {
  return Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

/** The own enumerable values of an object JSON.stringify would walk into (none for one with toJSON). */
function childrenOf(v) {
  if (Array.isArray(v)) return v;
  if (typeof v.toJSON === "function") return [];
  const out = [];
  for (const k in v) if (Object.prototype.hasOwnProperty.call(v, k)) out.push(v[k]);
  return out;
}

/** Whether `root` contains itself (without recursion: it may be deep). */
function isCircular(root) {
  const open = new Set();
  const stack = [[root, false]];
  while (stack.length) {
    const [v, leaving] = stack.pop();
    if (leaving) {
      open.delete(v);
      continue;
    }
    if (v === null || typeof v !== "object" || isBinary(v)) continue;
    if (open.has(v)) return true;
    open.add(v);
    stack.push([v, true]);
    for (const child of childrenOf(v)) stack.push([child, false]);
  }
  return false;
}

/** The error for arguments nesting deeper than `maxDepth`. */
function tooDeep(root) {
  if (isCircular(root)) {
    return new FerrioError("ERR_FERRIO_INVALID_ARGS", "the arguments are circular (they contain themselves)");
  }
  return new FerrioError("ERR_FERRIO_TOO_DEEP", "the arguments nest deeper than maxJsonDepth allows");
}

/** Whether `v` (at `depth` arrays/objects deep) holds binary data; throws past `maxDepth`. */
function hasBinary(v, depth, maxDepth, root) {
  if (v === null || typeof v !== "object") return false;
  if (isBinary(v)) return true;
  if (depth >= maxDepth) throw tooDeep(root);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (hasBinary(v[i], depth + 1, maxDepth, root)) return true;
    return false;
  }
  if (typeof v.toJSON === "function") return false;
  for (const k in v) {
    if (Object.prototype.hasOwnProperty.call(v, k) && hasBinary(v[k], depth + 1, maxDepth, root)) return true;
  }
  return false;
}

function toBuffer(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function deconstruct(v, buffers, depth, maxDepth, root) {
  if (v === null || typeof v !== "object") return v;
  if (isBinary(v)) {
    buffers.push(toBuffer(v));
    return { _placeholder: true, num: buffers.length - 1 };
  }
  if (depth >= maxDepth) throw tooDeep(root);
  if (Array.isArray(v)) return v.map((x) => deconstruct(x, buffers, depth + 1, maxDepth, root));
  if (typeof v.toJSON === "function") return v;
  const out = {};
  for (const k in v) {
    if (Object.prototype.hasOwnProperty.call(v, k)) out[k] = deconstruct(v[k], buffers, depth + 1, maxDepth, root);
  }
  return out;
}

/**
 * Arguments → [json, buffers|undefined], nesting at most `maxDepth` (the server's maxJsonDepth); throws
 * ERR_FERRIO_INVALID_ARGS when they cannot be sent, ERR_FERRIO_TOO_DEEP when they nest deeper.
 */
function encode(args, maxDepth) {
  let buffers;
  if (hasBinary(args, 0, maxDepth, args)) {
    buffers = [];
    args = deconstruct(args, buffers, 0, maxDepth, args);
  }
  let json;
  try {
    json = JSON.stringify(args);
  } catch (err) {
    throw new FerrioError("ERR_FERRIO_INVALID_ARGS", `the arguments cannot be serialised: ${err.message}`, {
      cause: err,
    });
  }
  return [json, buffers];
}

function reconstruct(v, buffers) {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = reconstruct(v[i], buffers);
    return v;
  }
  if (v._placeholder === true && typeof v.num === "number") return buffers[v.num];
  for (const k in v) v[k] = reconstruct(v[k], buffers);
  return v;
}

/** JSON text (+ buffers) → arguments array. */
function decode(json, buffers) {
  const args = JSON.parse(json);
  return buffers && buffers.length ? reconstruct(args, buffers) : args;
}

module.exports = { encode, decode };
