// End-to-end behaviour of the ferrio e2e server (tests/e2e/SERVER.md) seen through the official
// socket.io-client, under each of the three transport modes. One server per mode.
import { describe, test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { io, Manager } from "socket.io-client";
import {
  MODES,
  WAIT_MS,
  TEST_TIMEOUT_MS,
  Clients,
  startServer,
  once,
  waitEvent,
  waitEvents,
  received,
  connected,
  connectError,
  ask,
  askAll,
  freshDyn,
  withTimeout,
} from "./helpers.mjs";

const sorted = (list) => [...list].sort();
const range = (a, b) => Array.from({ length: b - a }, (_, i) => a + i);

/** Asserts the transport in use, on the client and as the server sees it. */
async function assertTransport(socket, expected) {
  assert.equal(socket.io.engine.transport.name, expected, "client-side transport");
  assert.equal(await ask(socket, "transport"), expected, "server-side transport (`transport` ack)");
}

/**
 * Emits `broadcast` with a unique marker from `sender` and waits until every socket of `sockets` got it.
 * Per-connection ordering then guarantees that anything the server sent them before is already received,
 * which lets tests assert that an event did NOT arrive without sleeping.
 */
async function barrier(sender, sockets) {
  const marker = `marker-${Math.random().toString(36).slice(2)}`;
  sender.emit("broadcast", marker);
  await Promise.all(sockets.map((s) => waitEvent(s, "broadcast", { pred: (a) => a[0] === marker })));
  return marker;
}

/** Index in `socket.log` of the first event matching. */
const logIndex = (socket, event, pred = () => true) =>
  socket.log.findIndex((e) => e.event === event && pred(e.args));

for (const mode of MODES) {
  describe(`client [${mode.name}]`, { timeout: 40_000 }, () => {
    let server;
    const clients = new Clients();
    const connect = (opts = {}, nsp = "", o = {}) => clients.connect(server.url + nsp, mode, opts, o);

    // Circuit breaker: when not even a plain connect + echo works in this mode, the other tests fail at once
    // instead of each waiting for its timeouts.
    let healthy = null;
    const it = (name, optionsOrFn, maybeFn) => {
      const [options, fn] = maybeFn ? [optionsOrFn, maybeFn] : [{}, optionsOrFn];
      return test(name, { timeout: TEST_TIMEOUT_MS, ...options }, async (t) => {
        if (healthy === false) throw new Error(`not run: the smoke test (connect + echo) failed in mode ${mode.name}`);
        await fn(t);
      });
    };

    before(async () => {
      server = await startServer();
    });

    test("smoke: connect and echo", { timeout: TEST_TIMEOUT_MS }, async () => {
      healthy = false;
      const s = await connect();
      assert.deepEqual(await askAll(s, "echo", "smoke"), ["smoke"]);
      healthy = true;
    });
    afterEach(() => clients.closeAll());
    after(async () => {
      clients.closeAll();
      if (server) await server.stop();
    });

    it("transport in use (client and server agree)", async () => {
      const s = clients.create(server.url, mode);
      assert.equal(s.io.engine.transport.name, mode.initial, "the engine opens with the first transport");
      await connected(s);
      if (mode.upgrade) {
        // opened over polling, then upgraded
        const t = await withTimeout(s.upgraded, WAIT_MS, "engine upgrade");
        assert.equal(t.name, "websocket");
      } else {
        assert.equal(s.io.engine.transport.name, mode.initial);
      }
      await assertTransport(s, mode.final);
    });

    it("connect with auth: welcome echoes auth, id equals socket.id", async () => {
      const auth = { token: "abc", n: 42, nested: { list: [1, "two", null, true] } };
      const s = await connect({ auth });
      const [welcome] = await waitEvent(s, "welcome");
      assert.deepEqual(welcome, { id: s.id, auth, nsp: "/" });
      assert.equal(typeof s.id, "string");
      assert.ok(s.id.length > 0);
      await assertTransport(s, mode.final);
    });

    it("connect without auth: auth is {}", async () => {
      const s = await connect();
      const [welcome] = await waitEvent(s, "welcome");
      assert.deepEqual(welcome, { id: s.id, auth: {}, nsp: "/" });
    });

    it("handshake details", async () => {
      const auth = { user: "h" };
      const s = await connect({ auth, query: { foo: "bar" } });
      const h = await ask(s, "handshake");
      assert.deepEqual(h.auth, auth);
      assert.equal(h.query.foo, "bar");
      assert.equal(h.query.EIO, "4");
      assert.equal(h.query.transport, mode.initial);
      assert.match(h.address, /127\.0\.0\.1/);
      assert.match(h.url, /^\/socket\.io\/\?/);
      assert.equal(h.secure, false);
      assert.equal(h.headers.host, `127.0.0.1:${server.port}`);
      assert.equal(typeof h.issued, "number");
      assert.ok(Math.abs(h.issued - Date.now()) < 60_000, `issued ${h.issued} is a ms timestamp`);
      assert.equal(typeof h.time, "string");
    });

    it("events with many args are echoed exactly (event and ack)", async () => {
      const s = await connect();
      const args = [
        "str",
        "",
        "ünïcødé ✓ 😀 \u2028 \"quoted\" \\ back",
        0,
        -1.5,
        42,
        1e21,
        Number.MAX_SAFE_INTEGER,
        null,
        true,
        false,
        { a: { b: { c: [1, { d: null }, "e"] } }, "key with space": 1 },
        [],
        {},
        [[1, 2], [3, [4, [5]]], { x: [] }],
      ];
      s.emit("echo", ...args);
      assert.deepEqual(await waitEvent(s, "echo"), args);
      assert.deepEqual(await askAll(s, "echo", ...args), args);
      // single arg and no arg
      assert.deepEqual(await askAll(s, "echo", "only"), ["only"]);
      assert.deepEqual(await askAll(s, "echo"), []);
      await assertTransport(s, mode.final);
    });

    it("nested binary both ways, including empty Buffers", async () => {
      const s = await connect();
      const args = [
        Buffer.from([0xff, 0x00, 0x80, 0x7f]),
        { bin: Buffer.from([1, 2, 3]), nested: { list: [Buffer.from("hello"), { empty: Buffer.alloc(0) }, "text", 7] } },
        [Buffer.alloc(0), { deep: { deeper: [Buffer.from([9]), null] } }],
        "a string after the binaries",
        Buffer.alloc(0),
      ];
      s.emit("echo", ...args);
      const got = await waitEvent(s, "echo");
      assert.ok(Buffer.isBuffer(got[0]), "top-level binary arrives as a Buffer");
      assert.ok(Buffer.isBuffer(got[1].nested.list[1].empty), "nested empty binary arrives as a Buffer");
      assert.deepEqual(got, args);
      // binary in acks (BINARY_ACK), server -> client
      assert.deepEqual(await askAll(s, "ack", ...args), args);
      assert.deepEqual(await askAll(s, "echo", ...args), args);
      await assertTransport(s, mode.final);
    });

    it("binary in a server question and in the client's ack answer", async () => {
      const s = await connect();
      const answer = { file: Buffer.from([5, 6, 7]), empty: Buffer.alloc(0), list: [Buffer.from("x")] };
      const questions = [];
      s.on("question", (...a) => {
        a.pop()(answer, Buffer.from([1]));
        questions.push(a);
      });
      // binary in the question (the server forwards the args after the timeout, attachments included)
      const [plain] = await askAll(s, "ask", 2000, Buffer.from([7, 7]), { b: Buffer.alloc(0) }, "s");
      assert.deepEqual(questions, [[Buffer.from([7, 7]), { b: Buffer.alloc(0) }, "s"]]);
      // binary in the answer, re-emitted by the server inside {ok: [...]}
      assert.deepEqual(plain, { ok: [answer, Buffer.from([1])] });
    });

    it("acks both ways with several values", async () => {
      const s = await connect();
      const values = [1, "two", { three: [3] }, null, [true, false], ""];
      assert.deepEqual(await askAll(s, "ack", ...values), values);
      assert.deepEqual(await ask(s, "ack", "first", "second"), "first"); // emitWithAck gives the first value

      const questions = [];
      s.on("question", (...a) => {
        const cb = a.pop();
        assert.equal(typeof cb, "function", "question carries an ack id");
        questions.push(a);
        cb("yes", 2, { three: 3 }, [null], "");
      });
      const [res] = await askAll(s, "ask", 2000, "q1", { n: 1 }, [2]);
      assert.deepEqual(res, { ok: ["yes", 2, { three: 3 }, [null], ""] });
      assert.deepEqual(questions, [["q1", { n: 1 }, [2]]]);
      // no args at all
      const [res2] = await askAll(s, "ask", 2000);
      assert.deepEqual(res2, { ok: ["yes", 2, { three: 3 }, [null], ""] });
      assert.deepEqual(questions[1], []);
      await assertTransport(s, mode.final);
    });

    it("server-side ack timeout: unanswered question", async () => {
      const s = await connect();
      const start = Date.now();
      const [res] = await askAll(s, "ask", 200, "nobody answers");
      const elapsed = Date.now() - start;
      assert.deepEqual(res, { error: "timeout" });
      assert.ok(elapsed >= 150, `timed out after ${elapsed} ms, expected about 200 ms`);
      assert.equal(received(s, "question").length, 1, "the question was delivered");
    });

    it("server-side ack timeout: late answer is ignored, connection stays usable", async () => {
      const s = await connect();
      const answered = new Promise((resolve) => {
        s.on("question", (...a) => {
          const cb = a.pop();
          setTimeout(() => {
            cb("too late");
            resolve();
          }, 400);
        });
      });
      const [res] = await askAll(s, "ask", 150, "slow");
      assert.deepEqual(res, { error: "timeout" });
      await withTimeout(answered, WAIT_MS, "late answer");
      assert.deepEqual(await askAll(s, "echo", "still alive"), ["still alive"]);
      assert.ok(s.connected);
    });

    // python-socketio acks every event that asks for one (with the handler's return value), so a server
    // written for it never lets this time out; its binding keeps that, and says so with this variable.
    const autoAck = process.env.FERRIO_E2E_SERVER_ACKS_EVERY_EVENT === "1";
    it("client-side ack timeout on an event the server does not ack", { skip: autoAck && "the server acks every event (python-socketio semantics)" }, async () => {
      const s = await connect();
      const start = Date.now();
      await assert.rejects(s.timeout(300).emitWithAck("nothing-handles-this", 1, 2), {
        message: "operation has timed out",
      });
      assert.ok(Date.now() - start >= 250);
      // an event of the table that never acks (`broadcast-others`) times out as well
      await assert.rejects(s.timeout(300).emitWithAck("broadcast-others", "x"), { message: "operation has timed out" });
      assert.deepEqual(await askAll(s, "echo", "after"), ["after"]);
      assert.ok(s.connected);
    });

    it("rooms: join, leave, rooms, room-size", async () => {
      const a = await connect();
      const b = await connect();
      assert.deepEqual(await ask(a, "rooms"), [a.id]);
      // joined in reverse alphabetical order: the acks must be sorted, not in insertion order
      assert.deepEqual(await ask(a, "join", "zeta"), sorted([a.id, "zeta"]));
      assert.deepEqual(await ask(a, "join", ["beta", "alpha"]), sorted([a.id, "zeta", "beta", "alpha"]));
      assert.deepEqual(await ask(a, "join", "zeta"), sorted([a.id, "zeta", "beta", "alpha"]), "joining twice is a no-op");
      assert.deepEqual(await ask(a, "leave", "beta"), sorted([a.id, "zeta", "alpha"]));
      assert.deepEqual(await ask(a, "leave", "not-a-member"), sorted([a.id, "zeta", "alpha"]));
      assert.deepEqual(await ask(a, "rooms"), sorted([a.id, "zeta", "alpha"]));
      assert.deepEqual(await ask(b, "join", "zeta"), sorted([b.id, "zeta"]));
      assert.equal(await ask(a, "room-size", "zeta"), 2);
      assert.equal(await ask(b, "room-size", "alpha"), 1);
      assert.equal(await ask(a, "room-size", "beta"), 0);
      assert.equal(await ask(a, "room-size", "never-existed"), 0);
      assert.deepEqual(await ask(b, "leave", "zeta"), [b.id]);
      assert.equal(await ask(a, "room-size", "zeta"), 1);
      await assertTransport(a, mode.final);
    });

    it("to-room reaches the other members, not the sender nor non-members", async () => {
      const [a, b, c, d] = await Promise.all([connect(), connect(), connect(), connect()]);
      await ask(a, "join", "tr");
      await ask(b, "join", "tr");
      await ask(d, "join", "tr");
      await ask(c, "join", "elsewhere");
      const payload = { n: 1, bin: Buffer.from([1, 2]) };
      a.emit("to-room", "tr", "hello", payload);
      await barrier(a, [a, b, c, d]);
      for (const member of [b, d]) {
        assert.deepEqual(received(member, "room-msg"), [["hello", payload]]);
        assert.ok(logIndex(member, "room-msg") < logIndex(member, "broadcast"));
      }
      assert.deepEqual(received(a, "room-msg"), [], "the sender does not get its own room message");
      assert.deepEqual(received(c, "room-msg"), [], "a non-member does not get the room message");
      // a sender outside the room reaches all its members
      c.emit("to-room", "tr", "from outside");
      await barrier(c, [a, b, c, d]);
      for (const member of [a, b, d]) assert.deepEqual(received(member, "room-msg").at(-1), ["from outside"]);
      assert.deepEqual(received(c, "room-msg"), []);
    });

    it("the socket-id room: membership, size, private message by id", async () => {
      const [a, b, c] = await Promise.all([connect(), connect(), connect()]);
      assert.ok((await ask(a, "rooms")).includes(a.id), "a socket is in the room named by its id");
      assert.equal(await ask(b, "room-size", a.id), 1);
      a.emit("private", b.id, "psst");
      await barrier(a, [a, b, c]);
      assert.deepEqual(received(b, "private"), [[{ from: a.id, msg: "psst" }]]);
      assert.ok(logIndex(b, "private") < logIndex(b, "broadcast"));
      assert.deepEqual(received(a, "private"), []);
      assert.deepEqual(received(c, "private"), []);
      // to-room with a socket id behaves like a private room
      c.emit("to-room", b.id, "direct");
      await barrier(c, [a, b, c]);
      assert.deepEqual(received(b, "room-msg"), [["direct"]]);
      assert.deepEqual(received(a, "room-msg"), []);
    });

    it("broadcast reaches all (sender included); broadcast-others excludes the sender", async () => {
      const [a, b, c] = await Promise.all([connect(), connect(), connect()]);
      const payload = { x: 1, bin: Buffer.from([3, 4]), list: [Buffer.alloc(0)] };
      a.emit("broadcast", "all", payload);
      for (const s of [a, b, c]) {
        assert.deepEqual(await waitEvent(s, "broadcast", { pred: (x) => x[0] === "all" }), ["all", payload]);
      }
      a.emit("broadcast-others", "others", 2);
      await barrier(a, [a, b, c]);
      for (const s of [b, c]) {
        const others = received(s, "broadcast").filter((x) => x[0] === "others");
        assert.deepEqual(others, [["others", 2]]);
      }
      assert.deepEqual(
        received(a, "broadcast").filter((x) => x[0] === "others"),
        [],
        "broadcast-others does not reach the sender",
      );
      await assertTransport(b, mode.final);
    });

    it("namespaces multiplexed on one connection share the Manager", async () => {
      const opts = { reconnection: false };
      if (mode.transports) opts.transports = mode.transports;
      const s1 = clients.track(io(server.url, opts));
      const s2 = clients.track(io(server.url + "/chat", opts));
      assert.equal(s1.io, s2.io, "io(url) and io(url + '/chat') share one Manager");
      await Promise.all([connected(s1), connected(s2)]);
      if (mode.upgrade) await withTimeout(s1.upgraded, WAIT_MS, "engine upgrade");
      assert.notEqual(s1.id, s2.id);
      const [w1] = await waitEvent(s1, "welcome");
      const [w2] = await waitEvent(s2, "welcome");
      assert.deepEqual(w1, { id: s1.id, auth: {}, nsp: "/" });
      assert.deepEqual(w2, { id: s2.id, auth: {}, nsp: "/chat" });
      assert.deepEqual(await askAll(s1, "echo", "on /", 1), ["on /", 1]);
      assert.deepEqual(await askAll(s2, "echo", "on /chat", 2), ["on /chat", 2]);
      assert.deepEqual(await ask(s2, "rooms"), [s2.id]);
      await assertTransport(s1, mode.final);
      await assertTransport(s2, mode.final);
      // namespaces are isolated: a /chat broadcast does not reach the / socket on the same connection
      s2.emit("broadcast", "chat-only");
      await waitEvent(s2, "broadcast", { pred: (x) => x[0] === "chat-only" });
      await barrier(s1, [s1]);
      assert.deepEqual(received(s1, "broadcast").filter((x) => x[0] === "chat-only"), []);
      // disconnecting one namespace keeps the other one working
      s2.disconnect();
      assert.deepEqual(await askAll(s1, "echo", "still"), ["still"]);
      assert.ok(s1.connected);
    });

    it("dynamic namespace /dyn-7 gets the nsp event", async () => {
      const s = await connect({}, "/dyn-7");
      assert.deepEqual(await waitEvent(s, "nsp"), ["/dyn-7"]);
      const [welcome] = await waitEvent(s, "welcome");
      assert.deepEqual(welcome, { id: s.id, auth: {}, nsp: "/dyn-7" });
      assert.deepEqual(await askAll(s, "echo", "dyn"), ["dyn"]);
      await assertTransport(s, mode.final);
    });

    it("unknown namespace: connect_error Invalid namespace", async () => {
      for (const nsp of ["/nope", "/dyn-x1", "/dyn-"]) {
        const s = clients.create(server.url + nsp, mode);
        const err = await connectError(s);
        assert.equal(err.message, "Invalid namespace", `namespace ${nsp}`);
        assert.equal(s.connected, false);
      }
    });

    it("middleware rejection: connect_error with message and data", async () => {
      for (const nsp of ["", "/chat"]) {
        const s = clients.create(server.url + nsp, mode, { auth: { reject: true } });
        const err = await connectError(s);
        assert.equal(err.message, "not authorized");
        assert.deepEqual(err.data, { reason: "rejected by middleware", code: 4001 });
        assert.equal(s.connected, false);
        // the same client can then connect with acceptable credentials
        s.auth = { reject: false };
        s.connect();
        await connected(s);
        const [welcome] = await waitEvent(s, "welcome");
        assert.deepEqual(welcome, { id: s.id, auth: { reject: false }, nsp: nsp || "/" });
      }
    });

    for (const close of [false, true]) {
      it(`server-side disconnect (disconnect-me ${close}): reason io server disconnect`, async () => {
        const observer = await connect();
        // repeated: with polling, whether the DISCONNECT packet and the engine close share one poll response is
        // a matter of timing
        for (let round = 0; round < 5; round++) {
          const s = await connect();
          const id = s.id;
          const reasons = [];
          s.on("disconnect", (reason) => reasons.push(reason));
          const disconnected = once(s, "disconnect");
          s.emit("disconnect-me", close);
          assert.equal(await disconnected, "io server disconnect", `round ${round}: client-side disconnect reason`);
          assert.equal(s.connected, false);
          assert.equal(s.active, false, "no automatic reconnection after a server disconnect");
          const [leaving] = await waitEvent(observer, "leaving", { pred: (x) => x[0].id === id });
          assert.deepEqual(leaving, { id, rooms: [id], reason: "server namespace disconnect" });
          assert.deepEqual(reasons, ["io server disconnect"], "exactly one disconnect event");
        }
      });
    }

    it("disconnect-me on one of two multiplexed namespaces: false keeps the connection, true closes it all", async () => {
      const opts = { reconnection: false };
      if (mode.transports) opts.transports = mode.transports;
      // an explicit Manager: io()'s Manager cache already holds "/" and "/chat" for this server's URL
      const manager = new Manager(server.url, opts);
      const s1 = clients.track(manager.socket("/"));
      const s2 = clients.track(manager.socket("/chat"));
      await Promise.all([connected(s1), connected(s2)]);
      if (mode.upgrade) await withTimeout(s1.upgraded, WAIT_MS, "engine upgrade");
      const engine = s1.io.engine;

      let d2 = once(s2, "disconnect");
      s2.emit("disconnect-me", false);
      assert.equal(await d2, "io server disconnect");
      assert.deepEqual(await askAll(s1, "echo", "still here"), ["still here"]);
      assert.ok(s1.connected);
      assert.equal(s1.io.engine, engine, "same engine connection");

      // reconnect /chat over the same connection, then close the whole connection from /chat
      s2.connect();
      await connected(s2);
      assert.equal(s2.io.engine, engine, "/chat rejoined over the same engine connection");
      d2 = once(s2, "disconnect");
      const d1 = once(s1, "disconnect");
      s2.emit("disconnect-me", true);
      assert.equal(await d2, "io server disconnect");
      // socket.disconnect(true) disconnects every namespace of the underlying connection, each with a DISCONNECT
      assert.equal(await d1, "io server disconnect", "the other namespace of the connection is disconnected too");
    });

    it("disconnecting: another client sees the leaver's rooms", async () => {
      const observer = await connect();
      const leaver = await connect();
      const id = leaver.id;
      await ask(leaver, "join", ["lroom", "another"]); // not in sorted order
      leaver.disconnect();
      const [leaving] = await waitEvent(observer, "leaving", { pred: (x) => x[0].id === id });
      assert.deepEqual(leaving, { id, rooms: sorted([id, "lroom", "another"]), reason: "client namespace disconnect" });
      assert.ok(leaving.rooms.includes("lroom"));
      assert.ok(leaving.rooms.includes(id));
      // after the disconnect, the rooms are gone
      assert.equal(await ask(observer, "room-size", "lroom"), 0);
      assert.equal(await ask(observer, "room-size", id), 0);
    });

    if (mode.final === "websocket") {
      it("an abruptly closed connection is seen as reason transport close", async () => {
        const observer = await connect();
        const leaver = await connect();
        const id = leaver.id;
        await ask(leaver, "join", "abrupt");
        assert.equal(leaver.io.engine.transport.name, "websocket");
        leaver.io.engine.transport.ws.terminate(); // TCP connection dropped, no close packets
        const [leaving] = await waitEvent(observer, "leaving", { pred: (x) => x[0].id === id });
        assert.deepEqual(leaving, { id, rooms: sorted([id, "abrupt"]), reason: "transport close" });
      });
    }

    it("20 concurrent clients: connect, join a room, receive a room message", async () => {
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => connect({ auth: { i } })));
      assert.equal(new Set(many.map((s) => s.id)).size, 20, "distinct ids");
      await Promise.all(many.map((s) => ask(s, "join", "crowd")));
      assert.equal(await ask(many[0], "room-size", "crowd"), 20);
      many[0].emit("to-room", "crowd", "hi all", Buffer.from([42]));
      const got = await Promise.all(many.slice(1).map((s) => waitEvent(s, "room-msg")));
      for (const args of got) assert.deepEqual(args, ["hi all", Buffer.from([42])]);
      await barrier(many[0], many);
      assert.deepEqual(received(many[0], "room-msg"), []);
      for (const [i, s] of many.entries()) {
        const [welcome] = await waitEvent(s, "welcome");
        assert.deepEqual(welcome.auth, { i });
      }
    });

    it("set-data, fetch and sockets-join", async () => {
      const [a, b] = await Promise.all([connect(), connect()]);
      const dataA = { name: "alice", tags: ["x", "y"], n: 1, nested: { ok: true } };
      const dataB = [1, "two", null];
      assert.equal(await ask(a, "set-data", dataA), true);
      assert.equal(await ask(b, "set-data", dataB), true);
      await ask(a, "join", "fr");
      const byId = (list) => new Map(list.map((x) => [x.id, x]));
      let all = byId(await ask(b, "fetch"));
      assert.ok(all.has(a.id) && all.has(b.id), "fetch lists both sockets");
      assert.deepEqual({ ...all.get(a.id), rooms: sorted(all.get(a.id).rooms) }, {
        id: a.id,
        rooms: sorted([a.id, "fr"]),
        data: dataA,
      });
      assert.deepEqual({ ...all.get(b.id), rooms: sorted(all.get(b.id).rooms) }, {
        id: b.id,
        rooms: [b.id],
        data: dataB,
      });

      assert.equal(await ask(a, "sockets-join", "everyone"), true);
      assert.deepEqual(await ask(a, "rooms"), sorted([a.id, "fr", "everyone"]));
      assert.deepEqual(await ask(b, "rooms"), sorted([b.id, "everyone"]));
      all = byId(await ask(a, "fetch"));
      for (const [id, entry] of all) assert.ok(entry.rooms.includes("everyone"), `${id} joined "everyone"`);
      // data can be replaced
      assert.equal(await ask(a, "set-data", "replaced"), true);
      all = byId(await ask(a, "fetch"));
      assert.equal(all.get(a.id).data, "replaced");
      // fetch is per namespace
      const c = await connect({}, "/chat");
      assert.equal(await ask(c, "set-data", 7), true);
      const chat = byId(await ask(c, "fetch"));
      assert.ok(chat.has(c.id));
      assert.ok(!chat.has(a.id) && !chat.has(b.id), "fetch on /chat does not list / sockets");
      assert.ok(!(await ask(c, "rooms")).includes("everyone"), "sockets-join on / does not touch /chat");
    });

    it("ask-all: every socket of the namespace answers", async () => {
      const nsp = freshDyn();
      const [a, b] = await Promise.all([connect({}, nsp), connect({}, nsp)]);
      for (const s of [a, b]) s.on("question", (...x) => x.pop()(`answer-${s.id}`));
      const res = await ask(a, "ask-all", 2000);
      assert.deepEqual(Object.keys(res), ["ok"]);
      assert.deepEqual(sorted(res.ok), sorted([`answer-${a.id}`, `answer-${b.id}`]));
      // one socket does not answer: timeout with the answers received
      const c = await connect({}, nsp);
      const res2 = await ask(c, "ask-all", 300);
      assert.equal(res2.error, "timeout");
      assert.deepEqual(sorted(res2.answers), sorted([`answer-${a.id}`, `answer-${b.id}`]));
    });

    it("disconnect-all disconnects every socket of the namespace only", async () => {
      const [a, b] = await Promise.all([connect(), connect()]);
      const c = await connect({}, "/chat");
      const disconnects = [a, b].map((s) => once(s, "disconnect"));
      assert.deepEqual(await askAll(a, "disconnect-all"), [true]);
      assert.deepEqual(await Promise.all(disconnects), ["io server disconnect", "io server disconnect"]);
      assert.equal(a.connected, false);
      assert.equal(b.connected, false);
      assert.ok(c.connected);
      assert.deepEqual(await askAll(c, "echo", "chat survives"), ["chat survives"]);
    });

    it("events emitted before connect and during the upgrade arrive in order", async () => {
      const s = clients.create(server.url, mode);
      let seq = 0;
      const burst = (n) => {
        for (let i = 0; i < n; i++, seq++) s.emit("echo", seq, { seq });
      };
      burst(100); // right after io(): buffered until connected
      let duringUpgrade = false;
      if (mode.upgrade) {
        s.io.engine.once("upgrading", () => {
          duringUpgrade = true;
          burst(100); // during the upgrade (polling paused, websocket probed)
        });
      }
      await connected(s);
      burst(100); // right after connect
      if (mode.upgrade) {
        await withTimeout(s.upgraded, WAIT_MS, "engine upgrade");
        assert.ok(duringUpgrade, "a burst was emitted during the upgrade");
        burst(100);
      }
      const total = seq;
      const echoes = await waitEvents(s, "echo", total, 10_000);
      assert.equal(echoes.length, total);
      assert.deepEqual(
        echoes.map((x) => x[0]),
        range(0, total),
      );
      assert.ok(echoes.every((x) => x[1].seq === x[0]));
      await assertTransport(s, mode.final);
    });

    it("300 kB string and Buffer payloads are echoed intact", async () => {
      const s = await connect();
      const unit = "abcdefghijklmnopqrstuvwxyz0123456789-é✓😀\n\"\\";
      const str = unit.repeat(Math.ceil((300 * 1024) / unit.length)).slice(0, 300 * 1024);
      const buf = randomBytes(300 * 1024);
      s.emit("echo", str);
      const [gotStr] = await waitEvent(s, "echo", { ms: 10_000 });
      assert.equal(typeof gotStr, "string");
      assert.equal(gotStr.length, str.length);
      assert.ok(gotStr === str, "300 kB string echoed intact");
      s.emit("echo", buf);
      const [gotBuf] = await waitEvent(s, "echo", { from: s.log.length, ms: 10_000 });
      assert.ok(Buffer.isBuffer(gotBuf), "Buffer echoed as a Buffer");
      assert.equal(gotBuf.length, buf.length);
      assert.ok(gotBuf.equals(buf), "300 kB Buffer echoed intact");
      // both at once, via ack
      const res = await askAll(s, "ack", { str, buf });
      assert.ok(res[0].str === str && Buffer.isBuffer(res[0].buf) && res[0].buf.equals(buf));
      await assertTransport(s, mode.final);
    });
  });
}
