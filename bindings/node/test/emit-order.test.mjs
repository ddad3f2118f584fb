// Emits with and without acks leave in call order: the packet of an emit with ack is sent by the call
// itself, not by a task that may run after later emits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { start, next, within } from "./helpers.mjs";

test("emits with and without acks reach the client in call order", async () => {
  const t = await start();
  try {
    const serverSide = next(t.io, "connection");
    const client = await t.client();
    const [socket] = await serverSide;
    const seen = [];
    client.on("plain", (n) => seen.push(n));
    client.on("asked", (n, ack) => {
      seen.push(n);
      ack(n);
    });
    const answers = [];
    for (let n = 0; n < 200; n++) {
      if (n % 2) answers.push(socket.timeout(3000).emitWithAck("asked", n));
      else socket.emit("plain", n);
    }
    const acked = await within(Promise.all(answers), 5000, "the acks");
    assert.deepEqual(acked, Array.from({ length: 100 }, (_, i) => 2 * i + 1));
    assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => i));
  } finally {
    await t.close();
  }
});

test("broadcasts with and without acks reach the client in call order", async () => {
  const t = await start();
  try {
    const serverSide = next(t.io, "connection");
    const client = await t.client();
    await serverSide;
    const seen = [];
    client.on("plain", (n) => seen.push(n));
    client.on("asked", (n, ack) => {
      seen.push(n);
      ack(n);
    });
    const answers = [];
    for (let n = 0; n < 200; n++) {
      if (n % 2) answers.push(t.io.timeout(3000).emitWithAck("asked", n));
      else t.io.emit("plain", n);
    }
    const acked = await within(Promise.all(answers), 5000, "the acks");
    assert.deepEqual(acked, Array.from({ length: 100 }, (_, i) => [2 * i + 1]));
    assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => i));
  } finally {
    await t.close();
  }
});
