// Drives ffi/tests/cpp/test_wrapper.cpp with socket.io-client: node driver.js PORT. Reports every check
// as a "result" event; every wait is bounded.
"use strict";
const path = require("path");
const { io } = require(path.join(__dirname, "../../../node_modules/socket.io-client"));

const url = `http://127.0.0.1:${process.argv[2]}`;
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

async function main() {
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
