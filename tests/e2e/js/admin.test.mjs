// The admin UI protocol on ferrio's `/admin` namespace, spoken by socket.io-client as the official UI speaks
// it: login (bcrypt credentials, sessions, "invalid credentials"), the payload of every event the UI is sent,
// its commands, read-only and production modes. Server: target/debug/examples/admin_server (crates/ferrio-admin/examples).
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { Clients, REPO, TEST_TIMEOUT_MS, connectError, startServer, waitEvent, withTimeout } from "./helpers.mjs";

const ADMIN_BIN = path.join(REPO, "target/debug/examples/admin_server");
const LOGIN = { username: "admin", password: "admin-password" };
// These tests are about ferrio's core; the binding runs of this directory (FERRIO_E2E_SERVER) skip them.
const skip = process.env.FERRIO_E2E_SERVER ? "runs against the core's admin_server only" : false;
const ISO_DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe("admin UI protocol", { skip, timeout: 60_000 }, () => {
  let server;
  const clients = new Clients();
  before(async () => {
    server = await startServer(["--stats-interval", "500"], { bin: ADMIN_BIN });
  });
  after(async () => server && server.stop());
  afterEach(() => clients.closeAll());

  const admin = (auth = LOGIN, opts = {}) =>
    clients.connect(`${server.url}/admin`, null, { auth, transports: ["websocket"], ...opts });

  test("wrong credentials: connect_error \"invalid credentials\"", { timeout: TEST_TIMEOUT_MS }, async () => {
    for (const auth of [{ username: "admin", password: "nope" }, { username: "x", password: "admin-password" }, {}]) {
      const socket = clients.create(`${server.url}/admin`, null, { auth });
      const err = await connectError(socket);
      assert.equal(err.message, "invalid credentials");
    }
  });

  test("login: session, config, server_stats, all_sockets", { timeout: TEST_TIMEOUT_MS }, async () => {
    const user = await clients.connect(server.url, null, { transports: ["websocket"], query: { who: "user" } });
    const socket = await admin();
    const [session] = await waitEvent(socket, "session");
    assert.match(session, /^[0-9a-f]{16}$/);
    const [config] = await waitEvent(socket, "config");
    assert.deepEqual(config.supportedFeatures, [
      "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS",
    ]);
    const [stats] = await waitEvent(socket, "server_stats");
    assert.deepEqual(Object.keys(stats).sort(), [
      "aggregatedEvents", "clientsCount", "hostname", "namespaces", "pid", "pollingClientsCount", "serverId", "uptime",
    ]);
    assert.equal(typeof stats.serverId, "string");
    assert.equal(stats.hostname, stats.serverId);
    assert.equal(stats.pid, server.child.pid);
    assert.ok(stats.uptime >= 0);
    assert.equal(stats.clientsCount, 2);
    assert.equal(stats.pollingClientsCount, 0);
    assert.ok(Array.isArray(stats.aggregatedEvents));
    assert.deepEqual(stats.namespaces.find((n) => n.name === "/"), { name: "/", socketsCount: 1 });
    assert.deepEqual(stats.namespaces.find((n) => n.name === "/admin"), { name: "/admin", socketsCount: 1 });
    const [all] = await waitEvent(socket, "all_sockets");
    const listed = all.find((s) => s.id === user.id);
    assert.ok(listed, "the user's socket is listed");
    assert.equal(listed.nsp, "/");
    assert.equal(listed.transport, "websocket");
    assert.equal(listed.clientId.length, 12);
    assert.deepEqual(listed.rooms, [user.id]);
    assert.deepEqual(listed.data, {});
    assert.equal(listed.handshake.address, "127.0.0.1");
    assert.equal(listed.handshake.query.who, "user");
    assert.equal(listed.handshake.auth, undefined, "the auth payload is never shown");
    assert.ok(all.some((s) => s.id === socket.id && s.nsp === "/admin"), "admin sockets are listed too");

    // Periodic stats: aggregated counts per second, with the UI's types.
    const [later] = await waitEvent(socket, "server_stats", { pred: ([s]) => s.aggregatedEvents.length > 0, ms: 3000 });
    const types = new Set(later.aggregatedEvents.map((e) => e.type));
    for (const type of ["rawConnection", "packetsIn", "bytesIn", "packetsOut", "bytesOut"]) {
      assert.ok(types.has(type), `aggregatedEvents has ${type}: ${JSON.stringify(later.aggregatedEvents)}`);
    }
    for (const e of later.aggregatedEvents) {
      assert.equal(e.timestamp % 1000, 0);
      assert.ok(e.count > 0);
    }

    // The session id logs in again without the password (what the UI does on reload).
    const again = await admin({ sessionId: session });
    assert.ok(again.connected);
  });

  test("live events: socket_connected, room_joined, event_received/sent, socket_updated, room_left, socket_disconnected", { timeout: TEST_TIMEOUT_MS }, async () => {
    const socket = await admin();
    await waitEvent(socket, "all_sockets");
    // Polling first, then the upgrade: socket_updated reports the new transport.
    const user = await clients.connect(`${server.url}/chat`, { transports: undefined, upgrade: true });
    const [serialized, date] = await waitEvent(socket, "socket_connected", { pred: ([s]) => s.id === user.id });
    assert.equal(serialized.nsp, "/chat");
    assert.equal(serialized.transport, "polling");
    assert.match(date, ISO_DATE);
    const joined = await waitEvent(socket, "room_joined", { pred: (a) => a[1] === user.id });
    assert.deepEqual(joined.slice(0, 3), ["/chat", user.id, user.id]);
    await user.upgraded;
    const [updated] = await waitEvent(socket, "socket_updated", { pred: ([u]) => u.id === user.id });
    assert.deepEqual(updated, { id: user.id, nsp: "/chat", transport: "websocket" });

    user.emit("hello", "world", { n: 1 });
    const rec = await waitEvent(socket, "event_received", { pred: (a) => a[1] === user.id });
    assert.deepEqual(rec.slice(0, 3), ["/chat", user.id, ["hello", "world", { n: 1 }]]);
    assert.match(rec[3], ISO_DATE);
    const sent = await waitEvent(socket, "event_sent", { pred: (a) => a[1] === user.id && a[2][0] === "hi" });
    assert.deepEqual(sent[2], ["hi", "world", { n: 1 }]);

    const id = user.id; // socket.io-client forgets it on disconnect
    user.disconnect();
    const gone = await waitEvent(socket, "socket_disconnected", { pred: (a) => a[1] === id });
    assert.deepEqual(gone.slice(0, 3), ["/chat", id, "client namespace disconnect"]);
    assert.match(gone[3], ISO_DATE);
    const left = await waitEvent(socket, "room_left", { pred: (a) => a[2] === id });
    assert.deepEqual(left.slice(0, 3), ["/chat", id, id]);
  });

  test("commands: join, leave, emit and _disconnect with a socket-id or room filter", { timeout: TEST_TIMEOUT_MS }, async () => {
    const socket = await admin();
    const a = await clients.connect(server.url, null, { transports: ["websocket"] });
    const b = await clients.connect(server.url, null, { transports: ["websocket"] });
    const rooms = (s) => withTimeout(s.emitWithAck("rooms"), 4000, "rooms ack");

    socket.emit("join", "/", "blue", a.id); // by socket id
    await waitEvent(socket, "room_joined", { pred: (x) => x[1] === "blue" && x[2] === a.id });
    assert.deepEqual(await rooms(a), [a.id, "blue"].sort());
    assert.deepEqual(await rooms(b), [b.id]);

    socket.emit("join", "/", "green", "blue"); // by room: only a is in "blue"
    socket.emit("join", "/", "all"); // no filter: every socket of "/"
    await waitEvent(socket, "room_joined", { pred: (x) => x[1] === "all" && x[2] === b.id });
    assert.deepEqual(await rooms(a), [a.id, "all", "blue", "green"].sort());
    assert.deepEqual(await rooms(b), [b.id, "all"].sort());

    socket.emit("emit", "/", "green", "notice", "to green", 7);
    const [text, n] = await waitEvent(a, "notice");
    assert.deepEqual([text, n], ["to green", 7]);
    socket.emit("emit", "/", undefined, "notice", "to everyone");
    await waitEvent(b, "notice");

    socket.emit("leave", "/", "blue", a.id);
    await waitEvent(socket, "room_left", { pred: (x) => x[1] === "blue" && x[2] === a.id });
    assert.deepEqual(await rooms(a), [a.id, "all", "green"].sort());

    const reason = new Promise((resolve) => b.once("disconnect", resolve));
    socket.emit("_disconnect", "/", false, b.id);
    assert.equal(await withTimeout(reason, 4000, "b disconnected"), "io server disconnect");
    assert.ok(a.connected, "only the filtered socket is disconnected");
  });
});

