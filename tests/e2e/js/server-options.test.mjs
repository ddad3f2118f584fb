// The e2e server's command-line options (tests/e2e/SERVER.md): --max-payload, --transports, --connect-timeout.
import { describe, test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Clients, RawWs, startServer, withTimeout, connected, connectError, ask } from "./helpers.mjs";

const get = (url) => fetch(url, { signal: AbortSignal.timeout(5000) });

/** Runs a describe block against its own server started with `args`. */
function withServer(name, args, body) {
  describe(name, { timeout: 20_000 }, () => {
    const ctx = { server: null, clients: new Clients(), raws: new Set() };
    ctx.raw = () => {
      const r = new RawWs(ctx.server.url);
      ctx.raws.add(r);
      return r;
    };
    before(async () => {
      ctx.server = await startServer(args);
    });
    afterEach(() => {
      for (const r of ctx.raws) r.close();
      ctx.raws.clear();
      ctx.clients.closeAll();
    });
    after(async () => {
      if (ctx.server) await ctx.server.stop();
    });
    body(ctx);
  });
}

withServer("--max-payload 5000", ["--max-payload", "5000"], (ctx) => {
  test("maxPayload is advertised in the websocket open packet", async () => {
    const r = ctx.raw();
    const open = await r.frame(() => true, { what: "open packet" });
    assert.equal(JSON.parse(open.data.slice(1)).maxPayload, 5000);
  });

  test("the polling open packet advertises maxPayload and the websocket upgrade", async () => {
    const res = await get(`${ctx.server.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.equal(body[0], "0", body);
    const hs = JSON.parse(body.slice(1));
    assert.deepEqual(hs.upgrades, ["websocket"]);
    assert.equal(hs.maxPayload, 5000);
    assert.equal(typeof hs.sid, "string");
  });

  test("a websocket message bigger than maxPayload closes the connection", async () => {
    const r = ctx.raw();
    await r.frame(() => true, { what: "open packet" });
    r.send("40");
    await r.frame((f) => f.data.startsWith("40"), { what: "CONNECT ack" });
    r.send(`42["echo","${"x".repeat(10_000)}"]`);
    await withTimeout(r.closed, 3000, "server closing an over-sized connection");
    assert.ok(!r.frames.some((f) => f.data.startsWith('42["echo"')), "the over-sized event was not echoed");
  });

  test("messages under maxPayload are fine", async () => {
    const s = await ctx.clients.connect(ctx.server.url, { transports: ["websocket"] });
    assert.deepEqual(await s.timeout(3000).emitWithAck("echo", "y".repeat(3000)), "y".repeat(3000));
  });
});

withServer("--transports polling", ["--transports", "polling"], (ctx) => {
  test("no upgrade is advertised and the default client stays on polling", async () => {
    const res = await get(`${ctx.server.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.deepEqual(JSON.parse(body.slice(1)).upgrades, []);
    const s = await ctx.clients.connect(ctx.server.url, null);
    assert.equal(await ask(s, "transport"), "polling");
    assert.equal(s.io.engine.transport.name, "polling");
  });

  test("a websocket connection is refused", async () => {
    const r = ctx.raw();
    await withTimeout(r.closed, 3000, "refused websocket");
    assert.equal(r.frames.length, 0, "no open packet");
    const s = ctx.clients.create(ctx.server.url, { transports: ["websocket"] });
    await connectError(s);
  });
});

withServer("--transports websocket", ["--transports", "websocket"], (ctx) => {
  test("a polling handshake is refused with 400", async () => {
    const res = await get(`${ctx.server.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 400);
    await res.arrayBuffer();
  });

  test("a websocket-only client connects", async () => {
    const s = await ctx.clients.connect(ctx.server.url, { transports: ["websocket"] });
    assert.equal(await ask(s, "transport"), "websocket");
  });
});

withServer("--connect-timeout 300", ["--connect-timeout", "300"], (ctx) => {
  test("an engine connection that joins no namespace is closed after the connect timeout", async () => {
    const r = ctx.raw();
    const open = await r.frame(() => true, { what: "open packet" });
    await withTimeout(r.closed, 3000, "server closing the idle connection");
    const elapsed = r.closedAt - open.t;
    assert.ok(elapsed >= 200, `closed after ${elapsed} ms, expected about 300`);
  });

  test("a connection that joins a namespace in time is kept", async () => {
    const s = ctx.clients.create(ctx.server.url, { transports: ["websocket"] });
    await connected(s);
    assert.deepEqual(await s.timeout(3000).emitWithAck("echo", "kept"), "kept");
    // still connected well after the connect timeout: wait for a round trip made later than 300 ms
    const started = Date.now();
    while (Date.now() - started < 600) {
      assert.deepEqual(await s.timeout(3000).emitWithAck("echo", "tick"), "tick");
    }
    assert.ok(s.connected);
  });
});

describe("process lifecycle", { timeout: 20_000 }, () => {
  const servers = [];
  after(async () => {
    for (const s of servers) await s.stop();
  });

  test("prints LISTENING <port> and accepts connections on 127.0.0.1", async () => {
    const server = await startServer();
    servers.push(server);
    assert.ok(server.port > 0 && server.port < 65536);
    const res = await get(`${server.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });

  test("--port N is honoured", async () => {
    // find a free port, release it, and ask the server to use it
    const { createServer } = await import("node:net");
    const probe = createServer();
    await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = probe.address().port;
    await new Promise((resolve) => probe.close(resolve));
    const server = await startServer(["--port", String(port)]);
    servers.push(server);
    assert.equal(server.port, port);
  });

  test("exits when SIGTERM is received", async () => {
    const server = await startServer();
    servers.push(server);
    server.child.kill("SIGTERM");
    const { code, signal } = await withTimeout(server.exit, 5000, "exit after SIGTERM");
    assert.ok(code === 0 || signal === "SIGTERM", `exit code ${code}, signal ${signal}`);
  });

  test("exits when SIGINT is received", async () => {
    const server = await startServer();
    servers.push(server);
    server.child.kill("SIGINT");
    const { code, signal } = await withTimeout(server.exit, 5000, "exit after SIGINT");
    assert.ok(code === 0 || signal === "SIGINT", `exit code ${code}, signal ${signal}`);
  });
});
