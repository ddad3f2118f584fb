// Connection state recovery with the official client (tests/e2e/SERVER.md, `--recovery MS`): a client
// whose transport is cut comes back as the same socket — same id, rooms and data, `socket.recovered` —
// and gets every event it missed exactly once and in order; after the window it is a fresh socket.
import { describe, test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Clients, MODES, startServer, ask, askAll, once, waitEvent, withTimeout } from "./helpers.mjs";

// The client's own reconnection, slow enough that the missed events are sent before it comes back.
const RECONNECT = { reconnection: true, reconnectionDelay: 600, reconnectionDelayMax: 600, randomizationFactor: 0 };

/** The events a recorded socket received since log index `from`, without their offsets. */
function since(socket, from, names) {
  return socket.log
    .slice(from)
    .filter((e) => names.includes(e.event))
    .map((e) => [e.event, ...e.args.slice(0, -1)]);
}

/** Waits for the next `connect` of a socket that reconnects by itself. */
function reconnected(socket) {
  return once(socket, "connect", 5000);
}

describe("connection state recovery within the window", { timeout: 60_000 }, () => {
  let server;
  const clients = new Clients();
  before(async () => {
    server = await startServer(["--recovery", "5000"]);
  });
  afterEach(() => clients.closeAll());
  after(async () => {
    if (server) await server.stop();
  });

  for (const mode of MODES) {
    test(`${mode.name}: same id, rooms and data, and every missed event once, in order`, async () => {
      const a = await clients.connect(server.url, mode, RECONNECT);
      const b = await clients.connect(server.url, mode);
      const room = `room-${mode.name}`;
      // Its welcome carried an offset: the client now has something to recover from.
      const [welcome, welcomeOffset] = await waitEvent(a, "welcome");
      assert.equal(welcome.id, a.id);
      assert.equal(typeof welcomeOffset, "string");
      assert.equal(a.recovered, false);
      await ask(a, "join", room);
      assert.equal(await ask(a, "set-data", { name: "ann" }), true);
      const id = a.id;

      // Cut the transport; the server sees a lost connection (B hears `leaving` from its `disconnecting`).
      const leaving = waitEvent(b, "leaving", { pred: ([l]) => l.id === id });
      const from = a.log.length;
      a.io.engine.close();
      const [left] = await leaving;
      assert.ok(["transport close", "transport error", "forced close"].includes(left.reason), left.reason);

      // Meanwhile: to its room, to it, to everybody.
      b.emit("to-room", room, "r1");
      b.emit("private", id, "p1");
      b.emit("to-room", "nobody-here", "x");
      b.emit("to-room", room, "r2");
      b.emit("broadcast", "b1");
      await waitEvent(b, "broadcast", { pred: ([m]) => m === "b1" });

      await reconnected(a);
      assert.equal(a.recovered, true);
      assert.equal(a.id, id);
      const state = await ask(a, "recovered");
      assert.deepEqual(state, { recovered: true, id, rooms: [id, room].sort(), data: { name: "ann" } });

      // Live again: one more to its room, and one emitted to it alone.
      b.emit("to-room", room, "r3");
      await waitEvent(a, "room-msg", { pred: ([m]) => m === "r3" });
      a.emit("emit-me", "m1");
      await waitEvent(a, "to-me", { pred: ([m]) => m === "m1" });

      assert.deepEqual(since(a, from, ["room-msg", "private", "broadcast", "to-me"]), [
        ["room-msg", "r1"],
        ["private", { from: b.id, msg: "p1" }],
        ["room-msg", "r2"],
        ["broadcast", "b1"],
        ["room-msg", "r3"],
        ["to-me", "m1"],
      ]);
      // The missed events came before the CONNECT answer, hence before the new welcome.
      const names = a.log.slice(from).map((e) => e.event);
      assert.ok(names.indexOf("welcome") > names.lastIndexOf("broadcast"), names.join(","));
    });
  }

  test("an event awaiting an ack and an ack carry no offset", async () => {
    const a = await clients.connect(server.url, MODES[0]);
    a.on("question", (...args) => args[args.length - 1]("yes"));
    assert.deepEqual(await ask(a, "ask", 2000, "q"), { ok: ["yes"] });
    const question = await waitEvent(a, "question");
    assert.equal(question.length, 2, "the question and its ack callback, no offset");
    assert.equal(question[0], "q");
    assert.equal(typeof question[1], "function");
    assert.deepEqual(await askAll(a, "ack", 1, "two"), [1, "two"]);
  });
});

describe("connection state recovery after the window", { timeout: 30_000 }, () => {
  let server;
  const clients = new Clients();
  before(async () => {
    server = await startServer(["--recovery", "200"]);
  });
  afterEach(() => clients.closeAll());
  after(async () => {
    if (server) await server.stop();
  });

  for (const mode of MODES.slice(0, 2)) {
    test(`${mode.name}: a client back too late gets a fresh socket`, async () => {
      const a = await clients.connect(server.url, mode, RECONNECT);
      const b = await clients.connect(server.url, mode);
      await waitEvent(a, "welcome");
      const room = `late-${mode.name}`;
      await ask(a, "join", room);
      const id = a.id;
      const leaving = waitEvent(b, "leaving", { pred: ([l]) => l.id === id });
      const from = a.log.length;
      a.io.engine.close();
      await leaving;
      b.emit("to-room", room, "too late");
      await reconnected(a);
      assert.equal(a.recovered, false);
      assert.notEqual(a.id, id);
      const state = await ask(a, "recovered");
      assert.equal(state.recovered, false);
      assert.deepEqual(state.rooms, [a.id]);
      await withTimeout(waitEvent(a, "welcome", { from }), 2000, "the new welcome");
      assert.deepEqual(since(a, from, ["room-msg"]), []);
    });
  }
});
