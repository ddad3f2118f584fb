// Engine.IO v4 heartbeat (and a few raw-protocol checks) against the e2e server started with
// `--ping-interval 300 --ping-timeout 200`.
import { describe, test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { MODES, Clients, RawWs, startServer, once, withTimeout, ask, askAll } from "./helpers.mjs";

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;

const isPing = (f) => f.data === "2";

describe("heartbeat", { timeout: 30_000 }, () => {
  let server;
  const raws = new Set();
  const clients = new Clients();
  const raw = () => {
    const r = new RawWs(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`);
    raws.add(r);
    return r;
  };

  before(async () => {
    server = await startServer(["--ping-interval", String(PING_INTERVAL), "--ping-timeout", String(PING_TIMEOUT)]);
  });
  afterEach(() => {
    for (const r of raws) r.close();
    raws.clear();
    clients.closeAll();
  });
  after(async () => {
    if (server) await server.stop();
  });

  test("open packet over websocket carries sid, upgrades, pingInterval, pingTimeout, maxPayload", async () => {
    const r = raw();
    const open = await r.frame(() => true, { what: "open packet" });
    assert.equal(open.data[0], "0", `first frame is an open packet: ${open.data}`);
    const hs = JSON.parse(open.data.slice(1));
    assert.equal(typeof hs.sid, "string");
    assert.ok(hs.sid.length > 0);
    assert.deepEqual(hs.upgrades, [], "nothing to upgrade to from websocket");
    assert.equal(hs.pingInterval, PING_INTERVAL);
    assert.equal(hs.pingTimeout, PING_TIMEOUT);
    assert.equal(typeof hs.maxPayload, "number");
    assert.ok(hs.maxPayload > 0);
  });

  test("a client that never answers pings is closed after pingInterval + pingTimeout", async () => {
    const r = raw();
    const open = await r.frame(() => true, { what: "open packet" });
    assert.equal(open.data[0], "0");
    const sid = JSON.parse(open.data.slice(1)).sid;
    r.send("40");
    const connect = await r.frame((f) => f.data.startsWith("40"), { what: "CONNECT ack" });
    const connectSid = JSON.parse(connect.data.slice(2)).sid;
    assert.equal(typeof connectSid, "string");
    assert.notEqual(connectSid, sid, "the socket id is not the engine id");
    const closed = await withTimeout(r.closed, PING_INTERVAL + PING_TIMEOUT + 2000, "server closing the connection");
    const ping = r.frames.find(isPing);
    assert.ok(ping, `the server sent a ping "2" before closing; frames: ${JSON.stringify(r.frames.map((f) => f.data))}`);
    const sinceOpen = r.closedAt - open.t;
    const sincePing = r.closedAt - ping.t;
    assert.ok(ping.t - open.t >= PING_INTERVAL - 100, `first ping after ${ping.t - open.t} ms (pingInterval ${PING_INTERVAL})`);
    assert.ok(sincePing >= PING_TIMEOUT - 100, `closed ${sincePing} ms after the ping (pingTimeout ${PING_TIMEOUT})`);
    assert.ok(
      sinceOpen <= PING_INTERVAL + PING_TIMEOUT + 1000,
      `closed ${sinceOpen} ms after open, expected about ${PING_INTERVAL + PING_TIMEOUT}`,
    );
    assert.equal(typeof closed.code, "number");
  });

  test("a raw client that answers pings stays connected over 3 ping intervals", async () => {
    const r = raw();
    await r.frame(() => true, { what: "open packet" });
    r.ws.on("message", (d, isBinary) => {
      if (!isBinary && d.toString() === "2") r.send("3");
    });
    r.send("40");
    await r.frame((f) => f.data.startsWith("40"), { what: "CONNECT ack" });
    let closedEarly = false;
    r.closed.then(() => (closedEarly = true));
    for (let n = 1; n <= 4; n++) {
      let seen = 0;
      await r.frame((f) => isPing(f) && ++seen === n, { what: `ping #${n}`, ms: PING_INTERVAL * 2 + 2000 });
      assert.equal(closedEarly, false, `connection closed before ping #${n}`);
    }
    assert.equal(r.ws.readyState, WebSocket.OPEN);
    const from = r.frames.length;
    r.send('42["echo","alive",1]');
    const echo = await r.frame((f) => f.data.startsWith("42"), { from, what: "echo" });
    assert.equal(echo.data, '42["echo","alive",1]');
  });

  test("a polling client that never answers pings loses its session after pingInterval + pingTimeout", async () => {
    const base = `${server.url}/socket.io/?EIO=4&transport=polling`;
    const get = (url) => fetch(url, { signal: AbortSignal.timeout(3000) });
    const hsRes = await get(base);
    const opened = Date.now();
    const body = await hsRes.text();
    assert.equal(body[0], "0", body);
    const hs = JSON.parse(body.slice(1));
    assert.equal(hs.pingInterval, PING_INTERVAL);
    assert.equal(hs.pingTimeout, PING_TIMEOUT);
    assert.deepEqual(hs.upgrades, ["websocket"]);
    const url = `${base}&sid=${encodeURIComponent(hs.sid)}`;
    // the long-poll is answered by the ping
    const poll = await get(url);
    assert.equal(poll.status, 200);
    const pingAt = Date.now();
    assert.equal(await poll.text(), "2", "the long-poll is answered with a ping");
    assert.ok(pingAt - opened >= PING_INTERVAL - 100, `ping after ${pingAt - opened} ms`);
    // no pong: the next polls get the close packet and then 400 (unknown session), within pingTimeout + slack
    const bodies = [];
    for (;;) {
      const res = await get(url);
      const text = await res.text();
      if (res.status === 400) break;
      assert.equal(res.status, 200);
      bodies.push(text);
      assert.ok(bodies.length < 5, `still polling after the ping timeout: ${JSON.stringify(bodies)}`);
    }
    const goneAfter = Date.now() - pingAt;
    assert.ok(goneAfter <= PING_TIMEOUT + 1000, `session gone ${goneAfter} ms after the ping`);
    for (const b of bodies) assert.match(b, /(^|\x1e)[16]($|\x1e)/, `only close/noop packets after the timeout: ${b}`);
  });

  for (const mode of MODES) {
    test(`socket.io-client [${mode.name}] stays connected over 3 ping intervals`, async () => {
      const s = await clients.connect(server.url, mode);
      const engine = s.io.engine;
      assert.equal(engine.transport.name, mode.final);
      let pings = 0;
      let disconnected = null;
      engine.on("ping", () => pings++);
      s.on("disconnect", (reason) => (disconnected = reason));
      await withTimeout(
        new Promise((resolve) => engine.on("ping", () => pings >= 4 && resolve())),
        PING_INTERVAL * 4 + 3000,
        "4 pings",
      );
      assert.equal(disconnected, null, `disconnected: ${disconnected}`);
      assert.ok(s.connected);
      assert.equal(await ask(s, "transport"), mode.final);
      assert.deepEqual(await askAll(s, "echo", "alive"), ["alive"]);
    });
  }

  test("a socket.io client whose engine stops answering sees a ping timeout / transport close", async () => {
    const s = await clients.connect(server.url, { transports: ["websocket"], upgrade: false });
    const engine = s.io.engine;
    // stop answering pings: drop outgoing pong packets at the transport level
    const transport = engine.transport;
    const origSend = transport.send.bind(transport);
    transport.send = (packets) => origSend(packets.filter((p) => p.type !== "pong"));
    const reason = await once(s, "disconnect", PING_INTERVAL + PING_TIMEOUT + 3000);
    // the server closes the connection; the client sees it as "transport close" (or "ping timeout" if its own
    // timer fires first)
    assert.match(reason, /^(transport close|ping timeout)$/);
  });
});
