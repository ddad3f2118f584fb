// Bad input throws or rejects with Errors carrying stable codes, and never crashes the process.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Server, FerrioError } from "../index.mjs";
import { start, next, sleep } from "./helpers.mjs";

const code = (expected) => (err) => {
  assert.ok(err instanceof Error, "an Error");
  assert.equal(err.code, expected);
  return true;
};

describe("errors", { timeout: 60_000 }, () => {
  let t;
  let socket;
  let client;
  before(async () => {
    t = await start();
    const serverSide = next(t.io, "connection");
    client = await t.client();
    [socket] = await serverSide;
  });
  after(async () => {
    await t.close();
  });

  test("circular arguments: ERR_FERRIO_INVALID_ARGS, from every emit path", () => {
    const circular = { a: 1 };
    circular.self = circular;
    assert.throws(() => socket.emit("x", circular), code("ERR_FERRIO_INVALID_ARGS"));
    assert.throws(() => t.io.emit("x", circular), code("ERR_FERRIO_INVALID_ARGS"));
    assert.throws(() => t.io.to("room").emit("x", [circular]), code("ERR_FERRIO_INVALID_ARGS"));
    assert.throws(() => socket.broadcast.emit("x", { deep: circular }), code("ERR_FERRIO_INVALID_ARGS"));
  });

  test("non-serialisable arguments (BigInt): ERR_FERRIO_INVALID_ARGS", () => {
    assert.throws(() => socket.emit("x", 10n), code("ERR_FERRIO_INVALID_ARGS"));
    assert.throws(() => t.io.emit("x", { n: 1n }), code("ERR_FERRIO_INVALID_ARGS"));
  });

  test("an ack answered with bad arguments throws in the handler, the client just gets no answer", async () => {
    const thrown = [];
    socket.once("ask", (cb) => {
      try {
        cb(1n);
      } catch (err) {
        thrown.push(err.code);
      }
    });
    await assert.rejects(client.timeout(300).emitWithAck("ask"), /timed out/);
    assert.deepEqual(thrown, ["ERR_FERRIO_INVALID_ARGS"]);
  });

  test("reserved event names: ERR_FERRIO_RESERVED_EVENT", () => {
    assert.throws(() => socket.emit("disconnect"), code("ERR_FERRIO_RESERVED_EVENT"));
    assert.throws(() => t.io.emit("connect"), code("ERR_FERRIO_RESERVED_EVENT"));
  });

  test("ack timeouts: ERR_FERRIO_ACK_TIMEOUT (socket and broadcast)", async () => {
    await assert.rejects(socket.timeout(100).emitWithAck("nobody-answers"), code("ERR_FERRIO_ACK_TIMEOUT"));
    await assert.rejects(t.io.timeout(100).emitWithAck("nobody-answers"), code("ERR_FERRIO_ACK_TIMEOUT"));
  });

  test("a throwing handler is reported as a warning; the process and the server go on", async () => {
    const warnings = [];
    const onWarning = (w) => warnings.push(w);
    process.on("warning", onWarning);
    socket.once("boom", () => {
      throw new Error("handler failure");
    });
    client.emit("boom");
    socket.once("still", (cb) => cb("alive"));
    assert.equal(await client.timeout(2000).emitWithAck("still"), "alive");
    await sleep(20);
    process.off("warning", onWarning);
    assert.ok(warnings.some((w) => w.message === "handler failure"));
  });

  test("a client event named 'error' without a listener does not throw", async () => {
    client.emit("error", "from the client");
    socket.once("after", (cb) => cb("ok"));
    assert.equal(await client.timeout(2000).emitWithAck("after"), "ok");
  });

  test("listening on a port in use: ready() rejects with ERR_FERRIO_LISTEN", async () => {
    const io = new Server();
    io.listen(t.port, "127.0.0.1");
    await assert.rejects(io.ready(), code("ERR_FERRIO_LISTEN"));
    await io.close();
  });

  test("after close(): emits throw ERR_FERRIO_SERVER_CLOSED, acks reject, listen throws", async () => {
    const other = await start();
    const serverSide = next(other.io, "connection");
    await other.client();
    const [s] = await serverSide;
    await other.close();
    assert.throws(() => s.emit("x", 1), code("ERR_FERRIO_SERVER_CLOSED"));
    assert.throws(() => other.io.emit("x", 1), code("ERR_FERRIO_SERVER_CLOSED"));
    assert.throws(() => other.io.to("r").emit("x"), code("ERR_FERRIO_SERVER_CLOSED"));
    assert.throws(() => other.io.listen(0, "127.0.0.1"), code("ERR_FERRIO_SERVER_CLOSED"));
    await assert.rejects(other.io.emitWithAck("x"), code("ERR_FERRIO_SERVER_CLOSED"));
    assert.ok(new FerrioError("X", "y") instanceof Error);
  });
});
