// A mixed cluster over a redis-server of the test's own (a free port, never 6379): two ferrio servers and
// one official socket.io server with @socket.io/redis-adapter run the same program
// (fixtures/cluster-server.mjs), each with a socket.io-client client. Broadcasts, rooms, except, binary,
// fetchSockets and remote sockets, socketsJoin, disconnectSockets, serverSideEmit with acks and broadcast
// acks cross between ferrio and Node in both directions; @socket.io/redis-emitter reaches ferrio's
// clients; Redis killed and restarted mid-test: local emits go on, remote ones fail clearly, the cluster
// recovers by itself.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { io as connect } from "socket.io-client";
import { within, spawnListening } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const SERVER = path.join(here, "fixtures/cluster-server.mjs");
const WAIT = 6000;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

let redisPort;
let redis;

async function startRedis() {
  const child = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise((resolve) => {
      const s = net.connect(redisPort, "127.0.0.1", () => {
        s.end();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (up) return child;
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill("SIGKILL");
  throw new Error("redis-server did not start");
}

function stopRedis() {
  if (!redis) return Promise.resolve();
  const child = redis;
  redis = null;
  return new Promise((resolve) => {
    child.once("exit", resolve);
    child.kill("SIGKILL");
  });
}

async function startServer(impl, name) {
  const server = await spawnListening([SERVER, impl, `redis://127.0.0.1:${redisPort}`, name], name, 15_000);
  return { ...server, name };
}

const servers = {};
const clients = {};

/** A client of `server` in `rooms`, recording every event it receives. */
async function client(server, label, rooms) {
  const socket = connect(`http://127.0.0.1:${server.port}`, {
    forceNew: true,
    reconnection: false,
    transports: ["websocket"],
    auth: { rooms },
  });
  socket.label = label;
  socket.received = [];
  socket.onAny((event, ...args) => socket.received.push([event, ...args]));
  socket.on("ask", (from, callback) => callback(label));
  await within(new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  }), WAIT, `${label} to connect`);
  return socket;
}

/** Sends a command to the server `socket` is connected to. */
async function cmd(socket, command) {
  const answer = await within(socket.emitWithAck("cmd", command), WAIT, `command ${command.op}`);
  if (answer.error) throw new Error(answer.error);
  return answer.ok;
}

/** Waits until `socket` has received an event named `event` (and returns its arguments). */
async function received(socket, event) {
  return within(
    (async () => {
      for (;;) {
        const found = socket.received.find(([name]) => name === event);
        if (found) return found.slice(1);
        await new Promise((r) => setTimeout(r, 10));
      }
    })(),
    WAIT,
    `${socket.label} to receive ${event}`,
  );
}

/** Asserts that `socket` has not received `event` after a short wait. */
async function notReceived(socket, event) {
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(socket.received.find(([name]) => name === event), undefined, `${socket.label} got ${event}`);
}

before(async () => {
  execFileSync("redis-server", ["--version"]);
  redisPort = await freePort();
  redis = await startRedis();
  [servers.f1, servers.f2, servers.node] = await Promise.all([
    startServer("ferrio", "F1"),
    startServer("ferrio", "F2"),
    startServer("socketio", "N"),
  ]);
  clients.f1 = await client(servers.f1, "cF1", ["a"]);
  clients.f2 = await client(servers.f2, "cF2", ["a", "b"]);
  clients.node = await client(servers.node, "cN", ["b"]);
  // Every server subscribed: the cluster counts three.
  for (const c of Object.values(clients)) {
    await within(
      (async () => {
        while ((await cmd(c, { op: "serverCount" })) !== 3) await new Promise((r) => setTimeout(r, 50));
      })(),
      WAIT,
      "three servers",
    );
  }
});

after(async () => {
  for (const c of Object.values(clients)) c.disconnect();
  for (const s of Object.values(servers)) s.child.kill("SIGKILL");
  await stopRedis();
});

test("a broadcast from ferrio and one from socket.io reach every client of the cluster", async () => {
  await cmd(clients.f1, { op: "emit", event: "from-f1", args: [1, { x: "y" }] });
  await cmd(clients.node, { op: "emit", event: "from-node", args: ["z"] });
  for (const c of Object.values(clients)) {
    assert.deepEqual(await received(c, "from-f1"), [1, { x: "y" }]);
    assert.deepEqual(await received(c, "from-node"), ["z"]);
  }
});

test("room broadcasts and except cross both ways", async () => {
  await cmd(clients.f1, { op: "emit", to: "b", event: "to-b" });
  assert.deepEqual(await received(clients.f2, "to-b"), []);
  assert.deepEqual(await received(clients.node, "to-b"), []);
  await notReceived(clients.f1, "to-b");

  await cmd(clients.node, { op: "emit", except: "a", event: "not-a" });
  assert.deepEqual(await received(clients.node, "not-a"), []);
  await notReceived(clients.f1, "not-a");
  await notReceived(clients.f2, "not-a");

  await cmd(clients.node, { op: "emit", to: "a", except: "b", event: "a-not-b" });
  assert.deepEqual(await received(clients.f1, "a-not-b"), []);
  await notReceived(clients.f2, "a-not-b");
});

test("binary arguments cross as Buffers", async () => {
  await cmd(clients.f2, { op: "emitBinary", event: "bytes", bytes: [1, 2, 3] });
  for (const c of [clients.f1, clients.node]) {
    const [buf, { nested }] = await received(c, "bytes");
    assert.deepEqual([...buf], [1, 2, 3]);
    assert.deepEqual([...nested], [3, 2, 1]);
  }
  await cmd(clients.node, { op: "emitBinary", event: "bytes-from-node", bytes: [9, 8] });
  const [buf, { nested }] = await received(clients.f1, "bytes-from-node");
  assert.deepEqual([...buf], [9, 8]);
  assert.deepEqual([...nested], [8, 9]);
});

test("fetchSockets sees every server's sockets, and its remote sockets can emit", async () => {
  const expected = [
    { id: clients.f1.id, rooms: [clients.f1.id, "a"].sort(), server: "F1" },
    { id: clients.f2.id, rooms: [clients.f2.id, "a", "b"].sort(), server: "F2" },
    { id: clients.node.id, rooms: [clients.node.id, "b"].sort(), server: "N" },
  ];
  assert.deepEqual(await cmd(clients.f1, { op: "fetch" }), expected);
  assert.deepEqual(await cmd(clients.node, { op: "fetch" }), expected);
  assert.deepEqual(await cmd(clients.f2, { op: "fetch", to: "b", except: clients.f2.id }), [expected[2]]);
  assert.equal(await cmd(clients.f1, { op: "remoteEmit", to: "b", event: "direct" }), 2);
  assert.deepEqual(await received(clients.f2, "direct"), ["F1"]);
  assert.deepEqual(await received(clients.node, "direct"), ["F1"]);
  assert.equal(await cmd(clients.node, { op: "remoteEmit", to: clients.f1.id, event: "direct-n" }), 1);
  assert.deepEqual(await received(clients.f1, "direct-n"), ["N"]);
});

test("socketsJoin from socket.io and from ferrio reaches every server's sockets", async () => {
  await cmd(clients.node, { op: "join", rooms: ["c"] });
  await cmd(clients.f1, { op: "join", to: "b", rooms: ["d"] });
  await new Promise((r) => setTimeout(r, 200));
  await cmd(clients.f1, { op: "emit", to: "c", event: "to-c" });
  for (const c of Object.values(clients)) await received(c, "to-c");
  await cmd(clients.node, { op: "emit", to: "d", event: "to-d" });
  await received(clients.f2, "to-d");
  await received(clients.node, "to-d");
  await notReceived(clients.f1, "to-d");
});

test("serverSideEmit with acks crosses both ways", async () => {
  assert.deepEqual(await cmd(clients.f1, { op: "double", n: 21 }), ["F2:42", "N:42"]);
  assert.deepEqual(await cmd(clients.node, { op: "double", n: 5 }), ["F1:10", "F2:10"]);
  await cmd(clients.f2, { op: "note", text: "hi" });
  assert.deepEqual(await received(clients.f1, "noted"), ["F1", "hi"]);
  assert.deepEqual(await received(clients.node, "noted"), ["N", "hi"]);
  await notReceived(clients.f2, "noted");
});

test("broadcast acks gather every server's clients, from ferrio and from socket.io", async () => {
  assert.deepEqual(await cmd(clients.f1, { op: "ask" }), ["cF1", "cF2", "cN"]);
  assert.deepEqual(await cmd(clients.node, { op: "ask" }), ["cF1", "cF2", "cN"]);
  assert.deepEqual(await cmd(clients.f2, { op: "ask", to: "b" }), ["cF2", "cN"]);
});

test("@socket.io/redis-emitter reaches the clients of ferrio servers", async () => {
  const { Emitter } = require("@socket.io/redis-emitter");
  const { createClient } = require("redis");
  const redisClient = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  await redisClient.connect();
  try {
    const emitter = new Emitter(redisClient);
    emitter.to("a").emit("from-emitter", { n: 1 }, Buffer.from([7]));
    const [value, buf] = await received(clients.f1, "from-emitter");
    assert.deepEqual(value, { n: 1 });
    assert.deepEqual([...buf], [7]);
    await received(clients.f2, "from-emitter");
    await notReceived(clients.node, "from-emitter");
  } finally {
    await redisClient.quit();
  }
});

test("Redis killed and restarted: local emits go on, remote ones fail clearly, the cluster recovers", async () => {
  await stopRedis();
  // ferrio notices at once (its subscriber connection drops): a cluster-wide emit still delivers here and
  // reports that the other servers were not reached; a local emit is fine; fetchSockets fails fast.
  await within(
    (async () => {
      for (;;) {
        try {
          await cmd(clients.f1, { op: "emit", event: "while-down" });
        } catch (err) {
          assert.match(err.message, /adapter/i);
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })(),
    WAIT,
    "ferrio to notice Redis is gone",
  );
  await received(clients.f1, "while-down");
  await cmd(clients.f1, { op: "emit", local: true, event: "local-while-down" });
  await received(clients.f1, "local-while-down");
  await assert.rejects(cmd(clients.f1, { op: "fetch" }), /Redis is unreachable|adapter/);
  await notReceived(clients.node, "while-down");

  redis = await startRedis();
  // Everyone reconnects by itself; then a broadcast from ferrio reaches socket.io's client again.
  await within(
    (async () => {
      for (let i = 0; ; i++) {
        try {
          await cmd(clients.f1, { op: "emit", event: `after-${i}` });
          if (clients.node.received.some(([name]) => name.startsWith("after-"))) return;
        } catch {
          // still reconnecting
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })(),
    15_000,
    "the cluster to recover",
  );
  assert.equal(await cmd(clients.node, { op: "serverCount" }), 3);
  assert.deepEqual(await cmd(clients.node, { op: "double", n: 1 }), ["F1:2", "F2:2"]);
});

test("disconnectSockets from ferrio disconnects socket.io's clients too", async () => {
  const gone = (c) => new Promise((resolve) => c.once("disconnect", resolve));
  const waits = [gone(clients.f2), gone(clients.node)];
  await cmd(clients.f1, { op: "disconnect", to: "b" });
  const reasons = await within(Promise.all(waits), WAIT, "the room's sockets to disconnect");
  assert.deepEqual(reasons, ["io server disconnect", "io server disconnect"]);
  assert.equal(clients.f1.connected, true);
});