describe("admin UI protocol: read-only and production modes", { skip, timeout: 60_000 }, () => {
  const clients = new Clients();
  afterEach(() => clients.closeAll());

  test("read-only: no command features, and the commands are not handled", { timeout: TEST_TIMEOUT_MS }, async () => {
    const server = await startServer(["--readonly"], { bin: ADMIN_BIN });
    try {
      const user = await clients.connect(server.url, null, { transports: ["websocket"] });
      const socket = await clients.connect(`${server.url}/admin`, null, { auth: LOGIN, transports: ["websocket"] });
      const [config] = await waitEvent(socket, "config");
      assert.deepEqual(config.supportedFeatures, ["AGGREGATED_EVENTS", "ALL_EVENTS"]);
      const disconnected = new Promise((resolve) => user.once("disconnect", resolve));
      socket.emit("join", "/", "blue", user.id);
      socket.emit("_disconnect", "/", false, user.id);
      socket.emit("emit", "/", user.id, "notice", 1);
      const outcome = await Promise.race([disconnected, new Promise((r) => setTimeout(() => r("still connected"), 700))]);
      assert.equal(outcome, "still connected");
      assert.deepEqual(await withTimeout(user.emitWithAck("rooms"), 4000, "rooms"), [user.id]);
      assert.equal(user.log.filter((e) => e.event === "notice").length, 0);
    } finally {
      await server.stop();
    }
  });

  test("production: stats and aggregated events only", { timeout: TEST_TIMEOUT_MS }, async () => {
    const server = await startServer(["--mode", "production", "--stats-interval", "300"], { bin: ADMIN_BIN });
    try {
      const socket = await clients.connect(`${server.url}/admin`, null, { auth: LOGIN, transports: ["websocket"] });
      const [config] = await waitEvent(socket, "config");
      assert.deepEqual(config.supportedFeatures, [
        "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS",
      ]);
      const user = await clients.connect(server.url, null, { transports: ["websocket"] });
      user.emit("hello", 1);
      await waitEvent(user, "hi");
      await waitEvent(socket, "server_stats", { pred: ([s]) => s.aggregatedEvents.length > 0, ms: 3000 });
      const names = new Set(socket.log.map((e) => e.event));
      assert.deepEqual([...names].sort(), ["config", "server_stats", "session"]);
    } finally {
      await server.stop();
    }
  });
});
