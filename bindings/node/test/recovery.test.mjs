// Connection state recovery (socket.io 4.6+'s `connectionStateRecovery`) with the official client: a
// client whose transport is cut comes back within the window as the same socket — `socket.recovered` on
// both sides, same id, rooms and `data` — and gets what it missed once and in order; after the window it
// is a fresh socket; options out of range are the core's refusals, with a stable code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Server } from "../index.mjs";
import { start, next, sleep, within } from "./helpers.mjs";

// The client's own reconnection, slow enough that the missed events are sent before it is back.
const RECONNECT = { reconnection: true, reconnectionDelay: 300, reconnectionDelayMax: 300, randomizationFactor: 0 };

/**
 * A server whose sockets join rooms and keep data on request, and say what they are. Each gets a
 * `welcome` on connection: a client recovers from the offset of the last event it received, so it needs
 * one before its connection is cut.
 */
async function recoveringServer(recovery) {
  const t = await start({ connectionStateRecovery: recovery });
  const connections = [];
  const middlewareSaw = [];
  const disconnects = [];
  t.io.use((socket, next) => {
    middlewareSaw.push({ id: socket.id, recovered: socket.recovered });
    next();
  });
  t.io.on("connection", (socket) => {
    connections.push({ id: socket.id, recovered: socket.recovered, rooms: [...socket.rooms].sort(), data: socket.data });
    socket.emit("welcome", socket.recovered);
    socket.on("join", (room, ack) => {
      socket.join(room);
      ack();
    });
    socket.on("set-data", (value, ack) => {
      socket.data = value;
      ack();
    });
    socket.on("state", (ack) =>
      ack({ recovered: socket.recovered, id: socket.id, rooms: [...socket.rooms].sort(), data: socket.data }),
    );
    socket.on("disconnect", (reason) => disconnects.push({ id: socket.id, reason }));
  });
  return { t, connections, middlewareSaw, disconnects };
}

