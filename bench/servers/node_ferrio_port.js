// "node-ferrio-port": node_ferrio.js in own-port mode — `new Server(port)`, ferrio accepting the
// connections itself — to compare with attach mode (node_ferrio.js: `new Server(httpServer)`, where Node's
// http.Server accepts and hands each WebSocket over to ferrio).
//
//   node bench/servers/node_ferrio_port.js <port>
//
// Prints "LISTENING <port>" once ready; exits on SIGTERM/SIGINT.
"use strict";

const { Server } = require("../../bindings/node");

const io = new Server(Number(process.argv[2] || 3000), { host: "127.0.0.1" });

io.on("connection", (socket) => {
  socket.on("echo", (...args) => socket.emit("echo", ...args));
  socket.on("bcast", (...args) => io.emit("bcast", ...args));
});

io.ready().then((addr) => console.log(`LISTENING ${addr.port}`));

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => process.exit(0));
}
