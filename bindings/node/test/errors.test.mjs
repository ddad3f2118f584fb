// Bad input throws or rejects with Errors carrying stable codes, and never crashes the process.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Server, FerrioError, errorCodes } from "../index.mjs";
import { start, next, sleep } from "./helpers.mjs";

const code = (expected) => (err) => {
  assert.ok(err instanceof Error, "an Error");
  assert.equal(err.code, expected);
  return true;
};

test("every error code of the engine maps to a stable err.code (the table comes from Rust)", () => {
  assert.deepEqual(
    errorCodes.map((entry) => entry.value),
    errorCodes.map((_, i) => i),
    "the codes are numbered 0, 1, 2, … in order",
  );
  const types = readFileSync(new URL("../index.d.ts", import.meta.url), "utf8");
  for (const entry of errorCodes) {
    if (entry.name === "Ok") {
      assert.equal(entry.code, undefined, "Ok is no error");
      continue;
    }
    assert.match(entry.code ?? "", /^ERR_FERRIO_[A-Z0-9_]+$/, `error code ${entry.value} (${entry.name}) has no err.code`);
    for (const code of [entry.code, ...entry.refined]) {
      assert.ok(types.includes(`"${code}"`), `${code} is missing from FerrioErrorCode in index.d.ts`);
    }
  }
  // The codes users match on are kept.
  const byName = Object.fromEntries(errorCodes.map((entry) => [entry.name, entry]));
  assert.equal(byName.Timeout.code, "ERR_FERRIO_ACK_TIMEOUT");
  assert.equal(byName.Disconnected.code, "ERR_FERRIO_DISCONNECTED");
  assert.equal(byName.ReservedEvent.code, "ERR_FERRIO_RESERVED_EVENT");
  assert.equal(byName.AdapterError.code, "ERR_FERRIO_ADAPTER");
  assert.equal(byName.ServerGone.code, "ERR_FERRIO_SERVER_CLOSED");
  assert.equal(byName.InvalidArgument.code, "ERR_FERRIO_INVALID_ARG");
  assert.equal(byName.InvalidJson.code, "ERR_FERRIO_INVALID_ARGS");
  assert.deepEqual(byName.LimitExceeded.refined, ["ERR_FERRIO_TOO_DEEP", "ERR_FERRIO_TOO_MANY_ACKS"]);
  console.log(`${errorCodes.length - 1} error codes, each a stable err.code`);
});

test("an option out of range throws ERR_FERRIO_INVALID_ARG from the constructor, naming it", () => {
  // The engine checks every option (ServerBuilder::build); the binding only converts and renames.
  const cases = [
    [{ maxHttpBufferSize: 0 }, "maxHttpBufferSize must be at least 1"],
    [{ pingTimeout: 0 }, "pingTimeout must be positive"],
    [{ pingInterval: -5 }, "pingInterval must be a non-negative number of milliseconds"],
    [{ connectTimeout: 0.5 }, "connectTimeout must be at least 1 ms"],
    [{ transports: [] }, "transports must allow polling, websocket or both"],
    [{ maxJsonDepth: 0 }, "maxJsonDepth must be at least 1"],
    [{ maxJsonDepth: 5000 }, "maxJsonDepth must be at most 1000"],
    [{ maxQueuedPackets: -1 }, "maxQueuedPackets must be a non-negative whole number"],
    [{ maxHeaderSize: 100 }, "maxHeaderSize must be at least 8192"],
    [{ headersTimeout: 0 }, "headersTimeout must be positive"],
    [{ rateLimit: { eventsPerSecond: 0 } }, "rateLimit needs events per second > 0 (finite) and a burst of at least 1"],
    [{ cors: { origin: "https://example.com/" } }, 'cors.origin origin "https://example.com/" is not an origin'],
    [{ path: "/socket io" }, "path must be a URL path without query, fragment, spaces or control characters"],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => new Server(options),
      (err) => {
        assert.ok(err instanceof FerrioError, "a FerrioError");
        assert.equal(err.code, "ERR_FERRIO_INVALID_ARG");
        assert.ok(err.message.startsWith(message), `${JSON.stringify(options)}: ${err.message}`);
        return true;
      },
    );
  }
  console.log(`${cases.length} options out of range, each refused by the constructor with its name`);
});

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
