// Baseline server for the ferrio end-to-end benchmark: the official
// socket.io 4.8.1 with the same tiny handlers as ferrio's
// crates/ferrio-redis/examples/bench_server.rs.
//
//   node bench/servers/socketio.js <port>
//
// Environment (the counterparts of bench_server's flags):
//   REDIS_URL          one server of a cluster over @socket.io/redis-adapter (--redis)
//   REDIS_STREAMS_URL  one server of a cluster over @socket.io/redis-streams-adapter (--redis-streams)
//   RECOVERY_MS        connectionStateRecovery with maxDisconnectionDuration = RECOVERY_MS (--recovery)
//
// Prints "LISTENING <port>" once ready; exits on SIGTERM/SIGINT.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 3000);

// The adapter option, once its Redis clients are connected (undefined: the in-memory adapter).
async function makeAdapter() {
  if (process.env.REDIS_URL && process.env.REDIS_STREAMS_URL) {
    throw new Error("REDIS_URL and REDIS_STREAMS_URL exclude each other");
  }
  if (process.env.REDIS_URL) {
    const { createAdapter } = require("@socket.io/redis-adapter");
    const { createClient } = require("redis");
    const pub = createClient({ url: process.env.REDIS_URL });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    return createAdapter(pub, sub);
  }
  if (process.env.REDIS_STREAMS_URL) {
    const { createAdapter } = require("@socket.io/redis-streams-adapter");
    const { createClient } = require("redis");
    const client = createClient({ url: process.env.REDIS_STREAMS_URL });
    await client.connect();
    return createAdapter(client);
  }
  return undefined;
}

async function main() {
  const options = {};
  const adapter = await makeAdapter();
  if (adapter) options.adapter = adapter;
  if (process.env.RECOVERY_MS) {
    const ms = Number(process.env.RECOVERY_MS);
    if (!Number.isFinite(ms) || ms <= 0) throw new Error(`RECOVERY_MS: invalid ${process.env.RECOVERY_MS}`);
    options.connectionStateRecovery = { maxDisconnectionDuration: ms };
  }
  const httpServer = http.createServer();
  const io = new Server(httpServer, options);

  io.on("connection", (socket) => {
    socket.on("echo", (...args) => socket.emit("echo", ...args));
    socket.on("bcast", (...args) => io.emit("bcast", ...args));
  });

  httpServer.listen(port, "127.0.0.1", () => {
    console.log(`LISTENING ${httpServer.address().port}`);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => process.exit(0));
}
