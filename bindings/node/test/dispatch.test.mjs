// The dispatcher's kind numbers are the native host layer's (ferrio-host's EventKind and RoomChange), and
// lib/dispatch.js handles every one of them, a batch at a time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const native = require("../lib/addon.js");
const { KIND, ROOM_CHANGES, ITEM_FIELDS, dispatch, dispatcher } = require("../lib/dispatch.js");
const { ROOM_EVENTS } = require("../lib/adapter.js");

/** A server that records which of its members the dispatcher reads or calls, and knows no namespace. */
function recordingServer() {
  const seen = [];
  const server = new Proxy(
    {},
    {
      get(_, key) {
        seen.push(key);
        if (key === "_nsps") return new Map();
        return (...args) => seen.push([key, ...args]);
      },
    },
  );
  return { server, seen };
}

test("the facade's kinds and room changes are the native table", () => {
  assert.deepEqual({ ...KIND }, native.eventKinds());
  const numbers = Object.values(KIND).sort((a, b) => a - b);
  assert.deepEqual(
    numbers,
    numbers.map((_, i) => i),
    "numbered 0, 1, 2, … without gaps",
  );
  for (const name of ["MIDDLEWARE", "CONNECT", "EVENT", "DISCONNECTING", "DISCONNECT", "ROOM", "UPGRADE", "SERVER_SIDE"]) {
    assert.equal(typeof KIND[name], "number", `KIND.${name}`);
  }
  assert.deepEqual({ ...ROOM_CHANGES }, native.roomChanges());
  assert.deepEqual(Object.keys(ROOM_CHANGES).sort(), [...ROOM_EVENTS].sort(), "one number per adapter room event");
  assert.equal(ITEM_FIELDS, native.ITEM_FIELDS);
  assert.ok(Number.isInteger(ITEM_FIELDS) && ITEM_FIELDS > 0);
});

test("dispatch.js handles every native kind (and ignores a kind it does not know)", () => {
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on("warning", onWarning);
  try {
    for (const [name, kind] of Object.entries(native.eventKinds())) {
      const { server, seen } = recordingServer();
      dispatch(server, kind, "/", "sid", "a", "[]", undefined, 0, -1);
      assert.ok(seen.length > 0, `kind ${name} (${kind}) reaches no branch of dispatch.js`);
    }
    const unknown = Math.max(...Object.values(native.eventKinds())) + 1;
    const { server, seen } = recordingServer();
    dispatch(server, unknown, "/", "sid", "a", "[]", undefined, 0, -1);
    assert.deepEqual(seen, [], "an unknown kind is skipped");
  } finally {
    process.off("warning", onWarning);
  }
  assert.deepEqual(warnings, [], "no handler threw");
});

test("one call of the dispatcher routes a whole batch, in order", () => {
  const { server, seen } = recordingServer();
  // b: whether the joining socket is a recovered session.
  const item = (kind, sid, a, b, n1, n2) => [kind, "/", sid, a, b, undefined, n1, n2];
  const batch = [
    ...item(KIND.MIDDLEWARE, "s1", "{}", false, 7, -1),
    ...item(KIND.CONNECT, "s1", "{}", false, 0, -1),
    ...item(KIND.MIDDLEWARE, "s2", "{}", true, 8, 2),
  ];
  assert.equal(batch.length, 3 * ITEM_FIELDS);
  dispatcher(server)(batch);
  assert.deepEqual(
    seen.filter(Array.isArray),
    [
      ["_onMiddleware", "/", "s1", "{}", false, 7, -1],
      ["_onConnect", "/", "s1", "{}", false, -1],
      ["_onMiddleware", "/", "s2", "{}", true, 8, 2],
    ],
  );
});
