// Smoke test of the C/C++ chat examples: node chat_smoke.js BINARY [--token]. Starts the server on a free port,
// runs the event contract of examples/README.md with two socket.io clients, prints
// "N passed, N failed" and exits non-zero on failure. Every wait is bounded.
"use strict";
const path = require("path");
const { spawn } = require("child_process");
const http = require("http");
const { io } = require(path.join(__dirname, "../../../node_modules/socket.io-client"));

const root = path.join(__dirname, "../../..");
const port = 20000 + Math.floor(Math.random() * 10000);
// --token: the server requires auth {token} (the C example's FERRIO_CHAT_TOKEN); every client sends it.
const token = process.argv.includes("--token") ? `t-${process.pid}-${Date.now()}` : null;
const env = { ...process.env, PORT: String(port) };
delete env.FERRIO_CHAT_TOKEN;
if (token) env.FERRIO_CHAT_TOKEN = token;
const server = spawn(process.argv[2], [], { cwd: root, env, stdio: ["ignore", "pipe", "inherit"] });
const opts = { reconnection: false, forceNew: true, auth: token ? { token } : {} };
let passed = 0, failed = 0;
const check = (name, ok, detail = "") => { if (ok) passed++; else { failed++; console.log(`FAIL ${name} ${detail}`); } };
const once = (s, ev) => new Promise((res, rej) => { const t = setTimeout(() => rej(new Error(`no ${ev}`)), 5000); s.once(ev, (...a) => (clearTimeout(t), res(a))); });
const ack = (s, ev, arg) => s.timeout(5000).emitWithAck(ev, arg);
const finish = () => { server.kill("SIGTERM"); console.log(`${passed} passed, ${failed} failed`); setTimeout(() => process.exit(failed ? 1 : 0), 300); };
setTimeout(() => { check("finished in time", false); finish(); }, 30000).unref();

server.stdout.once("data", async () => {
  try {
    const page = await new Promise((res, rej) => http.get(`http://127.0.0.1:${port}/`, (r) => { let b = ""; r.on("data", (d) => (b += d)); r.on("end", () => res(b)); }).on("error", rej));
    check("serves the page", page.includes("<html") || page.includes("<!doctype") || page.includes("<!DOCTYPE"));
    const bundle = await new Promise((res, rej) => http.get(`http://127.0.0.1:${port}/socket.io/socket.io.js`, (r) => { r.resume(); res(r.statusCode); }).on("error", rej));
    check("serves the client bundle", bundle === 200, bundle);
    if (token) {
      for (const auth of [{}, { token: token + "x" }, { token: 7 }]) {
        const bad = io(`http://127.0.0.1:${port}`, { ...opts, auth });
        const [err] = await once(bad, "connect_error");
        check("a wrong token is refused", err.message === "invalid token", `${JSON.stringify(auth)}: ${err.message}`);
        bad.close();
      }
    }
    const a = io(`http://127.0.0.1:${port}`, opts);
    const [rooms0] = await once(a, "rooms");
    check("rooms on connect", Array.isArray(rooms0));
    const b = io(`http://127.0.0.1:${port}`, opts);
    await once(b, "connect");
    const na = await ack(a, "nick", " ann ");
    check("nick", na.ok === true && na.nick === "ann" && na.id === a.id, JSON.stringify(na));
    const taken = await ack(b, "nick", "ANN");
    check("nickname taken", taken.error === "that nickname is already taken", JSON.stringify(taken));
    const users = once(a, "users");
    await ack(b, "nick", "bob");
    const early = await ack(a, "message", { room: "x", text: "hi" });
    check("join first", early.error === "join the room first", JSON.stringify(early));
    const j = await ack(a, "join", "lobby");
    check("join", j.ok && j.room === "lobby", JSON.stringify(j));
    const [list] = await users;
    check("users list", JSON.stringify(list.map((u) => u.nick)) === '["ann","bob"]', JSON.stringify(list));
    const rooms = once(b, "rooms");
    const notice = once(a, "notice");
    await ack(b, "join", "lobby");
    const [n] = await notice;
    check("join notice", n.room === "lobby" && n.text === "bob joined", JSON.stringify(n));
    const [r] = await rooms;
    check("rooms list", r.some((x) => x.name === "lobby"), JSON.stringify(r));
    const msg = once(b, "message");
    const m = await ack(a, "message", { room: "lobby", text: " héllo \"quoted\" \u2603 " });
    check("message ack", m.ok === true, JSON.stringify(m));
    const [got] = await msg;
    check("message", got.from === "ann" && got.text === 'héllo "quoted" \u2603' && typeof got.time === "number", JSON.stringify(got));
    const priv = once(b, "private");
    await ack(a, "private", { to: b.id, text: "psst" });
    const [p] = await priv;
    check("private", p.from.nick === "ann" && p.to.nick === "bob" && p.text === "psst", JSON.stringify(p));
    const leaving = once(b, "notice");
    a.close();
    const [l] = await leaving;
    check("is leaving notice", l.text === "ann is leaving", JSON.stringify(l));
    b.close();
  } catch (e) {
    check("scenario", false, e.message);
  }
  finish();
});
