// Emits with and without acks leave in call order: the packet of an emit with ack is sent by the call
// itself, not by a task that may run after later emits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { start, next, within } from "./helpers.mjs";

/**
 * 200 emits, odd ones with an ack, made by `emitters(io, socket)` = { plain(n), asked(n) → Promise }: the
 * client must see them in call order, and the acks must answer each its own emit.
 */
async function inCallOrder(emitters, wrap) {
  const t = await start();
  try {
    const serverSide = next(t.io, "connection");
    const client = await t.client();
    const [socket] = await serverSide;
    const { plain, asked } = emitters(t.io, socket);
    const seen = [];
    client.on("plain", (n) => seen.push(n));
    client.on("asked", (n, ack) => {
      seen.push(n);
      ack(n);
    });
    const answers = [];
    for (let n = 0; n < 200; n++) {
      if (n % 2) answers.push(asked(n));
      else plain(n);
    }
    const acked = await within(Promise.all(answers), 5000, "the acks");
    assert.deepEqual(acked, Array.from({ length: 100 }, (_, i) => wrap(2 * i + 1)));
    assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => i));
  } finally {
    await t.close();
  }
}

test("emits with and without acks reach the client in call order", () =>
  inCallOrder(
    (io, socket) => ({
      plain: (n) => socket.emit("plain", n),
      asked: (n) => socket.timeout(3000).emitWithAck("asked", n),
    }),
    (n) => n,
  ));

test("broadcasts with and without acks reach the client in call order", () =>
  inCallOrder(
    (io) => ({
      plain: (n) => io.emit("plain", n),
      // A broadcast's answers are one per socket.
      asked: (n) => io.timeout(3000).emitWithAck("asked", n),
    }),
    (n) => [n],
  ));
