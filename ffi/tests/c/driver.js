// Drives ffi/tests/c/test_ffi.c with the official socket.io-client:
// node driver.js PORT_THREAD PORT_MANUAL PORT_RECOVERY PORT_COMPRESS64.
// Every check is reported to the C program as a "result" event (name, ok, detail); the C program counts
// them with its own. Every wait is bounded; the script exits by itself.
"use strict";
const http = require("http");
const path = require("path");
const zlib = require("zlib");
const { io } = require(path.join(__dirname, "../../../node_modules/socket.io-client"));

const [portA, portB, portC, portD] = process.argv.slice(2);
const urlA = `http://127.0.0.1:${portA}`;
const urlB = `http://127.0.0.1:${portB}`;
const urlC = `http://127.0.0.1:${portC}`;
const WAIT = 5000;
const results = [];

function check(name, ok, detail = "") {
  results.push([name, !!ok, String(detail)]);
  if (!ok) console.error(`driver: FAIL ${name} ${detail}`);
}

function once(socket, event, ms = WAIT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${ms} ms`)), ms);
    socket.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

// Resolves true when `event` does NOT arrive within `ms`.
function silent(socket, event, ms = 400) {
  return new Promise((resolve) => {
    const handler = () => resolve(false);
    socket.once(event, handler);
    setTimeout(() => {
      socket.off(event, handler);
      resolve(true);
    }, ms);
  });
}

async function connect(url, opts = {}) {
  const socket = io(url, { forceNew: true, reconnection: false, autoConnect: false, ...opts });
  // Every event from the start, those that follow the CONNECT answer at once included.
  socket.seen = [];
  socket.onAny((event, ...args) => socket.seen.push([event, ...args]));
  socket.connect();
  await once(socket, "connect");
  return socket;
}

async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, e.message);
  }
}

// One HTTP request (no keep-alive): its status, Content-Encoding, the bytes as sent and the text they
// decode to.
function request(port, method, url, { body, acceptEncoding } = {}) {
  return new Promise((resolve, reject) => {
    const headers = {};
    if (acceptEncoding !== undefined) headers["accept-encoding"] = acceptEncoding;
    if (body !== undefined) headers["content-type"] = "text/plain;charset=UTF-8";
    const timer = setTimeout(() => reject(new Error(`${method} ${url}: no answer within ${WAIT} ms`)), WAIT);
    const req = http.request({ host: "127.0.0.1", port, method, path: url, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        clearTimeout(timer);
        const raw = Buffer.concat(chunks);
        const encoding = res.headers["content-encoding"];
        try {
          let text = raw.toString();
          if (encoding === "gzip") text = zlib.gunzipSync(raw).toString();
          else if (encoding === "deflate") text = zlib.inflateSync(raw).toString();
          resolve({ status: res.statusCode, encoding, raw, text });
        } catch (e) {
          reject(new Error(`${method} ${url}: ${encoding} body does not decode: ${e.message}`));
        }
      });
    });
    req.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body);
  });
}

// A raw polling session in the namespace "/compress" (whose sockets answer `big` (n) with a `big` event of
// n x's), every GET with Accept-Encoding `acceptEncoding` (undefined: none).
const NSP = "/compress";
const bigPacket = (n) => `42${NSP},["big","${"x".repeat(n)}"]`; // n + 22 bytes
async function compressSession(port, acceptEncoding) {
  const handshake = await request(port, "GET", "/socket.io/?EIO=4&transport=polling", { acceptEncoding });
  if (handshake.status !== 200 || handshake.text[0] !== "0") {
    throw new Error(`handshake: ${handshake.status} ${handshake.text}`);
  }
  const { sid } = JSON.parse(handshake.text.slice(1));
  const url = `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
  const post = async (packet) => {
    const r = await request(port, "POST", url, { body: packet });
    if (r.status !== 200) throw new Error(`POST ${packet.slice(0, 30)}: ${r.status} ${r.text}`);
  };
  const poll = () => request(port, "GET", url, { acceptEncoding });
  await post(`40${NSP},`);
  const connect = await poll();
  if (!connect.text.startsWith(`40${NSP},{"sid":`)) throw new Error(`CONNECT answer: ${connect.text}`);
  return {
    handshake,
    connect,
    // Has the server emit `big` with n x's; the poll that carries it, which must be that event whole.
    async big(n) {
      await post(`42${NSP},["big",${n}]`);
      const r = await poll();
      if (r.text !== bigPacket(n)) throw new Error(`big ${n}: ${r.encoding} ${r.text.slice(0, 80)}`);
      return r;
    },
    close: () => post("1"),
  };
}

