// "node-ferrio": ferrio's Node.js binding (bindings/node) with the benchmark handlers written in
// JavaScript — the same file as socketio.js with only the require changed. Every event crosses from the
// engine's tokio threads to the Node main thread (one ThreadsafeFunction call per batch) and back.
//
//   node bench/servers/node_ferrio.js <port>
//
// Prints "LISTENING <port>" once ready; exits on SIGTERM/SIGINT.
"use strict";

const http = require("http");
const { Server } = require("../../bindings/node");

const port = Number(process.argv[2] || 3000);
const httpServer = http.createServer();
const io = new Server(httpServer);

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
