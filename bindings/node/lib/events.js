// Events as the facade delivers them: the names users may not emit, emitting to the local listeners only
// (Socket and Namespace override `emit` to send to clients), and the middleware chains that run before an
// event or a connection reaches them.
"use strict";

const { EventEmitter } = require("node:events");
const { report } = require("./errors.js");

const RESERVED_EVENTS = new Set([
  "connect",
  "connect_error",
  "disconnect",
  "disconnecting",
  "newListener",
  "removeListener",
]);

const emitLocal = EventEmitter.prototype.emit;

/** Runs `fns` in order through `call(fn, next)`; `done(err)` after the last or at the first error. */
function runChain(fns, call, done) {
  let i = 0;
  const next = (err) => {
    if (err) return done(err);
    if (i >= fns.length) return done(null);
    const fn = fns[i++];
    let called = false;
    try {
      call(fn, (e) => {
        if (called) return;
        called = true;
        next(e);
      });
    } catch (e) {
      if (!called) {
        called = true;
        done(e instanceof Error ? e : new Error(String(e)));
      } else {
        report(e);
      }
    }
  };
  next(null);
}

module.exports = { RESERVED_EVENTS, emitLocal, runChain };
