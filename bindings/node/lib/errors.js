// Errors: FerrioError and its stable ERR_FERRIO_* codes, the translation of the native module's errors
// into them, and the report of what a user's handler threw (a warning, never a crash).
"use strict";

const native = require("./addon.js");

/** An Error with a stable `code` (ERR_FERRIO_*). */
class FerrioError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = "FerrioError";
    this.code = code;
  }
}

/** Turns a native rejection ("ERR_FERRIO_X: text") into a FerrioError. */
function fromNative(err) {
  const message = err && typeof err.message === "string" ? err.message : String(err);
  const m = /^(ERR_FERRIO_[A-Z0-9_]+): ([\s\S]*)$/.exec(message);
  if (m) return new FerrioError(m[1], m[2]);
  return new FerrioError("ERR_FERRIO_INTERNAL", message, { cause: err });
}

/**
 * Every error code of the engine, as the native module reports it: `{ value, name, code, refined }`, where
 * `code` is the `err.code` of ferrio's errors with that code and `refined` lists finer codes some of them
 * have instead (ERR_FERRIO_TOO_DEEP and ERR_FERRIO_TOO_MANY_ACKS are limits exceeded).
 */
const errorCodes = Object.freeze(native.errorCodes().map((entry) => Object.freeze(entry)));

/** Rethrows what a synchronous native call threw ("ERR_FERRIO_X: text") as a FerrioError. */
function rethrow(err) {
  throw fromNative(err);
}

function report(err) {
  // A throwing handler must not take the process (or the dispatcher) down; socket.io users see it on
  // stderr as they would see an uncaught exception, without the crash.
  process.emitWarning(err instanceof Error ? err : new Error(String(err)), {
    type: "FerrioHandlerError",
    code: "ERR_FERRIO_HANDLER",
  });
}

const ACK_TIMEOUT_MESSAGE = "operation has timed out";

function ackTimeoutError() {
  return new FerrioError("ERR_FERRIO_ACK_TIMEOUT", ACK_TIMEOUT_MESSAGE);
}

module.exports = { FerrioError, fromNative, errorCodes, rethrow, report, ackTimeoutError };
