// Drives ffi/tests/cpp/test_wrapper.cpp with socket.io-client: node driver.js PORT THRESHOLD PORT_OFF
// (the server at PORT compresses polling responses from THRESHOLD bytes, the one at PORT_OFF does not).
// Reports every check as a "result" event; every wait is bounded.
"use strict";
const http = require("http");
const path = require("path");
const zlib = require("zlib");
const { io } = require(path.join(__dirname, "../../../node_modules/socket.io-client"));

const [port, thresholdArg, portOff] = process.argv.slice(2);
const threshold = Number(thresholdArg);
const url = `http://127.0.0.1:${port}`;
const WAIT = 5000;
const results = [];
const check = (name, ok, detail = "") => {
  results.push([name, !!ok, String(detail)]);
  if (!ok) console.error(`driver: FAIL ${name} ${detail}`);
};
const once = (s, event) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no "${event}"`)), WAIT);
    s.once(event, (...a) => (clearTimeout(t), resolve(a)));
  });
const silent = (s, event, ms = 400) =>
  new Promise((resolve) => {
    const h = () => resolve(false);
    s.once(event, h);
    setTimeout(() => (s.off(event, h), resolve(true)), ms);
  });
const connect = async (opts) => {
  const s = io(url, { forceNew: true, reconnection: false, ...opts });
  await once(s, "connect");
  return s;
};

// One HTTP request (no keep-alive): its Content-Encoding, the bytes as sent and the text they decode to.
const request = (p, method, target, { body, acceptEncoding } = {}) =>
  new Promise((resolve, reject) => {
    const headers = acceptEncoding === undefined ? {} : { "accept-encoding": acceptEncoding };
    const t = setTimeout(() => reject(new Error(`${method} ${target}: no answer`)), WAIT);
    const req = http.request({ host: "127.0.0.1", port: p, method, path: target, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        clearTimeout(t);
        const raw = Buffer.concat(chunks);
        const encoding = res.headers["content-encoding"];
        try {
          const text = encoding === "gzip" ? zlib.gunzipSync(raw) : encoding === "deflate" ? zlib.inflateSync(raw) : raw;
          resolve({ status: res.statusCode, encoding, raw, text: text.toString() });
        } catch (e) {
          reject(new Error(`${encoding} body does not decode: ${e.message}`));
        }
      });
    });
    req.on("error", (e) => (clearTimeout(t), reject(e)));
    req.end(body);
  });

// The ack of `big` (n) in "/compress": n + 17 bytes.
const bigAck = (n) => `43/compress,1["${"x".repeat(n)}"]`;
// A raw polling session in "/compress", every GET with Accept-Encoding `acceptEncoding`.
async function compressSession(p, acceptEncoding) {
  const handshake = await request(p, "GET", "/socket.io/?EIO=4&transport=polling", { acceptEncoding });
  if (handshake.text[0] !== "0") throw new Error(`handshake: ${handshake.status} ${handshake.text}`);
  const target = `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(JSON.parse(handshake.text.slice(1)).sid)}`;
  const post = async (packet) => {
    const r = await request(p, "POST", target, { body: packet });
    if (r.status !== 200) throw new Error(`POST ${packet.slice(0, 30)}: ${r.status} ${r.text}`);
  };
  const poll = () => request(p, "GET", target, { acceptEncoding });
  await post("40/compress,");
  const connect = await poll();
  if (!connect.text.startsWith('40/compress,{"sid":')) throw new Error(`CONNECT answer: ${connect.text}`);
  return {
    handshake,
    // The poll that carries the ack of `big` (n), which must be that ack whole.
    async big(n) {
      await post(`42/compress,1["big",${n}]`);
      const r = await poll();
      if (r.text !== bigAck(n)) throw new Error(`big ${n}: ${r.encoding} ${r.text.slice(0, 80)}`);
      return r;
    },
    close: () => post("1"),
  };
}

async function compression() {
  const s = await compressSession(port, "gzip, deflate");
  const big = await s.big(4000);
  check(`compression from ${threshold} bytes: 4017 bytes are gzipped`,
    big.encoding === "gzip" && big.raw.length < 200 && zlib.gunzipSync(big.raw).toString() === bigAck(4000),
    `${big.encoding} ${big.raw.length} bytes`);
  const at = await s.big(threshold - 17);
  const below = await s.big(threshold - 18);
  check(`compression from ${threshold} bytes: ${threshold} bytes are compressed, one less is not`,
    at.encoding === "gzip" && below.encoding === undefined && below.raw.toString() === bigAck(threshold - 18),
    `${at.encoding} ${below.encoding}`);
  check(`compression from ${threshold} bytes: the handshake (${s.handshake.text.length} bytes)`,
    s.handshake.encoding === (s.handshake.text.length >= threshold ? "gzip" : undefined), String(s.handshake.encoding));
  await s.close();
  const plain = await compressSession(port, undefined);
  const asIs = await plain.big(4000);
  check("compression: nothing compressed without Accept-Encoding", asIs.encoding === undefined &&
    asIs.raw.toString() === bigAck(4000), String(asIs.encoding));
  await plain.close();
  const off = await compressSession(portOff, "gzip, deflate");
  const offBig = await off.big(4000);
  check("compression off: 4017 bytes are sent as is", offBig.encoding === undefined && offBig.raw.length === 4017,
    `${offBig.encoding} ${offBig.raw.length} bytes`);
  await off.close();
}

async function main() {
  await compression().catch((e) => check("compression", false, e.message));
  const bad = io(url, { forceNew: true, reconnection: false, auth: { token: "bad" } });
  const [err] = await once(bad, "connect_error");
  check("middleware rejects with data", err.message === "go away" && err.data && err.data.why === "token", err.message);
  bad.close();

  const c1 = await connect({ auth: { name: "ann" } });
  const c2 = await connect({ auth: { name: "bob" } });
  c1.on("ping", (cb) => cb("pong"));
  const answer = await new Promise((resolve, reject) =>
    c1.timeout(WAIT).emit("hello", "world", (e, ...args) => (e ? reject(e) : resolve(args))));
  check("lambda handler acks", JSON.stringify(answer) === '["hi","world"]', JSON.stringify(answer));

  const heard = once(c2, "shouted"), notMe = silent(c1, "shouted");
  c1.emit("shout", { text: "hey" }, Buffer.from([7, 8]));
  const [[obj, bin], none] = await Promise.all([heard, notMe]);
  check("socket.to(room).emit reaches the others with binary", obj.text === "hey" && Buffer.compare(bin, Buffer.from([7, 8])) === 0);
  check("socket.to(room).emit skips the sender", none);

  const pong = once(c1, "pong-seen");
  c1.emit("ask");
  const [json] = await pong;
  check("server emit_with_ack gets the answer", json === '["pong"]', json);

  await new Promise((resolve) => c1.timeout(WAIT).emit("args", "text", { n: 1 }, Buffer.from([7, 8]), () => resolve()));

  // A server emit_with_ack without a deadline outlasts ferrio's default 5 s one.
  c1.on("slow-ping", (cb) => setTimeout(() => cb("late"), 5500));
  const slow = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no "slow-pong-seen"')), 9000);
    c1.once("slow-pong-seen", (json) => (clearTimeout(t), resolve(json)));
  });
  c1.emit("ask-forever");
  const lateJson = await slow;
  check("emit_with_ack(no_timeout) waits past 5 s", lateJson === '["late"]', lateJson);

  c2.disconnect();
  await new Promise((r) => setTimeout(r, 300));
  for (const [name, ok, detail] of results) {
    await new Promise((resolve) => c1.timeout(WAIT).emit("result", name, ok, detail, () => resolve()));
  }
  await new Promise((resolve) => c1.timeout(WAIT).emit("done", () => resolve()));
  c1.close();
  setTimeout(() => process.exit(results.every(([, ok]) => ok) ? 0 : 1), 200);
}

setTimeout(() => (console.error("driver: timeout"), process.exit(2)), 30000).unref();
main().catch((e) => (console.error("driver:", e), process.exit(3)));
