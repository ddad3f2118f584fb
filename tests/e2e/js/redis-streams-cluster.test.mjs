// A mixed cluster over Redis Streams, on a redis-server of the test's own (a free port, never 6379): two
// ferrio servers, A and B (crates/ferrio-redis/examples/streams_cluster_server.rs, over ferrio's Redis
// Streams adapter), and one official socket.io server, N (cluster/official-streams-server.mjs, over
// @socket.io/redis-streams-adapter), all with connection state recovery. The program is the same on both
// stacks (tests/e2e/SERVER.md, "The Redis Streams cluster program"); the test drives it with socket.io-client
// through `cmd` events and checks that:
// - broadcasts (to all, to rooms, with except, with binary arguments) cross in every direction, each event
//   reaching each client exactly once, in order, with a stream offset as its last argument;
// - fetchSockets, socketsJoin and serverSideEmit with acks cross between ferrio and Node;
// - a client cut from one server recovers its session on another one (ferrio to ferrio, ferrio to Node,
//   Node to ferrio): same id, rooms and data, and every event it missed exactly once, in order, first;
// - after the recovery window the same attempt gets a fresh socket;
// - Redis killed and restarted mid-traffic: the servers keep running and, once Redis is back, no broadcast
//   between servers is lost.
//
// Build the ferrio server first: `cargo build -p ferrio-redis --example streams_cluster_server` (found under
// $CARGO_TARGET_DIR, else target/; FERRIO_STREAMS_SERVER=path overrides). FERRIO_STREAMS_ALL_OFFICIAL=1 runs
// the official program as A and B too (the test then checks itself against socket.io alone). Skipped when
// FERRIO_E2E_SERVER points the suite at a binding's single server, and when redis-server is not installed.
import { describe, test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { createRequire } from "node:module";
import { Clients, MODES, REPO, startServer, waitEvent, withTimeout } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const OFFICIAL = path.join(REPO, "tests/e2e/js/cluster/official-streams-server.mjs");
const ALL_OFFICIAL = process.env.FERRIO_STREAMS_ALL_OFFICIAL === "1";
const WS = MODES[0]; // websocket only: cutting the transport is one TCP close
/** The recovery window of every server (ms): long enough for a loaded 2-core machine, short enough to wait out. */
const RECOVERY_MS = 3000;
const WAIT = 6000;
const OFFSET = /^[0-9]+-[0-9]+$/; // a Redis stream entry id

const redisMissing = spawnSync("redis-server", ["--version"]).error !== undefined;
const skip = process.env.FERRIO_E2E_SERVER
  ? "FERRIO_E2E_SERVER targets a binding's single server; the streams cluster runs with the core's run"
  : redisMissing
    ? "redis-server is not installed (apt-get install redis-server): the Redis Streams cluster test needs it"
    : false;

/** The ferrio program: FERRIO_STREAMS_SERVER, else the newest build under $CARGO_TARGET_DIR or target/. */
function ferrioServer() {
  if (process.env.FERRIO_STREAMS_SERVER) return path.resolve(process.env.FERRIO_STREAMS_SERVER);
  const dirs = [process.env.CARGO_TARGET_DIR, "target"].filter(Boolean).map((d) => path.resolve(REPO, d));
  const found = dirs
    .map((d) => path.join(d, "debug/examples/streams_cluster_server"))
    .filter((p) => existsSync(p))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (found.length === 0) {
    throw new Error(
      `streams_cluster_server not found under ${dirs.join(" or ")}: build it with ` +
        "`cargo build -p ferrio-redis --example streams_cluster_server` (or set FERRIO_STREAMS_ALL_OFFICIAL=1)",
    );
  }
  return found[0];
}

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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let redisPort;
let redis; // the redis-server child process

async function startRedis() {
  const child = spawn(
    "redis-server",
    ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  for (let i = 0; i < 200; i++) {
    const up = await new Promise((resolve) => {
      const s = net.connect(redisPort, "127.0.0.1", () => {
        s.end();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (up) return child;
    await sleep(25);
  }
  child.kill("SIGKILL");
  throw new Error("redis-server did not start");
}

function stopRedis() {
  if (!redis) return Promise.resolve();
  const child = redis;
  redis = null;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", resolve);
    child.kill("SIGKILL");
  });
}

// Whatever way this process ends, never leave the redis-server behind.
process.on("exit", () => redis && redis.kill("SIGKILL"));

const servers = {}; // name -> { url, child, ... } from startServer, plus `name` and `stack`
const NAMES = ["A", "B", "N"];
const clients = new Clients();

/** Connects a websocket client to `server`; `auth.rooms` are the rooms the program joins it to. */
async function connect(server, label, auth = {}) {
  const socket = await clients.connect(servers[server].url, WS, { auth });
  socket.label = `${label}@${server}`;
  return socket;
}

/** Runs a command on the server `socket` is connected to; resolves with `ok`, throws the `error`. */
async function cmd(socket, command) {
  const answer = await withTimeout(socket.emitWithAck("cmd", command), WAIT, `cmd ${command.op} on ${socket.label}`);
  if (answer && typeof answer === "object" && "error" in answer) {
    throw new Error(`cmd ${command.op} on ${socket.label}: ${answer.error}`);
  }
  assert.ok(answer && "ok" in answer, `cmd ${command.op} on ${socket.label} answered ${JSON.stringify(answer)}`);
  return answer.ok;
}

/** Retries `fn` until its value deep-equals `expected` (bounded); fails with the last value otherwise. */
async function eventually(fn, expected, what, ms = WAIT) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      assert.deepEqual(last, expected);
      return last;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(`${what}: still ${JSON.stringify(last)}, expected ${JSON.stringify(expected)} (${err.message})`);
      }
    }
    await sleep(50);
  }
}

