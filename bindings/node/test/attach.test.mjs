// Attach mode and API parity: an Express app with socket.io attached to its `new Server(httpServer)`, in
// socket.io's documented style (fixtures/express-app.mjs: middlewares with err.data, fetchSockets,
// socketsJoin/Leave, disconnectSockets, timeout acks both ways, onAny, disconnecting, adapter room sizes,
// binary, REST routes emitting). It runs on ferrio, and, with only its import changed, on socket.io: the
// same assertions hold for both, over each transport mode.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { within, next, spawnListening } from "./helpers.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const APP = path.join(here, "fixtures/express-app.mjs");
const REFERENCE = path.join(here, "fixtures/.express-app.socketio.mjs");

function run(file) {
  return spawnListening([file], "the app");
}

const MODES = {
  websocket: { transports: ["websocket"] },
  polling: { transports: ["polling"] },
  upgrade: { transports: ["polling", "websocket"] },
};

for (const [impl, file] of [
  ["ferrio", APP],
  ["socket.io", REFERENCE],
]) {
  describe(`an Express app with ${impl} attached to its http.Server`, () => {
    let app;
    const clients = [];
    before(async () => {
      if (file === REFERENCE) {
        const source = fs.readFileSync(APP, "utf8");
        const changed = source.replace('import { Server } from "ferrio";', 'import { Server } from "socket.io";');
        assert.notEqual(changed, source, "the fixture imports ferrio");
        fs.writeFileSync(REFERENCE, changed);
      }
      app = await run(file);
    });
    after(() => {
      for (const c of clients) c.close();
      if (app && app.child.exitCode === null) app.child.kill("SIGKILL");
      if (file === REFERENCE) fs.rmSync(REFERENCE, { force: true });
    });
    const url = () => `http://127.0.0.1:${app.port}`;
    const connect = async (mode, auth = { token: "letmein" }) => {
      const c = io(url(), { ...MODES[mode], auth, reconnection: false, forceNew: true });
      c.upgraded = new Promise((resolve) => c.once("upgraded", resolve));
      clients.push(c);
      await within(next(c, "connect"), 5000, `connect over ${mode}`);
      if (mode === "upgrade" && c.io.engine.transport.name !== "websocket") {
        await within(next(c.io.engine, "upgrade"), 5000, "the upgrade");
      }
      return c;
    };

    test("the REST routes keep working beside socket.io", async () => {
      const health = await fetch(`${url()}/api/health`, { signal: AbortSignal.timeout(3000) });
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { ok: true });
      const missing = await fetch(`${url()}/nope`, { signal: AbortSignal.timeout(3000) });
      assert.equal(missing.status, 404);
      const bad = await fetch(`${url()}/socket.io/?EIO=4&transport=bogus`, { signal: AbortSignal.timeout(3000) });
      assert.equal(bad.status, 400);
      assert.deepEqual(await bad.json(), { code: 0, message: "Transport unknown" });
    });

    for (const mode of Object.keys(MODES)) {
      test(`socket.io over ${mode}: middleware, acks, rooms, binary, REST-triggered emits`, async () => {
        const refused = io(url(), { ...MODES[mode], auth: {}, reconnection: false, forceNew: true });
        clients.push(refused);
        const [err] = await within(next(refused, "connect_error"), 5000, "connect_error");
        assert.equal(err.message, "not authorized");
        assert.deepEqual(err.data, { hint: "token" });

        const a = await connect(mode);
        const b = await connect(mode);
        const expected = mode === "polling" ? "polling" : "websocket";
        assert.equal(a.io.engine.transport.name, expected);
        if (mode === "upgrade") assert.equal(await within(a.upgraded, 5000, "socket.conn's upgrade"), "websocket");
        const room = `room-${mode}`;
        assert.equal(await a.timeout(3000).emitWithAck("join", room), `joined ${room}`);
        assert.equal(await b.timeout(3000).emitWithAck("join", room), `joined ${room}`);
        assert.equal(await a.timeout(3000).emitWithAck("size", room), 2);
        assert.ok((await a.timeout(3000).emitWithAck("count")) >= 2);

        const said = next(b, "said");
        a.emit("say", room, "hello", Buffer.from([1, 2, 3]));
        const [from, text, bytes] = await within(said, 5000, "a room message");
        assert.equal(from, a.id);
        assert.equal(text, "hello");
        assert.deepEqual([...new Uint8Array(bytes)], [1, 2, 3]);

        assert.equal(await a.timeout(3000).emitWithAck("join", "notes"), "joined notes");
        const note = next(a, "note");
        const posted = await fetch(`${url()}/api/notes`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ text: `from ${mode}` }),
          signal: AbortSignal.timeout(3000),
        });
        assert.equal(posted.status, 201);
        assert.deepEqual(await within(note, 5000, "the note"), [`from ${mode}`]);

        // onAny counts what a socket sent: join, say, join, size, count so far.
        assert.equal(await a.timeout(3000).emitWithAck("seen"), 6);
        const me = await a.timeout(3000).emitWithAck("whoami");
        assert.deepEqual(me, { id: a.id, rooms: [a.id, "notes", room].sort(), hasData: true });

        // Server-to-client acks with timeouts: one answers, one stays silent.
        b.on("question", (q, answer) => answer(`b: ${q}`));
        a.on("question", () => {});
        assert.equal(await a.timeout(3000).emitWithAck("ask-me"), "timeout: operation has timed out");
        const polled = await a.timeout(3000).emitWithAck("poll", room);
        assert.equal(polled.error, "operation has timed out");
        a.off("question");
        a.on("question", (q, answer) => answer(`a: ${q}`));
        assert.deepEqual(await a.timeout(3000).emitWithAck("poll", room), { answers: ["a: ready?", "b: ready?"] });

        // socketsJoin / socketsLeave move the whole room.
        const target = `moved-${mode}`;
        assert.equal(await a.timeout(3000).emitWithAck("move", room, target), 2);
        assert.equal(await a.timeout(3000).emitWithAck("size", room), 0);

        // `disconnecting` still sees the rooms of the socket that leaves.
        const leaving = next(a, "leaving");
        const gone = next(b, "disconnect");
        const bId = b.id;
        a.emit("kick", bId);
        const [who, rooms, why] = await within(leaving, 5000, "the leaving notice");
        assert.equal(who, bId);
        assert.deepEqual(rooms.sort(), [target]);
        assert.equal(why, "server namespace disconnect");
        const [reason] = await within(gone, 5000, "the kick");
        assert.equal(reason, "io server disconnect");
        a.close();
      });
    }

    test("io.close() closes the attached http.Server too", async () => {
      const exited = new Promise((resolve) => app.child.once("exit", resolve));
      app.child.kill("SIGTERM");
      await within(
        (async () => {
          while (!app.output().includes("HTTP SERVER CLOSED")) await new Promise((r) => setTimeout(r, 20));
        })(),
        8000,
        "the http.Server to close",
      );
      await within(exited, 8000, "the process to exit by itself");
    });
  });
}