/** Waits (bounded) until `cond()` holds. */
async function until(cond, what) {
  for (let i = 0; i < 400 && !cond(); i++) await sleep(10);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

/** Records every event a client receives, in order. */
function record(client) {
  const log = [];
  client.onAny((event, ...args) => log.push([event, ...args]));
  return log;
}

for (const transports of [["websocket"], ["polling"]]) {
  test(`${transports[0]}: a client back within the window is the same socket and gets what it missed`, { timeout: 30_000 }, async () => {
    const { t, connections, middlewareSaw, disconnects } = await recoveringServer({ maxDisconnectionDuration: 5000 });
    try {
      const a = await t.client("/", { ...RECONNECT, transports, autoConnect: false });
      const log = record(a);
      a.connect();
      await next(a, "welcome");
      assert.equal(a.recovered, false, "a first connection recovers nothing");
      await within(a.emitWithAck("join", "team"), undefined, "join");
      await within(a.emitWithAck("set-data", { name: "ann" }), undefined, "set-data");
      const id = a.id;
      assert.deepEqual(connections, [{ id, recovered: false, rooms: [id], data: {} }]);
      assert.equal(middlewareSaw.length, 1);

      a.io.engine.close();
      await until(() => disconnects.length === 1, "the server to see the connection lost");
      assert.ok(["transport close", "transport error"].includes(disconnects[0].reason), disconnects[0].reason);
      // Meanwhile: to its room, to it alone, to everybody, and to a room it is not in.
      t.io.to("team").emit("room-msg", 1);
      t.io.to(id).emit("direct", 2);
      t.io.to("elsewhere").emit("room-msg", "not for a");
      t.io.emit("all", 3);
      t.io.to("team").emit("room-msg", 4);

      await next(a, "connect", 5000);
      assert.equal(a.recovered, true, "the client recovered");
      assert.equal(a.id, id);
      await until(() => connections.length === 2, "the server's connection handler");
      assert.deepEqual(connections[1], { id, recovered: true, rooms: [id, "team"].sort(), data: { name: "ann" } });
      assert.equal(middlewareSaw.length, 1, "skipMiddlewares (the default): the middleware did not run again");
      assert.deepEqual(await within(a.emitWithAck("state"), undefined, "state"), {
        recovered: true,
        id,
        rooms: [id, "team"].sort(),
        data: { name: "ann" },
      });

      t.io.to("team").emit("room-msg", 5);
      await until(() => log.some(([event, n]) => event === "room-msg" && n === 5), "the live event");
      // Each event once, in order, what it missed before its new welcome; every one carries its offset
      // as its last argument.
      assert.deepEqual(
        log.map(([event, value, offset]) => {
          assert.equal(typeof offset, "string", `${event} carries an offset`);
          return [event, value];
        }),
        [
          ["welcome", false],
          ["room-msg", 1],
          ["direct", 2],
          ["all", 3],
          ["room-msg", 4],
          ["welcome", true],
          ["room-msg", 5],
        ],
      );
    } finally {
      await t.close();
    }
  });
}

test("without skipMiddlewares the middlewares run again and see socket.recovered", { timeout: 30_000 }, async () => {
  const { t, middlewareSaw, disconnects } = await recoveringServer({ maxDisconnectionDuration: 5000, skipMiddlewares: false });
  try {
    const a = await t.client("/", { ...RECONNECT, autoConnect: false });
    a.connect();
    await next(a, "welcome");
    const id = a.id;
    a.io.engine.close();
    await until(() => disconnects.length === 1, "the server to see the connection lost");
    await next(a, "connect", 5000);
    assert.equal(a.recovered, true);
    assert.deepEqual(middlewareSaw, [
      { id, recovered: false },
      { id, recovered: true },
    ]);
  } finally {
    await t.close();
  }
});

test("a client back after the window gets a fresh socket", { timeout: 30_000 }, async () => {
  const { t, connections, disconnects } = await recoveringServer({ maxDisconnectionDuration: 200 });
  try {
    const a = await t.client("/", { ...RECONNECT, reconnectionDelay: 700, reconnectionDelayMax: 700, autoConnect: false });
    const log = record(a);
    a.connect();
    await next(a, "welcome");
    await within(a.emitWithAck("join", "team"), undefined, "join");
    await within(a.emitWithAck("set-data", { name: "ann" }), undefined, "set-data");
    const id = a.id;
    a.io.engine.close();
    await until(() => disconnects.length === 1, "the server to see the connection lost");
    t.io.to("team").emit("room-msg", "too late");
    await next(a, "connect", 5000);
    assert.equal(a.recovered, false);
    assert.notEqual(a.id, id);
    await until(() => connections.length === 2, "the server's connection handler");
    assert.deepEqual(connections[1], { id: a.id, recovered: false, rooms: [a.id], data: {} });
    assert.deepEqual(await within(a.emitWithAck("state"), undefined, "state"), {
      recovered: false,
      id: a.id,
      rooms: [a.id],
      data: {},
    });
    await until(() => log.length === 2, "the new welcome");
    assert.deepEqual(
      log.map(([event, value]) => [event, value]),
      [
        ["welcome", false],
        ["welcome", false],
      ],
      "nothing missed is replayed to a fresh socket",
    );
  } finally {
    await t.close();
  }
});

test("recovery is off by default: a reconnecting client is a new socket, events carry no offset", { timeout: 30_000 }, async () => {
  const t = await start();
  try {
    const recovered = [];
    t.io.on("connection", (socket) => recovered.push(socket.recovered));
    const a = await t.client("/", RECONNECT);
    const log = record(a);
    const id = a.id;
    t.io.emit("hello", 1);
    await until(() => log.length === 1, "hello");
    assert.deepEqual(log, [["hello", 1]]);
    a.io.engine.close();
    await next(a, "connect", 5000);
    assert.notEqual(a.id, id);
    assert.ok(!a.recovered);
    await until(() => recovered.length === 2, "the server's connection handler");
    assert.deepEqual(recovered, [false, false]);
    assert.equal(t.io._native.maxDisconnectionDuration, null);
  } finally {
    await t.close();
  }
});

test("connectionStateRecovery: {} takes socket.io's defaults; values out of range are refused with a code", () => {
  const defaults = new Server({ connectionStateRecovery: {} });
  assert.equal(defaults._native.maxDisconnectionDuration, 120_000, "2 minutes");
  defaults.close();
  const cases = [
    [{ maxDisconnectionDuration: 0 }, "connectionStateRecovery.maxDisconnectionDuration must be positive"],
    [{ maxDisconnectionDuration: 0.5 }, "connectionStateRecovery.maxDisconnectionDuration must be at least 1 ms"],
    [
      { maxDisconnectionDuration: -1 },
      "connectionStateRecovery.maxDisconnectionDuration must be a non-negative number of milliseconds",
    ],
    [
      { maxDisconnectionDuration: "soon" },
      "connectionStateRecovery.maxDisconnectionDuration must be a non-negative number of milliseconds",
    ],
    [{ maxStoredPackets: 0 }, "connectionStateRecovery.maxStoredPackets must be at least 1"],
    [{ maxStoredPackets: 1.5 }, "connectionStateRecovery.maxStoredPackets must be a non-negative whole number"],
  ];
  for (const [recovery, message] of cases) {
    assert.throws(
      () => new Server({ connectionStateRecovery: recovery }),
      (err) => {
        assert.equal(err.code, "ERR_FERRIO_INVALID_ARG", JSON.stringify(recovery));
        assert.equal(err.message, message);
        return true;
      },
    );
  }
});