async function main() {
  // Connect rejection with data (a C middleware).
  await step("connect rejected with message and data", async () => {
    const bad = io(urlA, { forceNew: true, reconnection: false, auth: { token: "bad" } });
    const badEvents = [];
    bad.onAny((event) => badEvents.push(event));
    const [err] = await once(bad, "connect_error");
    check("connect rejected with message and data", err.message === "not allowed" && err.data && err.data.code === 42,
      JSON.stringify({ message: err.message, data: err.data }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    check("a refused client gets nothing its middleware emitted", badEvents.length === 0, JSON.stringify(badEvents));
    bad.close();
  });

  const c1 = await connect(urlA, { auth: { token: "good", name: "c1" } });
  const c2 = await connect(urlA, { auth: { token: "good", name: "c2" }, transports: ["polling"] });
  const c3 = await connect(urlA, { auth: { token: "good", name: "c3" } });
  check("three clients connected (websocket and polling)", c1.connected && c2.connected && c3.connected);
  for (const [name, c] of [["c1", c1], ["c2", c2], ["c3", c3]]) {
    await step(`${name}: the middleware's emit arrives after connect`, async () => {
      for (let i = 0; i < 200 && c.seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      const [first] = c.seen;
      check(`${name}: the middleware's emit arrives after connect`,
        first && first[0] === "early" && first[1].name === name, JSON.stringify(first));
    });
  }

  await step("echo with JSON and binary", async () => {
    const reply = once(c1, "echo");
    c1.emit("echo", { text: "hi", n: 1 }, Buffer.from([1, 2, 3, 255]));
    const [obj, bin] = await reply;
    check("echo with JSON and binary", obj.text === "hi" && obj.n === 1 && Buffer.isBuffer(bin) &&
      Buffer.compare(bin, Buffer.from([1, 2, 3, 255])) === 0, JSON.stringify(obj));
  });

  await step("binary reply built in C", async () => {
    const reply = once(c1, "bin-reply");
    c1.emit("bin", Buffer.from("abc"));
    const [len, bin] = await reply;
    check("binary reply built in C", len === 3 && Buffer.isBuffer(bin) && bin.toString() === "cba", `${len} ${bin}`);
  });

  await step("client ack answered by C", async () => {
    const answer = await new Promise((resolve, reject) => {
      c1.timeout(WAIT).emit("ack-me", 5, "x", (err, ...args) => (err ? reject(err) : resolve(args)));
    });
    check("client ack answered by C", JSON.stringify(answer) === JSON.stringify(["ok", [5, "x"]]), JSON.stringify(answer));
  });

  await step("a failed ack send consumes the ack", async () => {
    const err = await new Promise((resolve) => {
      c1.timeout(500).emit("ack-bad", (e) => resolve(e));
    });
    check("a failed ack send consumes the ack (no answer)", err instanceof Error, String(err));
  });

  await step("server ack answered by the client", async () => {
    c1.on("question", (n, cb) => cb(n * 2, Buffer.from([9])));
    const got = once(c1, "client-answered");
    c1.emit("ask-client", 21);
    const [json, size] = await got;
    check("server ack answered by the client", json === '[42,{"_placeholder":true,"num":0}]' && size === 1, `${json} ${size}`);
  });

  await step("server ack timeout", async () => {
    c1.on("ignored", () => {});
    const got = once(c1, "timeout-ok");
    c1.emit("ask-timeout");
    const [status] = await got;
    check("server ack timeout", status === "operation has timed out", status);
  });

  await step("rooms and broadcast with except", async () => {
    const join = (s, room) => new Promise((resolve) => s.emit("join", room, resolve));
    await join(c1, "room1");
    await join(c2, "room1");
    await join(c3, "room1");
    await join(c2, "vip");
    const n1 = once(c1, "news"), n3 = once(c3, "news"), n2 = silent(c2, "news");
    c1.emit("bcast", "room1", "vip");
    const [[a], [b], none] = await Promise.all([n1, n3, n2]);
    check("broadcast to room1 except vip reaches c1 and c3", a === "to room1 except vip" && b === a, `${a} ${b}`);
    check("broadcast except vip skips c2", none);
  });

  await step("from-socket broadcast", async () => {
    const r2 = once(c2, "relayed"), r3 = once(c3, "relayed"), r1 = silent(c1, "relayed");
    c1.emit("relay", "room1");
    const [[x], [y], none] = await Promise.all([r2, r3, r1]);
    check("socket broadcast to room1 reaches the others", x === "from c1" && y === x, `${x} ${y}`);
    check("socket broadcast skips the sender", none);
  });

  await step("broadcast emit_with_ack", async () => {
    for (const s of [c1, c2, c3]) s.on("poll", (cb) => cb(s === c2 ? "yes" : "no"));
    const got = once(c1, "poll-result");
    c1.emit("start-poll");
    const [count, expected] = await got;
    check("broadcast emit_with_ack gathers every answer", count === 3 && expected === 3, `${count}/${expected}`);
  });

  await step("server-side room operations", async () => {
    const got = once(c1, "rooms-checked");
    c1.emit("room-ops");
    const [report] = await got;
    check("room size, room list, sockets_join, fetch_sockets", report === "ok", report);
  });

  await step("API calls from a second thread", async () => {
    const t1 = once(c1, "from-thread"), t2 = once(c2, "thread-broadcast");
    c1.emit("thread");
    const [[a], [b]] = await Promise.all([t1, t2]);
    check("API calls from a second thread", a === "hello from another thread" && b === "to everybody", `${a} ${b}`);
  });

  await step("server disconnect reason", async () => {
    const gone = once(c3, "disconnect");
    c3.emit("kick-me");
    const [reason] = await gone;
    check("server disconnect seen by the client", reason === "io server disconnect", reason);
  });

  await step("dynamic namespace", async () => {
    const refused = io(`${urlA}/dyn-7`, { forceNew: true, reconnection: false, auth: { no: 1 } });
    const [err] = await once(refused, "connect_error");
    check("dynamic namespace refused by the predicate", err.message === "Invalid namespace", err.message);
    refused.close();
    const d = await connect(`${urlA}/dyn-7`, { auth: { pass: 1 } });
    const news = once(d, "dyn-news");
    const answer = await new Promise((resolve, reject) =>
      d.timeout(WAIT).emit("dyn-hello", (e, ...args) => (e ? reject(e) : resolve(args))));
    const [n] = await news;
    check("dynamic namespace created by the predicate", JSON.stringify(answer) === '["/dyn-7"]' && n === "child",
      JSON.stringify(answer));
    d.close();
  });

  await step("disconnect_sockets", async () => {
    const c5 = await connect(urlA, { auth: { token: "good", name: "c5" } });
    await new Promise((resolve) => c5.emit("join", "doomed", resolve));
    const gone = once(c5, "disconnect");
    c1.emit("doom", "doomed");
    const [reason] = await gone;
    check("disconnect_sockets disconnects the room's sockets", reason === "io server disconnect", reason);
  });

  await step("admin UI", async () => {
    const admin = io(`${urlA}/admin`, {
      forceNew: true,
      reconnection: false,
      auth: { username: "admin", password: "s3cret" },
    });
    const config = once(admin, "config");
    const stats = once(admin, "server_stats");
    const [cfg] = await config;
    check("admin UI: login accepted, config sent", cfg.supportedFeatures.includes("JOIN"), JSON.stringify(cfg));
    const [s] = await stats;
    check("admin UI: server_stats", s.serverId === "c-test" && s.clientsCount >= 2, JSON.stringify(s));
    admin.close();
    const bad = io(`${urlA}/admin`, {
      forceNew: true,
      reconnection: false,
      auth: { username: "admin", password: "wrong" },
    });
    const [err] = await once(bad, "connect_error");
    check("admin UI: wrong password refused", err.message === "invalid credentials", err.message);
    bad.close();
  });

  await step("connection state recovery", async () => {
    // A client whose transport is cut comes back (its own reconnection, after 600 ms) as the same socket.
    const a = io(urlC, {
      forceNew: true,
      reconnection: true,
      reconnectionDelay: 600,
      reconnectionDelayMax: 600,
      randomizationFactor: 0,
      autoConnect: false,
    });
    const log = [];
    a.onAny((event, ...args) => log.push([event, ...args]));
    const welcome = once(a, "welcome");
    a.connect();
    const [wasRecovered] = await welcome;
    check("recovery: a first connection is not recovered", wasRecovered === false && a.recovered === false);
    await a.timeout(WAIT).emitWithAck("join", "team");
    await a.timeout(WAIT).emitWithAck("set-data", { name: "ann" });
    const b = await connect(urlC);
    const id = a.id;
    const left = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no \"left\"")), WAIT);
      b.on("left", (who, reason) => {
        if (who !== id) return;
        clearTimeout(timer);
        resolve(reason);
      });
    });
    const from = log.length;
    const back = once(a, "connect");
    a.io.engine.close();
    const reason = await left;
    check("recovery: the server saw the connection lost", ["transport close", "transport error"].includes(reason), reason);
    await b.timeout(WAIT).emitWithAck("missed", id);
    await back;
    check("recovery: the client recovered its socket", a.recovered === true && a.id === id, `${a.recovered} ${a.id} ${id}`);
    const state = await a.timeout(WAIT).emitWithAck("state");
    check(
      "recovery: same id, rooms and data, ferrio_socket_recovered true",
      state.recovered === true && state.id === id &&
        JSON.stringify([...state.rooms].sort()) === JSON.stringify([id, "team"].sort()) &&
        JSON.stringify(state.data) === '{"name":"ann"}',
      JSON.stringify(state),
    );
    const live = new Promise((resolve) => a.on("room-msg", (n) => n === "live" && resolve()));
    await a.timeout(WAIT).emitWithAck("live");
    await live;
    // Each missed event once and in order, before the new welcome; each carries its offset.
    const after = log.slice(from);
    const missed = after.filter(([event]) => ["room-msg", "direct", "all"].includes(event));
    check(
      "recovery: every missed event once, in order, with its offset",
      JSON.stringify(missed.map(([event, value]) => [event, value])) ===
        JSON.stringify([["room-msg", 1], ["direct", 2], ["all", 3], ["room-msg", 4], ["room-msg", "live"]]) &&
        missed.every((entry) => entry.length === 3 && typeof entry[2] === "string"),
      JSON.stringify(after),
    );
    const names = after.map(([event]) => event);
    check("recovery: the missed events come before the new welcome",
      names.indexOf("welcome") > names.indexOf("all") && after[names.indexOf("welcome")][1] === true, names.join(","));
    a.close();
    b.close();
  });

  await step("compression: on by default (server A)", async () => {
    const s = await compressSession(portA, "gzip, deflate, br");
    check("compression: the handshake and CONNECT answer are under 1024 bytes, not compressed",
      s.handshake.encoding === undefined && s.connect.encoding === undefined, `${s.handshake.encoding} ${s.connect.encoding}`);
    const big = await s.big(4000);
    check("compression: a 4022-byte poll is gzipped and inflates to the event",
      big.encoding === "gzip" && big.raw.length < 200 && zlib.gunzipSync(big.raw).toString() === bigPacket(4000),
      `${big.encoding} ${big.raw.length} bytes`);
    const at = await s.big(1002);
    const below = await s.big(1001);
    check("compression: 1024 bytes are compressed, 1023 are not",
      at.encoding === "gzip" && below.encoding === undefined && below.raw.toString() === bigPacket(1001),
      `${at.encoding} ${below.encoding}`);
    await s.close();
  });

  await step("compression: deflate (server A)", async () => {
    const s = await compressSession(portA, "deflate");
    const big = await s.big(2000);
    check("compression: deflate when the request takes only deflate",
      big.encoding === "deflate" && zlib.inflateSync(big.raw).toString() === bigPacket(2000), String(big.encoding));
    await s.close();
  });

  await step("compression: no Accept-Encoding (server A)", async () => {
    for (const accept of [undefined, "gzip;q=0"]) {
      const s = await compressSession(portA, accept);
      const big = await s.big(4000);
      check(`compression: nothing compressed with Accept-Encoding ${accept}`,
        big.encoding === undefined && big.raw.toString() === bigPacket(4000), String(big.encoding));
      await s.close();
    }
  });

  await step("compression: off (server B)", async () => {
    const s = await compressSession(portB, "gzip, deflate");
    const big = await s.big(4000);
    check("compression: off, a 4022-byte poll is sent as is",
      big.encoding === undefined && big.raw.length === 4022, `${big.encoding} ${big.raw.length} bytes`);
    await s.close();
  });

  await step("compression: from 64 bytes (server D)", async () => {
    const s = await compressSession(portD, "gzip");
    const open = JSON.parse(s.handshake.text.slice(1));
    check("compression: the handshake, over 64 bytes, is gzipped",
      s.handshake.encoding === "gzip" && typeof open.sid === "string", `${s.handshake.encoding} ${s.handshake.text}`);
    check("compression: the CONNECT answer, under 64 bytes, is not", s.connect.encoding === undefined,
      `${s.connect.encoding} ${s.connect.text}`);
    const at = await s.big(42);
    const below = await s.big(41);
    check("compression: 64 bytes are compressed, 63 are not",
      at.encoding === "gzip" && zlib.gunzipSync(at.raw).toString() === bigPacket(42) && below.encoding === undefined,
      `${at.encoding} ${below.encoding}`);
    await s.close();
  });

  await step("manual dispatch mode", async () => {
    const c4 = await connect(urlB);
    const answer = await new Promise((resolve, reject) => {
      c4.timeout(WAIT).emit("manual", 7, (err, ...args) => (err ? reject(err) : resolve(args)));
    });
    check("manual dispatch mode acks from the host thread", JSON.stringify(answer) === '["manual-ok",7]', JSON.stringify(answer));
    c4.close();
  });

  c2.disconnect(); // "client namespace disconnect" on the C side
  await new Promise((r) => setTimeout(r, 300));

  for (const [name, ok, detail] of results) {
    await new Promise((resolve) => c1.timeout(WAIT).emit("result", name, ok, detail, () => resolve()));
  }
  await new Promise((resolve) => c1.timeout(WAIT).emit("done", results.length, () => resolve()));
  c1.close(); // "transport close" or "client namespace disconnect"
  setTimeout(() => process.exit(results.every(([, ok]) => ok) ? 0 : 1), 200);
}

setTimeout(() => {
  console.error("driver: overall timeout");
  process.exit(2);
}, 60000).unref();

main().catch((e) => {
  console.error("driver:", e);
  process.exit(3);
});
