// The engine's limits, set from `new Server({...})`, take effect: each test sets one low and trips it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { errorCodes } from "../index.mjs";
import { start, next, within } from "./helpers.mjs";

async function handshake(url) {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
  return { status: res.status, body: await res.text() };
}

test("maxConnections: the third handshake is answered 503 with a JSON body", async () => {
  const t = await start({ maxConnections: 2 });
  try {
    await t.client();
    await t.client();
    const refused = await handshake(t.url);
    assert.equal(refused.status, 503);
    assert.deepEqual(JSON.parse(refused.body), { code: 3, message: "Too many connections" });
    const third = t.client();
    await assert.rejects(third);
  } finally {
    await t.close();
  }
});

test("maxConnectionsPerIp: a second connection from 127.0.0.1 is refused", async () => {
  const t = await start({ maxConnectionsPerIp: 1 });
  try {
    await t.client();
    const refused = await handshake(t.url);
    assert.equal(refused.status, 503);
    assert.equal(JSON.parse(refused.body).message, "Too many connections from this address");
  } finally {
    await t.close();
  }
});

test("maxNamespacesPerConnection: a CONNECT beyond it gets CONNECT_ERROR", async () => {
  const t = await start({ maxNamespacesPerConnection: 1 });
  t.io.of("/other");
  try {
    const main = await t.client();
    const other = main.io.socket("/other");
    const [err] = await next(other, "connect_error");
    assert.equal(err.message, "Too many namespaces");
    other.close();
  } finally {
    await t.close();
  }
});

test("rateLimit: a flooding socket is disconnected with 'rate limit exceeded'", async () => {
  const t = await start({ rateLimit: { eventsPerSecond: 1, burst: 3 } });
  try {
    const serverSide = next(t.io, "connection");
    const client = await t.client();
    const [socket] = await serverSide;
    const reason = next(socket, "disconnect");
    for (let i = 0; i < 20; i++) client.emit("flood", i);
    assert.equal((await reason)[0], "rate limit exceeded");
  } finally {
    await t.close();
  }
});

test("maxPendingAcks: an emit with ack beyond it rejects with ERR_FERRIO_TOO_MANY_ACKS", async () => {
  const t = await start({ maxPendingAcks: 1 });
  try {
    const serverSide = next(t.io, "connection");
    await t.client();
    const [socket] = await serverSide;
    const first = socket.timeout(500).emitWithAck("never-answered");
    await assert.rejects(socket.timeout(500).emitWithAck("one-too-many"), (err) => err.code === "ERR_FERRIO_TOO_MANY_ACKS");
    await assert.rejects(first, (err) => err.code === "ERR_FERRIO_ACK_TIMEOUT");
  } finally {
    await t.close();
  }
});

test("maxJsonDepth: an emit nesting deeper throws ERR_FERRIO_TOO_DEEP; a deep event closes the client", async () => {
  const t = await start({ maxJsonDepth: 8 });
  try {
    const serverSide = next(t.io, "connection");
    const client = await t.client();
    const [socket] = await serverSide;
    let deep = 1;
    for (let i = 0; i < 10; i++) deep = [deep];
    assert.throws(() => socket.emit("deep", deep), (err) => err.code === "ERR_FERRIO_TOO_DEEP");
    socket.emit("shallow", [[1]]); // fine
    const reason = next(socket, "disconnect");
    client.emit("deep", deep);
    assert.equal((await reason)[0], "parse error");
  } finally {
    await t.close();
  }
});

function nested(depth) {
  let value = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

test("one JSON depth cap: the facade's conversion keeps to maxJsonDepth, with the engine's error code", async () => {
  const t = await start({ maxJsonDepth: 1000 });
  try {
    const serverSide = next(t.io, "connection");
    const client = await t.client();
    const [socket] = await serverSide;
    // Up to the limit (the arguments' array is one level), both ways: no cap of the facade's own below it.
    const echoed = next(client, "deep");
    socket.emit("deep", nested(999));
    assert.deepEqual((await echoed)[0], nested(999));
    const received = next(socket, "deep");
    client.emit("deep", nested(998));
    assert.deepEqual((await received)[0], nested(998));
    // One level more: refused by the facade with the code the engine's EmitError::TooDeep has.
    const tooDeep = errorCodes.find((entry) => entry.name === "LimitExceeded").refined[0];
    assert.equal(tooDeep, "ERR_FERRIO_TOO_DEEP");
    assert.throws(() => socket.emit("deep", nested(1000)), (err) => err.code === tooDeep);
    assert.throws(() => t.io.emit("deep", { a: nested(999) }), (err) => err.code === tooDeep);
    assert.throws(() => socket.emit("deep", nested(1000), Buffer.from("x")), (err) => err.code === tooDeep);
    // A circular value is still told apart: it has no JSON form at all.
    const circular = [];
    circular.push(circular);
    assert.throws(() => socket.emit("x", circular), (err) => err.code === "ERR_FERRIO_INVALID_ARGS");
  } finally {
    await t.close();
  }
  // Where only the engine sees the excess (a Buffer's placeholder is one more level), the same code.
  const small = await start({ maxJsonDepth: 2 });
  try {
    const serverSide = next(small.io, "connection");
    await small.client();
    const [socket] = await serverSide;
    socket.emit("fine", [1]);
    assert.throws(() => socket.emit("bin", [Buffer.from("x")]), (err) => err.code === "ERR_FERRIO_TOO_DEEP");
  } finally {
    await small.close();
  }
});

test("maxHttpBufferSize and maxAttachments are enforced", async () => {
  const t = await start({ maxHttpBufferSize: 1000, maxAttachments: 1 });
  try {
    const serverSide = next(t.io, "connection");
    const client = await t.client();
    const [socket] = await serverSide;
    const reason = next(socket, "disconnect");
    client.emit("two", Buffer.from([1]), Buffer.from([2]));
    assert.equal((await reason)[0], "parse error");
    const big = await t.client();
    const bigReason = next(big, "disconnect");
    big.emit("big", "x".repeat(5000));
    assert.match((await bigReason)[0], /^transport (close|error)$/);
  } finally {
    await t.close();
  }
});

test("headersTimeout and maxHeadersCount are enforced", async () => {
  const t = await start({ headersTimeout: 300, maxHeadersCount: 5 });
  try {
    const headers = {};
    for (let i = 0; i < 10; i++) headers[`x-h${i}`] = "v";
    const res = await fetch(`${t.url}/socket.io/?EIO=4&transport=polling`, { headers });
    assert.equal(res.status, 431);
    const net = await import("node:net");
    const closed = await within(
      new Promise((resolve) => {
        const s = net.connect(t.port, "127.0.0.1", () => s.write("GET /socket.io/ HTTP/1.1\r\nHost: x\r\n"));
        s.on("close", () => resolve(true));
        s.on("error", () => {});
      }),
      3000,
      "the slow request to be cut off",
    );
    assert.ok(closed);
  } finally {
    await t.close();
  }
});
