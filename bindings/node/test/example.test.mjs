// examples/node/chat.mjs runs and follows the event contract of examples/README.md (a smoke test).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { within, next } from "./helpers.mjs";

const CHAT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../examples/node/chat.mjs");

test("the Node chat example: page, nick, join, message, private, leaving notice", { timeout: 30_000 }, async () => {
  const child = spawn(process.execPath, [CHAT], { env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] });
  const clients = [];
  try {
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
    const port = await within(
      (async () => {
        for (let i = 0; i < 500; i++) {
          const m = /127\.0\.0\.1:(\d+)/.exec(out);
          if (m) return m[1];
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error("no address printed");
      })(),
      12_000,
      "the example to listen",
    );
    const url = `http://127.0.0.1:${port}`;
    const page = await fetch(`${url}/`, { signal: AbortSignal.timeout(3000) });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /socket\.io\.js/);
    const connect = async () => {
      const c = io(url, { transports: ["websocket"], reconnection: false, forceNew: true });
      clients.push(c);
      c.log = [];
      c.onAny((ev, arg) => c.log.push([ev, arg]));
      await next(c, "connect");
      return c;
    };
    const a = await connect();
    const b = await connect();
    const ask = (c, ev, arg) => c.timeout(3000).emitWithAck(ev, arg);
    assert.deepEqual(await ask(a, "join", "lobby"), { error: "pick a nickname first" });
    assert.equal((await ask(a, "nick", " ann ")).nick, "ann");
    assert.deepEqual(await ask(b, "nick", "ANN"), { error: "that nickname is already taken" });
    assert.equal((await ask(b, "nick", "bob")).ok, true);
    assert.deepEqual(await ask(a, "join", "lobby"), { ok: true, room: "lobby" });
    assert.deepEqual(await ask(b, "join", "lobby"), { ok: true, room: "lobby" });
    assert.deepEqual(await ask(a, "message", { room: "lobby", text: " hi " }), { ok: true });
    assert.deepEqual(await ask(a, "private", { to: b.id, text: "psst" }), { ok: true });
    assert.deepEqual(await ask(a, "leave", "elsewhere"), { error: "you are not in that room" });
    const leaving = next(b, "notice");
    a.disconnect();
    const [n] = await leaving;
    assert.equal(n.text, "ann is leaving");
    const events = b.log.map(([ev]) => ev);
    assert.ok(events.includes("message") && events.includes("private") && events.includes("rooms"));
    const msg = b.log.find(([ev]) => ev === "message")[1];
    assert.equal(msg.text, "hi");
    assert.equal(msg.from, "ann");
  } finally {
    for (const c of clients) c.disconnect();
    child.kill("SIGTERM");
    await within(new Promise((r) => (child.exitCode !== null ? r() : child.on("exit", r))), 5000, "example exit").catch(() =>
      child.kill("SIGKILL"),
    );
  }
});
