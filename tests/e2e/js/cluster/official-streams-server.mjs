// The streams cluster program on the official stack: socket.io 4.8.1 with
// @socket.io/redis-streams-adapter (createAdapter over a `redis` v4 client) and connection state recovery.
// crates/ferrio-redis/examples/streams_cluster_server.rs is the same program on ferrio; the cluster test
// (tests/e2e/js/redis-streams-cluster.test.mjs) runs both on one Redis and drives them through their
// clients' `cmd` events. The contract is in tests/e2e/SERVER.md ("The Redis Streams cluster program").
//
//   node official-streams-server.mjs --redis URL --recovery MS --name NAME [--port N]
//
// Binds 127.0.0.1 (port 0: the OS picks), prints exactly `LISTENING <port>` once it accepts connections,
// exits on SIGTERM or SIGINT.
import { createServer } from "node:http";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-streams-adapter");
const { createClient } = require("redis");

const args = process.argv.slice(2);
const opt = {};
for (let i = 0; i < args.length; i += 2) {
  const name = args[i];
  const value = args[i + 1];
  if (!name.startsWith("--") || value === undefined) {
    console.error(`bad argument ${name}`);
    process.exit(2);
  }
  opt[name.slice(2)] = value;
}
if (!opt.redis || !opt.recovery) {
  console.error("usage: official-streams-server.mjs --redis URL --recovery MS --name NAME [--port N]");
  process.exit(2);
}
const name = opt.name || "N";

const redis = createClient({ url: opt.redis });
// Errors while Redis is away are expected: the client reconnects by itself (and queues commands meanwhile).
redis.on("error", () => {});
await redis.connect();

const httpServer = createServer();
const io = new Server(httpServer, {
  adapter: createAdapter(redis),
  connectionStateRecovery: { maxDisconnectionDuration: Number(opt.recovery) },
});

const sorted = (rooms) => [...rooms].sort();
const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

io.on("connection", (socket) => {
  // A recovered socket is back in its rooms already.
  if (!socket.recovered) socket.join(socket.handshake.auth?.rooms || []);
  socket.on("cmd", async (cmd, ack) => {
    if (typeof ack !== "function") return;
    try {
      ack({ ok: await run(socket, cmd || {}) });
    } catch (err) {
      ack({ error: String((err && err.message) || err) });
    }
  });
});

// Server-side events from the other servers: `who` answers with this server's name and the arguments.
io.on("who", (...args) => {
  const callback = typeof args[args.length - 1] === "function" ? args.pop() : null;
  if (callback) callback({ server: name, args });
});

async function run(socket, cmd) {
  switch (cmd.op) {
    case "broadcast": {
      let op = io.of("/");
      if (cmd.room !== undefined) op = op.to(cmd.room);
      if (cmd.except !== undefined) op = op.except(cmd.except);
      op.emit(cmd.event, ...(cmd.args || []));
      return true;
    }
    case "emit-to":
      io.of("/").to(cmd.id).emit(cmd.event, ...(cmd.args || []));
      return true;
    case "recovered":
      return { recovered: socket.recovered, id: socket.id, rooms: sorted(socket.rooms), data: socket.data };
    case "set-data":
      socket.data = cmd.value;
      return true;
    case "fetch": {
      const sockets = await io.of("/").fetchSockets();
      return sockets.map((s) => ({ id: s.id, rooms: sorted(s.rooms) })).sort(byId);
    }
    case "sockets-join":
      io.of("/").socketsJoin(cmd.room);
      return true;
    case "server-side-emit":
      return await io.of("/").serverSideEmitWithAck(cmd.event, ...(cmd.args || []));
    case "server-count":
      return await io.of("/").adapter.serverCount();
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));

await new Promise((resolve) => httpServer.listen(Number(opt.port || 0), "127.0.0.1", resolve));
console.log(`LISTENING ${httpServer.address().port}`);
