// Baseline server for the ferrio end-to-end benchmark: the official
// socket.io 4.8.1 with the same tiny handlers as ferrio's
// crates/ferrio-redis/examples/bench_server.rs.
//
//   node bench/servers/socketio.js <port>
//
// Prints "LISTENING <port>" once ready; exits on SIGTERM/SIGINT.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 3000);
const httpServer = http.createServer();
// REDIS_URL: one server of a cluster over @socket.io/redis-adapter (bench/cluster.sh).
let adapter;
if (process.env.REDIS_URL) {
  const { createAdapter } = require("@socket.io/redis-adapter");
  const { createClient } = require("redis");
  const pub = createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  Promise.all([pub.connect(), sub.connect()]).catch((err) => {
    console.error(err);
    process.exit(1);
  });
  adapter = createAdapter(pub, sub);
}
const io = new Server(httpServer, adapter ? { adapter } : {});

io.on("connection", (socket) => {
  socket.on("echo", (...args) => socket.emit("echo", ...args));
  socket.on("bcast", (...args) => io.emit("bcast", ...args));
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`LISTENING ${httpServer.address().port}`);
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => process.exit(0));
}