/** Splits received args into the values and the offset, which must be there (recovery is on everywhere). */
function withoutOffset(socket, event, args) {
  const offset = args[args.length - 1];
  assert.match(String(offset), OFFSET, `${socket.label}: "${event}" ${JSON.stringify(args)} ends with no stream offset`);
  assert.equal(typeof offset, "string");
  return args.slice(0, -1);
}

/** Compares two stream offsets: negative when a < b. */
function compareOffsets(a, b) {
  const [am, as] = a.split("-").map(BigInt);
  const [bm, bs] = b.split("-").map(BigInt);
  return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : am < bm ? -1 : 1;
}

/** The received `event`s of `socket`, as [args without offset] (in order), with their offsets checked. */
function got(socket, event, pred = () => true) {
  return socket.log
    .filter((e) => e.event === event)
    .map((e) => withoutOffset(socket, event, e.args))
    .filter(pred);
}

/**
 * Broadcasts `probe` from each server (through its client in `byServer`) until every client of the other
 * servers has received one from it: each server then writes to the stream and reads from it.
 */
async function crossProbes(byServer, tag, ms = WAIT) {
  const deadline = Date.now() + ms;
  const proven = new Set();
  for (let i = 0; ; i++) {
    for (const from of Object.keys(byServer)) {
      if (proven.has(from)) continue;
      const others = Object.entries(byServer).filter(([s]) => s !== from);
      if (others.every(([, c]) => c.log.some((e) => e.event === "probe" && e.args[0] === tag && e.args[1] === from))) {
        proven.add(from);
        continue;
      }
      // Errors (Redis still away) and slow answers are expected here: only the probes' arrival counts.
      withTimeout(cmd(byServer[from], { op: "broadcast", event: "probe", args: [tag, from, i] }), 2000, "probe").catch(
        () => {},
      );
    }
    if (proven.size === Object.keys(byServer).length) return;
    if (Date.now() > deadline) {
      const missing = Object.keys(byServer).filter((s) => !proven.has(s));
      throw new Error(`${tag}: broadcasts from ${missing.join(", ")} never reached every other server's client`);
    }
    await sleep(100);
  }
}

