// A socket in its namespace's middlewares already belongs to the namespace: rooms it joins there are
// visible to room sizes, fetchSockets and room emits at once; what is emitted to it arrives after its
// CONNECT, in order; a refusal undoes it all (nothing it was sent reaches the client, its rooms are gone).
import { test } from "node:test";
import assert from "node:assert/strict";
import { start, next, sleep } from "./helpers.mjs";

/** Waits (bounded: 4 s) until `cond()` holds. */
async function until(cond) {
  for (let i = 0; i < 400 && !cond(); i++) await sleep(10);
  assert.ok(cond(), "timed out waiting");
}

test("a connecting socket belongs to its namespace; a refusal undoes it", { timeout: 30_000 }, async () => {
  const t = await start();
  try {
    const seen = [];
    t.io.use(async (socket, next) => {
      const name = socket.handshake.auth.name;
      socket.join(["lobby", `user:${name}`]);
      const lobby = await t.io.in("lobby").fetchSockets();
      seen.push({
        name,
        rooms: [...socket.rooms].filter((r) => r !== socket.id).sort(),
        lobby: lobby.map((s) => s.id).includes(socket.id),
        size: t.io.of("/").adapter.rooms.get("lobby")?.size,
      });
      socket.emit("welcome", name);
      t.io.to("lobby").emit("lobby", name);
      socket.to("lobby").emit("joined", name);
      if (socket.handshake.auth.refuse) {
        const err = new Error("refused");
        err.data = { name };
        return next(err);
      }
      next();
    });

    const events = [];
    const ann = await t.client("/", { auth: { name: "ann" }, autoConnect: false });
    ann.onAny((event, arg) => events.push(["ann", event, arg]));
    const connected = next(ann, "connect");
    ann.connect();
    await connected;
    // The two packets held for it, in emit order.
    await until(() => events.length >= 2);
    assert.deepEqual(events.splice(0), [
      ["ann", "welcome", "ann"],
      ["ann", "lobby", "ann"],
    ]);
    assert.deepEqual(seen.shift(), { name: "ann", rooms: ["lobby", "user:ann"], lobby: true, size: 1 });

    const refused = t.client("/", { auth: { name: "bob", refuse: true }, autoConnect: false });
    const bob = await refused;
    const bobEvents = [];
    bob.onAny((event) => bobEvents.push(event));
    const error = next(bob, "connect_error");
    bob.connect();
    const [err] = await error;
    assert.equal(err.message, "refused");
    assert.deepEqual(err.data, { name: "bob" });
    assert.deepEqual(seen.shift(), { name: "bob", rooms: ["lobby", "user:bob"], lobby: true, size: 2 });
    // The other lobby member saw its broadcasts (as on socket.io); the refused client got nothing.
    await until(() => events.length >= 2);
    assert.deepEqual(events.splice(0), [
      ["ann", "lobby", "bob"],
      ["ann", "joined", "bob"],
    ]);
    await sleep(100);
    assert.deepEqual(bobEvents, []);
    assert.equal(t.io.of("/").adapter.rooms.get("lobby")?.size, 1);
    assert.equal(t.io.of("/").adapter.rooms.get("user:bob"), undefined);
    assert.equal((await t.io.in("lobby").fetchSockets()).length, 1);
  } finally {
    await t.close();
  }
});
