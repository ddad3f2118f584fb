// The binding's socket.io API beyond what the shared e2e suite (tests/e2e/js) covers.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start, next, within, sleep, WAIT_MS } from "./helpers.mjs";

describe("socket.io API", { timeout: 60_000 }, () => {
  let t;
  before(async () => {
    t = await start();
  });
  after(async () => {
    await t.close();
  });

  const connection = () => next(t.io, "connection").then(([s]) => s);

  test("socket.once runs once; socket.off removes a listener", async () => {
    const serverSide = connection();
    const client = await t.client();
    const socket = await serverSide;
    const onceCalls = [];
    const onCalls = [];
    const handler = (v) => onCalls.push(v);
    socket.once("ping", (v) => onceCalls.push(v));
    socket.on("ping", handler);
    client.emit("ping", 1);
    client.emit("ping", 2);
    await within(
      (async () => {
        while (onCalls.length < 2) await sleep(10);
      })(),
    );
    socket.off("ping", handler);
    client.emit("ping", 3);
    const [answer] = await new Promise((resolve) => {
      socket.on("sync", (cb) => cb("synced"));
      client.emit("sync", (...a) => resolve(a));
    });
    assert.equal(answer, "synced");
    assert.deepEqual(onceCalls, [1]);
    assert.deepEqual(onCalls, [1, 2]);
    client.disconnect();
  });

  test("onAny / prependAny / offAny, onAnyOutgoing / offAnyOutgoing", async () => {
    const serverSide = connection();
    const client = await t.client();
    const socket = await serverSide;
    const any = [];
    const first = (ev) => any.push(`first:${ev}`);
    const second = (ev, ...args) => any.push(`any:${ev}:${JSON.stringify(args)}`);
    socket.onAny(second);
    socket.prependAny(first);
    assert.deepEqual(socket.listenersAny(), [first, second]);
    const outgoing = [];
    const out = (ev, ...args) => outgoing.push([ev, ...args]);
    socket.onAnyOutgoing(out);
    socket.on("a", () => socket.emit("reply", "x", 1));
    const reply = next(client, "reply");
    client.emit("a", 42);
    assert.deepEqual(await reply, ["x", 1]);
    assert.deepEqual(any, ["first:a", 'any:a:[42]']);
    assert.deepEqual(outgoing, [["reply", "x", 1]]);

    socket.offAny(first);
    socket.offAnyOutgoing(out);
    const reply2 = next(client, "reply");
    client.emit("a", 43);
    await reply2;
    assert.deepEqual(any, ["first:a", "any:a:[42]", "any:a:[43]"]);
    assert.equal(outgoing.length, 1);
    socket.offAny();
    assert.deepEqual(socket.listenersAny(), []);
    client.disconnect();
  });

  test("socket.use: rewrite arguments, or refuse with next(err) (the socket emits 'error')", async () => {
    const serverSide = connection();
    const client = await t.client();
    const socket = await serverSide;
    socket.use(([event, ...args], nextFn) => {
      if (event === "forbidden") return nextFn(new Error("not allowed"));
      nextFn();
    });
    socket.use((event, nextFn) => {
      if (event[0] === "double") event[1] = event[1] * 2;
      nextFn();
    });
    const seen = [];
    socket.on("forbidden", () => seen.push("forbidden"));
    socket.on("double", (v, cb) => cb(v));
    const error = next(socket, "error");
    client.emit("forbidden");
    const [err] = await error;
    assert.equal(err.message, "not allowed");
    const doubled = await client.timeout(2000).emitWithAck("double", 21);
    assert.equal(doubled, 42);
    assert.deepEqual(seen, []);
    client.disconnect();
  });

  test("adapter.rooms and adapter.sids are Maps of Sets; adapter events", async () => {
    const nsp = t.io.of("/adapter-test");
    const events = [];
    for (const ev of ["create-room", "delete-room", "join-room", "leave-room"]) {
      nsp.adapter.on(ev, (room, id) => events.push([ev, room, id]));
    }
    const serverSide = next(nsp, "connection").then(([s]) => s);
    const client = await t.client("/adapter-test");
    const socket = await serverSide;
    socket.join(["red", "blue"]);
    const rooms = nsp.adapter.rooms;
    assert.ok(rooms instanceof Map);
    assert.equal(rooms.get("red").size, 1);
    assert.ok(rooms.get("red").has(socket.id));
    assert.ok(rooms.get(socket.id).has(socket.id), "the socket's own room is listed");
    const sids = nsp.adapter.sids;
    assert.ok(sids instanceof Map);
    assert.deepEqual([...sids.get(socket.id)].sort(), [socket.id, "blue", "red"].sort());
    assert.deepEqual([...socket.rooms].sort(), [socket.id, "blue", "red"].sort());
    socket.leave("red");
    assert.equal(nsp.adapter.rooms.get("red"), undefined);
    await within(
      (async () => {
        while (!events.some(([ev, room]) => ev === "delete-room" && room === "red")) await sleep(10);
      })(),
      WAIT_MS,
      "delete-room",
    );
    assert.deepEqual(
      events.filter(([, room]) => room === "red"),
      [
        ["create-room", "red", undefined],
        ["join-room", "red", socket.id],
        ["leave-room", "red", socket.id],
        ["delete-room", "red", undefined],
      ],
    );
    client.disconnect();
  });

  test("binary arguments both ways, nested, with acks", async () => {
    const serverSide = connection();
    const client = await t.client();
    const socket = await serverSide;
    socket.on("bin", (msg, cb) => {
      assert.ok(Buffer.isBuffer(msg.data));
      cb({ back: Buffer.concat([msg.data, Buffer.from([9])]), list: [new Uint8Array([7])] });
    });
    const answer = await client.timeout(2000).emitWithAck("bin", { data: Buffer.from([1, 2, 3]) });
    assert.deepEqual([...new Uint8Array(answer.back)], [1, 2, 3, 9]);
    assert.deepEqual([...new Uint8Array(answer.list[0])], [7]);
    client.disconnect();
  });

  test("server-side acks: emit with a callback, timeout().emit, emitWithAck, a timeout", async () => {
    const serverSide = connection();
    const client = await t.client();
    const socket = await serverSide;
    client.on("q", (a, cb) => cb(a + 1, "two"));
    client.on("silent", () => {});
    const plain = await new Promise((resolve) => socket.emit("q", 1, (...args) => resolve(args)));
    assert.deepEqual(plain, [2, "two"]);
    const timed = await new Promise((resolve) => socket.timeout(2000).emit("q", 5, (...args) => resolve(args)));
    assert.deepEqual(timed, [null, 6, "two"]);
    assert.equal(await socket.emitWithAck("q", 10), 11);
    await assert.rejects(socket.timeout(100).emitWithAck("silent"), (err) => {
      assert.equal(err.code, "ERR_FERRIO_ACK_TIMEOUT");
      assert.equal(err.message, "operation has timed out");
      return true;
    });
    client.disconnect();
  });

  test("io.of(function) accepts the names the function accepts", async () => {
    const parent = t.io.of((name, auth, nextFn) => nextFn(null, name.startsWith("/fn-")));
    const seen = [];
    parent.on("connection", (s) => seen.push(s.nsp.name));
    const ok = await t.client("/fn-1");
    assert.ok(ok.connected);
    const bad = await t.client("/nope", { autoConnect: true }).catch((err) => err);
    assert.equal(bad.message, "Invalid namespace");
    assert.deepEqual(seen, ["/fn-1"]);
    ok.disconnect();
  });

  test("socket.data, socket.handshake, fetchSockets with remote-socket operations", async () => {
    t.io.of("/data").use((socket, nextFn) => {
      socket.data.user = socket.handshake.auth.user;
      nextFn();
    });
    const serverSide = next(t.io.of("/data"), "connection").then(([s]) => s);
    const client = await t.client("/data", { auth: { user: "ann" }, query: { q: "1" } });
    const socket = await serverSide;
    assert.equal(socket.data.user, "ann");
    assert.equal(socket.handshake.query.q, "1");
    assert.equal(socket.handshake.address, "127.0.0.1");
    const [remote] = await t.io.of("/data").fetchSockets();
    assert.equal(remote.id, socket.id);
    assert.equal(remote.data.user, "ann");
    assert.ok(remote.rooms.has(socket.id));
    const got = next(client, "hello");
    remote.emit("hello", "from afar");
    assert.deepEqual(await got, ["from afar"]);
    remote.join("r1");
    assert.ok(socket.rooms.has("r1"));
    const gone = next(client, "disconnect");
    remote.disconnect();
    assert.equal((await gone)[0], "io server disconnect");
  });

  test("disconnecting sees the rooms; disconnect gives the reason; the socket is released", async () => {
    const serverSide = connection();
    const client = await t.client();
    const socket = await serverSide;
    socket.join("kept");
    // read inside the listener: the rooms are visible during "disconnecting" only
    const disconnecting = within(
      new Promise((resolve) => socket.on("disconnecting", (reason) => resolve({ reason, rooms: [...socket.rooms] }))),
    );
    const disconnected = next(socket, "disconnect");
    client.disconnect();
    const d = await disconnecting;
    assert.equal(d.reason, "client namespace disconnect");
    assert.deepEqual(d.rooms.sort(), [socket.id, "kept"].sort());
    assert.deepEqual(await disconnected, ["client namespace disconnect"]);
    assert.equal(socket.connected, false);
    assert.equal(socket.rooms.size, 0);
    assert.equal(t.io.of("/").sockets.has(socket.id), false);
  });

  test("volatile and local flags, io.to().emit, except, socketsJoin/socketsLeave", async () => {
    const a = await t.client();
    const b = await t.client();
    await sleep(50);
    const [sa, sb] = [...t.io.of("/").sockets.values()].slice(-2);
    t.io.socketsJoin("group");
    assert.ok(sa.rooms.has("group") && sb.rooms.has("group"));
    const gotA = next(a, "g");
    const gotB = next(b, "g");
    t.io.to("group").except(sb.id).emit("g", "x");
    assert.deepEqual(await gotA, ["x"]);
    const onlyB = await Promise.race([gotB.then(() => "b got it"), sleep(200).then(() => "b skipped")]);
    assert.equal(onlyB, "b skipped");
    t.io.local.volatile.emit("v", 1);
    await next(a, "v");
    t.io.socketsLeave("group");
    assert.equal(t.io.of("/").adapter.rooms.get("group"), undefined);
    a.disconnect();
    b.disconnect();
  });
});