describe("Redis Streams cluster: ferrio A and B, socket.io N", { skip, timeout: 120_000 }, () => {
  let redisClient; // the test's own view of Redis (sessions)

  before(
    async () => {
      redisPort = await freePort();
      redis = await startRedis();
      const url = `redis://127.0.0.1:${redisPort}`;
      const ferrio = ALL_OFFICIAL ? OFFICIAL : ferrioServer();
      const stacks = { A: ferrio, B: ferrio, N: OFFICIAL };
      const started = await Promise.all(
        NAMES.map((name) =>
          startServer(["--redis", url, "--recovery", String(RECOVERY_MS), "--name", name], {
            bin: stacks[name],
            startTimeout: 15_000,
          }),
        ),
      );
      NAMES.forEach((name, i) => (servers[name] = { ...started[i], name }));

      const { createClient } = require("redis");
      redisClient = createClient({ url });
      redisClient.on("error", () => {}); // while the Redis test has it down
      await redisClient.connect();

      // Every server subscribed (the cluster counts three) and reading the stream (probes cross).
      const probes = {};
      for (const name of NAMES) probes[name] = await connect(name, "probe");
      for (const name of NAMES) {
        await eventually(() => cmd(probes[name], { op: "server-count" }), 3, `server count seen by ${name}`);
      }
      await crossProbes(probes, "startup", 10_000);
      clients.closeAll();
    },
    { timeout: 40_000 },
  );

  afterEach(() => clients.closeAll());

  after(async () => {
    clients.closeAll();
    if (redisClient) await redisClient.disconnect().catch(() => {});
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    await stopRedis();
  });

  test("broadcasts to all, to rooms, with except and with binary cross every way, each once and in order", async () => {
    // red: cA, cB; blue: cB, cN.
    const c = {
      A: await connect("A", "cA", { rooms: ["red"] }),
      B: await connect("B", "cB", { rooms: ["red", "blue"] }),
      N: await connect("N", "cN", { rooms: ["blue"] }),
    };
    const sends = [
      { name: "all", cmd: {}, to: ["A", "B", "N"] },
      { name: "red", cmd: { room: "red" }, to: ["A", "B"] },
      { name: "blue-not-red", cmd: { room: "blue", except: "red" }, to: ["N"] },
      { name: "not-blue", cmd: { except: ["blue"] }, to: ["A"] },
      { name: "red-or-blue", cmd: { room: ["red", "blue"] }, to: ["A", "B", "N"] },
      { name: "binary", cmd: {}, binary: true, to: ["A", "B", "N"] },
      { name: "fence", cmd: {}, to: ["A", "B", "N"] },
    ];
    const args = (from, send) =>
      send.binary
        ? [from, Buffer.from([1, 2, 3]), { nested: Buffer.from([250, 0, 7]), text: "t" }]
        : [from, send.name, { n: 1, list: ["x", null, true] }];
    for (const from of NAMES) {
      for (const send of sends) {
        await cmd(c[from], { op: "broadcast", event: "msg", args: args(from, send), ...send.cmd });
      }
    }
    // Each sender's fence comes after its other broadcasts (one stream, one connection per server).
    for (const to of NAMES) {
      for (const from of NAMES) {
        await waitEvent(c[to], "msg", { pred: ([f, n]) => f === from && n === "fence", ms: WAIT }).catch(
          (err) => assert.fail(`the fence from ${from} never reached c${to}: ${err.message}`),
        );
      }
    }
    await sleep(300); // a duplicate would arrive about now
    for (const to of NAMES) {
      const received = got(c[to], "msg");
      for (const from of NAMES) {
        const expected = sends.filter((s) => s.to.includes(to)).map((s) => s.name);
        const names = received.filter(([f]) => f === from).map((a) => (Buffer.isBuffer(a[1]) ? "binary" : a[1]));
        assert.deepEqual(names, expected, `c${to} received from ${from}`);
        for (const a of received.filter(([f]) => f === from)) {
          if (Buffer.isBuffer(a[1])) {
            assert.deepEqual([...a[1]], [1, 2, 3], `binary from ${from} at c${to}`);
            assert.ok(Buffer.isBuffer(a[2].nested), `nested binary from ${from} at c${to}: ${JSON.stringify(a[2])}`);
            assert.deepEqual([...a[2].nested], [250, 0, 7]);
            assert.equal(a[2].text, "t");
            assert.equal(a.length, 3);
          } else {
            assert.deepEqual(a, [from, a[1], { n: 1, list: ["x", null, true] }], `args from ${from} at c${to}`);
          }
        }
      }
      // One stream: the offsets of each sender's events grow (socket.io orders one server's broadcasts, not
      // the interleaving of several servers': a local one may overtake a remote one that precedes it).
      for (const from of NAMES) {
        const offsets = c[to].log
          .filter((e) => e.event === "msg" && e.args[0] === from)
          .map((e) => e.args[e.args.length - 1]);
        for (let i = 1; i < offsets.length; i++) {
          const [a, b] = [offsets[i - 1], offsets[i]];
          assert.ok(compareOffsets(a, b) < 0, `c${to}, from ${from}: offsets ${a} then ${b}`);
        }
      }
    }
  });

  test("fetchSockets, socketsJoin and serverSideEmit with acks cross between ferrio and Node", async () => {
    const c = {
      A: await connect("A", "cA", { rooms: ["fa"] }),
      B: await connect("B", "cB", { rooms: ["fb"] }),
      N: await connect("N", "cN", { rooms: ["fn", "fa"] }),
    };
    const all = (extra = []) =>
      [
        { id: c.A.id, rooms: [c.A.id, "fa", ...extra].sort() },
        { id: c.B.id, rooms: [c.B.id, "fb", ...extra].sort() },
        { id: c.N.id, rooms: [c.N.id, "fa", "fn", ...extra].sort() },
      ].sort((x, y) => (x.id < y.id ? -1 : 1));
    for (const from of NAMES) {
      await eventually(() => cmd(c[from], { op: "fetch" }), all(), `fetchSockets from ${from}`);
    }

    // socketsJoin from ferrio, then from Node: every server's sockets join, and a broadcast to the room
    // (from the other stack) reaches them all.
    await cmd(c.A, { op: "sockets-join", room: "joined-by-a" });
    for (const from of NAMES) {
      await eventually(
        () => cmd(c[from], { op: "fetch" }),
        all(["joined-by-a"]),
        `fetch from ${from} after A's socketsJoin`,
      );
    }
    await cmd(c.N, { op: "sockets-join", room: "joined-by-n" });
    for (const from of NAMES) {
      await eventually(
        () => cmd(c[from], { op: "fetch" }),
        all(["joined-by-a", "joined-by-n"]),
        `fetch from ${from} after N's socketsJoin`,
      );
    }
    await cmd(c.N, { op: "broadcast", room: "joined-by-a", event: "joined", args: ["N"] });
    await cmd(c.B, { op: "broadcast", room: "joined-by-n", event: "joined", args: ["B"] });
    for (const to of NAMES) {
      await waitEvent(c[to], "joined", { pred: ([f]) => f === "N" });
      await waitEvent(c[to], "joined", { pred: ([f]) => f === "B" });
    }

    // serverSideEmit with acks: each of the other servers answers once.
    const who = (from) =>
      cmd(c[from], { op: "server-side-emit", event: "who", args: [from, { n: 2 }] }).then((answers) =>
        answers.slice().sort((x, y) => (x.server < y.server ? -1 : 1)),
      );
    for (const from of NAMES) {
      const expected = NAMES.filter((s) => s !== from).map((server) => ({ server, args: [from, { n: 2 }] }));
      assert.deepEqual(await who(from), expected, `serverSideEmitWithAck from ${from}`);
    }
    for (const from of NAMES) assert.equal(await cmd(c[from], { op: "server-count" }), 3, `server count from ${from}`);
  });

  /**
   * A client of `home` (in `room`, with data) gets one event, loses its transport; while it is away each of
   * the other servers emits to its room and to its id, and `home` broadcasts to all; then a new client of
   * `target` presents its session. Resolves with what the recovery test needs.
   */
  async function cutAndMiss(home, target, room) {
    const third = NAMES.find((s) => s !== home && s !== target) ?? target;
    const cut = await connect(home, "cut", { rooms: [room] });
    const witness = await connect(third, "witness", { rooms: [room] });
    const senders = {};
    for (const s of NAMES) senders[s] = s === third ? witness : await connect(s, "sender");
    const data = { user: `${home}-user`, n: 1 };
    assert.equal(await cmd(cut, { op: "set-data", value: data }), true);
    await cmd(cut, { op: "broadcast", room, event: "hello", args: [home] });
    const [, helloOffset] = await waitEvent(cut, "hello");
    assert.match(helloOffset, OFFSET);
    // socket.io-client keeps its session in private fields (connection state recovery on): `_pid`, the
    // private id the server sent in its CONNECT answer, and `_lastOffset`, the offset of the last event
    // received (their last argument). A client that reconnects by itself sends them in its CONNECT `auth`;
    // a new client handed them as `auth` does the same, and may reach another server of the cluster.
    const id = cut.id;
    const pid = cut._pid;
    assert.equal(typeof pid, "string", "the CONNECT answer carried a pid");
    assert.equal(cut._lastOffset, helloOffset);
    await waitEvent(witness, "hello");

    // Cut the transport (not a DISCONNECT packet): the server keeps the session for the window.
    const gone = new Promise((resolve) => cut.once("disconnect", resolve));
    cut.io.engine.close();
    await withTimeout(gone, WAIT, "the cut client's disconnect");
    await eventually(
      async () => (await cmd(witness, { op: "fetch" })).some((s) => s.id === id),
      false,
      `${home} to let the cut socket ${id} go`,
    );
    await eventually(
      async () => (await redisClient.exists(`sio:session:${pid}`)) === 1,
      true,
      `${home} to store the session under sio:session:${pid}`,
    );

    // Meanwhile, one after the other (each seen by the witness before the next, so that the stream holds
    // them in this order): to its room and to its id from each other server, to all from its own.
    const expected = [];
    const step = async (from, command, marker) => {
      await cmd(senders[from], command);
      if (marker) await waitEvent(witness, "missed", { pred: ([m]) => m === marker });
    };
    for (const from of NAMES.filter((s) => s !== home)) {
      await step(from, { op: "broadcast", room, event: "missed", args: [`${from}-room`] }, `${from}-room`);
      await step(from, { op: "emit-to", id, event: "missed", args: [`${from}-direct`, { from }] });
      const bytes = Buffer.from([from.charCodeAt(0), 0, 255]);
      await step(from, { op: "broadcast", room, event: "missed", args: [`${from}-bytes`, { bytes }] });
      // Not for it: another room, and everyone but its room.
      await step(from, { op: "broadcast", room: "elsewhere", event: "missed", args: ["elsewhere"] });
      await step(from, { op: "broadcast", except: room, event: "missed", args: ["not-its-room"] });
      await step(from, { op: "broadcast", room, event: "missed", args: [`${from}-fence`] }, `${from}-fence`);
      expected.push([`${from}-room`], [`${from}-direct`, { from }], [`${from}-bytes`, { bytes }], [`${from}-fence`]);
    }
    await step(home, { op: "broadcast", event: "missed", args: [`${home}-all`] }, `${home}-all`);
    expected.push([`${home}-all`]);
    return { id, pid, offset: cut._lastOffset, helloOffset, room, data, expected, senders };
  }

  for (const [home, target] of [
    ["A", "B"],
    ["A", "N"],
    ["N", "A"],
    ["A", "A"], // and back on the same server, its session kept in Redis all the same
  ]) {
    const where = home === target ? "the same server" : "another server";
    test(`recovery on ${where}: cut from ${home}, back on ${target}, every missed event once, in order`, async () => {
      const { id, pid, offset, helloOffset, room, data, expected, senders } = await cutAndMiss(
        home,
        target,
        `rec-${home}-${target}`,
      );
      const back = await connect(target, "back", { pid, offset });
      assert.equal(back.id, id, `the client on ${target} has the id it had on ${home}`);
      assert.deepEqual(
        await cmd(back, { op: "recovered" }),
        { recovered: true, id, rooms: [id, room].sort(), data },
        `${target}'s view of the recovered socket`,
      );
      // Live again: one to its room from each server, then one to its id.
      const live = [];
      for (const from of NAMES) {
        await cmd(senders[from], { op: "broadcast", room, event: "missed", args: [`live-${from}`] });
        await waitEvent(back, "missed", { pred: ([m]) => m === `live-${from}` });
        live.push([`live-${from}`]);
      }
      await cmd(senders[home], { op: "emit-to", id, event: "missed", args: ["live-direct"] });
      await waitEvent(back, "missed", { pred: ([m]) => m === "live-direct" });
      live.push(["live-direct"]);
      await sleep(300); // a late duplicate would arrive about now

      // Every missed event once, in the stream's order, before anything new; nothing else.
      assert.deepEqual(got(back, "missed"), [...expected, ...live], `what the client got on ${target}`);
      assert.deepEqual(
        back.log.map((e) => e.event),
        Array(expected.length + live.length).fill("missed"),
        "no other event",
      );
      const offsets = back.log.map((e) => e.args[e.args.length - 1]);
      assert.ok(compareOffsets(helloOffset, offsets[0]) < 0, `first missed offset ${offsets[0]} after ${helloOffset}`);
      assert.equal(offset, helloOffset);
      for (let i = 1; i < offsets.length; i++) {
        assert.ok(compareOffsets(offsets[i - 1], offsets[i]) < 0, `offsets ${offsets[i - 1]} then ${offsets[i]}`);
      }
      // The session was taken: it is no longer stored.
      assert.equal(await redisClient.exists(`sio:session:${pid}`), 0, "the session is gone once restored");
    });
  }

  for (const [home, target] of [
    ["A", "B"],
    ["A", "N"],
    ["N", "A"],
  ]) {
    test(`after the window: cut from ${home}, back on ${target} too late, a fresh socket`, async () => {
      const { id, pid, offset } = await cutAndMiss(home, target, `late-${home}-${target}`);
      await sleep(RECOVERY_MS + 800);
      const back = await connect(target, "back", { pid, offset });
      assert.notEqual(back.id, id, "a new id");
      const state = await cmd(back, { op: "recovered" });
      assert.equal(state.recovered, false, `${target} says recovered`);
      assert.equal(state.id, back.id);
      assert.deepEqual(state.rooms, [back.id], "in its own room only");
      assert.notDeepEqual(state.data, { user: `${home}-user`, n: 1 }, "not the old data");
      // Nothing missed is replayed: the first event it gets is this one.
      await cmd(back, { op: "emit-to", id: back.id, event: "fresh", args: [] });
      await waitEvent(back, "fresh");
      assert.deepEqual(
        back.log.map((e) => e.event),
        ["fresh"],
        "a fresh socket gets no missed events",
      );
    });
  }

  test("Redis killed and restarted mid-traffic: servers keep running, then no broadcast is lost", async () => {
    const c = {
      A: await connect("A", "kA", { rooms: ["k"] }),
      B: await connect("B", "kB", { rooms: ["k"] }),
      N: await connect("N", "kN", { rooms: ["k"] }),
    };
    // Traffic from every server, all along.
    let traffic = true;
    const pump = (async () => {
      for (let i = 0; traffic; i++) {
        for (const from of NAMES) {
          withTimeout(cmd(c[from], { op: "broadcast", room: "k", event: "during", args: [from, i] }), 2000, "traffic").catch(
            () => {},
          );
        }
        await sleep(20);
      }
    })();
    try {
      await sleep(300);
      await stopRedis();
      await sleep(1000);
      // Redis is away: every server still runs and answers its clients.
      for (const name of NAMES) {
        assert.equal(servers[name].child.exitCode, null, `${name} exited while Redis was away: ${servers[name].stderr}`);
        assert.equal(c[name].connected, true, `the client of ${name} is still connected`);
        const state = await cmd(c[name], { op: "recovered" });
        assert.equal(state.id, c[name].id, `${name} answers while Redis is away`);
      }
      redis = await startRedis();
      await crossProbes(c, "after-restart", 20_000);
    } finally {
      traffic = false;
      await pump;
    }

    // Requests and answers cross again too: fetchSockets, serverSideEmit with acks, the server count.
    const ids = NAMES.map((s) => c[s].id).sort();
    for (const from of NAMES) {
      await eventually(
        async () => (await cmd(c[from], { op: "fetch" })).map((s) => s.id),
        ids,
        `fetchSockets from ${from} after Redis came back`,
      );
      const answers = await cmd(c[from], { op: "server-side-emit", event: "who", args: [] });
      assert.deepEqual(
        answers.map((a) => a.server).sort(),
        NAMES.filter((s) => s !== from),
        `serverSideEmitWithAck from ${from} after Redis came back`,
      );
      assert.equal(await cmd(c[from], { op: "server-count" }), 3, `server count from ${from} after Redis came back`);
    }

    // Then, one after the other, 50 broadcasts from each server: none lost, none twice, in order.
    const COUNT = 50;
    for (let i = 0; i < COUNT; i++) {
      for (const from of NAMES) await cmd(c[from], { op: "broadcast", event: "seq", args: [from, i] });
    }
    for (const to of NAMES) {
      for (const from of NAMES) {
        await waitEvent(c[to], "seq", { pred: ([f, i]) => f === from && i === COUNT - 1, ms: WAIT }).catch(() => {});
      }
    }
    await sleep(300);
    for (const to of NAMES) {
      for (const from of NAMES) {
        const seen = got(c[to], "seq", ([f]) => f === from).map(([, i]) => i);
        assert.deepEqual(seen, [...Array(COUNT).keys()], `k${to} received from ${from} after Redis came back`);
      }
      assert.equal(servers[to].child.exitCode, null, `${to} still runs`);
    }
  });
});
