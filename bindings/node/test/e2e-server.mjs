// The e2e test-server contract (tests/e2e/SERVER.md) on ferrio's Node binding: a copy of
// tests/e2e/js/reference-server.mjs (written for the official socket.io server) with ONLY its
// `import { Server } from "socket.io"` line changed. Passing the shared suite with it is the migration test:
//
//   FERRIO_E2E_SERVER=bindings/node/test/e2e-server.mjs node --test tests/e2e/js/
//
// `new Server(httpServer, opts)` + `httpServer.listen(...)` work because ferrio takes over the http.Server's
// listen() (see the README's migration note).
import { createServer } from "node:http";
import { Server } from "../index.mjs";

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

const serverOpts = {};
if (opt["ping-interval"]) serverOpts.pingInterval = Number(opt["ping-interval"]);
if (opt["ping-timeout"]) serverOpts.pingTimeout = Number(opt["ping-timeout"]);
if (opt["max-payload"]) serverOpts.maxHttpBufferSize = Number(opt["max-payload"]);
if (opt["connect-timeout"]) serverOpts.connectTimeout = Number(opt["connect-timeout"]);
if (opt.transports) serverOpts.transports = opt.transports.split(",");
if (opt["http-compression"]) {
  serverOpts.httpCompression =
    opt["http-compression"] === "off" ? false : { threshold: Number(opt["http-compression"]) };
}
if (opt.recovery) serverOpts.connectionStateRecovery = { maxDisconnectionDuration: Number(opt.recovery) };

const httpServer = createServer();
const io = new Server(httpServer, serverOpts);

const sortedRooms = (socket) => [...socket.rooms].sort();

function setup(parent) {
  parent.use((socket, next) => {
    const auth = socket.handshake.auth;
    if (auth && auth.reject === true) {
      const err = new Error("not authorized");
      err.data = { reason: "rejected by middleware", code: 4001 };
      return next(err);
    }
    next();
  });

  parent.on("connection", (socket) => {
    const nsp = socket.nsp; // the child namespace when `parent` is a dynamic (regex) parent
    if (/^\/dyn-[0-9]+$/.test(nsp.name)) socket.emit("nsp", nsp.name);
    socket.emit("welcome", { id: socket.id, auth: socket.handshake.auth, nsp: nsp.name });

    socket.on("disconnecting", (reason) => {
      socket.broadcast.emit("leaving", { id: socket.id, rooms: sortedRooms(socket), reason });
    });

    const withAck = (fn) => (...a) => {
      const ack = typeof a[a.length - 1] === "function" ? a.pop() : undefined;
      fn(ack, ...a);
    };

    socket.on("echo", withAck((ack, ...a) => {
      socket.emit("echo", ...a);
      if (ack) ack(...a);
    }));
    socket.on("ack", withAck((ack, ...a) => ack && ack(...a)));
    socket.on("join", withAck((ack, room) => {
      socket.join(room);
      ack && ack(sortedRooms(socket));
    }));
    socket.on("leave", withAck((ack, room) => {
      socket.leave(room);
      ack && ack(sortedRooms(socket));
    }));
    socket.on("rooms", withAck((ack) => ack && ack(sortedRooms(socket))));
    socket.on("to-room", withAck((_ack, room, ...a) => socket.to(room).emit("room-msg", ...a)));
    socket.on("room-size", withAck((ack, room) => {
      const members = nsp.adapter.rooms.get(room);
      ack && ack(members ? members.size : 0);
    }));
    socket.on("private", withAck((_ack, id, msg) => nsp.to(id).emit("private", { from: socket.id, msg })));
    socket.on("broadcast", withAck((_ack, ...a) => nsp.emit("broadcast", ...a)));
    socket.on("broadcast-others", withAck((_ack, ...a) => socket.broadcast.emit("broadcast", ...a)));
    socket.on("ask", withAck((ack, ms, ...a) => {
      socket.timeout(ms).emit("question", ...a, (err, ...answers) => {
        if (!ack) return;
        ack(err ? { error: "timeout" } : { ok: answers });
      });
    }));
    socket.on("ask-all", withAck((ack, ms) => {
      nsp.timeout(ms).emit("question", (err, answers) => {
        if (!ack) return;
        ack(err ? { error: "timeout", answers } : { ok: answers });
      });
    }));
    socket.on("disconnect-me", withAck((_ack, close) => socket.disconnect(close)));
    socket.on("transport", withAck((ack) => ack && ack(socket.conn.transport.name)));
    socket.on("handshake", withAck((ack) => {
      const h = socket.handshake;
      ack && ack({
        query: h.query, headers: h.headers, auth: h.auth, address: h.address,
        url: h.url, secure: h.secure, time: h.time, issued: h.issued,
      });
    }));
    socket.on("recovered", withAck((ack) => {
      ack && ack({ recovered: socket.recovered, id: socket.id, rooms: sortedRooms(socket), data: socket.data ?? null });
    }));
    socket.on("emit-me", withAck((_ack, ...a) => socket.emit("to-me", ...a)));
    socket.on("set-data", withAck((ack, value) => {
      socket.data = value;
      ack && ack(true);
    }));
    socket.on("fetch", withAck(async (ack) => {
      const sockets = await nsp.fetchSockets();
      ack && ack(sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data })));
    }));
    socket.on("sockets-join", withAck((ack, room) => {
      nsp.socketsJoin(room);
      ack && ack(true);
    }));
    socket.on("disconnect-all", withAck((ack) => {
      ack && ack(true);
      nsp.disconnectSockets();
    }));
  });
}

setup(io.of("/"));
setup(io.of("/chat"));
setup(io.of(/^\/dyn-[0-9]+$/));

httpServer.listen(Number(opt.port || 0), "127.0.0.1", () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});

const shutdown = () => {
  io.close();
  process.exit(0);
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
