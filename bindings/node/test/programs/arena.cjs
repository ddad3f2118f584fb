// Arena: a team game lobby written for socket.io 4 in its documented style: auth middlewares, teams as
// rooms, chat and whispers, binary uploads, acknowledgements both ways, an admin namespace, dynamic match
// namespaces, and admin tools built on fetchSockets / socketsJoin / socketsLeave / disconnectSockets.
//
// The only switch is ARENA_SERVER, read right below: "socket.io" (the default) or "ferrio". Everything
// else, the run call included, is the same for both.
//
//   ARENA_SERVER=ferrio ARENA_PORT=0 node arena.cjs      # prints "LISTENING <port>" once it accepts
"use strict";

const http = require("node:http");
const crypto = require("node:crypto");

const { Server } = process.env.ARENA_SERVER === "ferrio" ? require("ferrio") : require("socket.io");

/** token -> account. A real service would ask its user database. */
const ACCOUNTS = {
  "t-ann": { name: "Ann", team: "red", role: "admin" },
  "t-ben": { name: "Ben", team: "red", role: "player" },
  "t-cat": { name: "Cat", team: "blue", role: "player" },
  "t-dov": { name: "Dov", team: "blue", role: "player" },
  "t-eve": { name: "Eve", team: "blue", role: "player", banned: true },
};

const httpServer = http.createServer((req, res) => {
  if (req.url === "/health") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify({ ok: true }));
  }
  res.writeHead(404).end();
});
const io = new Server(httpServer, { pingInterval: 10000, pingTimeout: 5000 });

const activity = new Map(); // socket id -> events received from it (all of them, onAny)
const muted = new Set(); // names an admin muted
let ticks = 0;

function refusal(message, data) {
  const err = new Error(message);
  err.data = data;
  return err;
}

const roomSize = (room) => io.of("/").adapter.rooms.get(room)?.size ?? 0;
const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

// ---- the main namespace ------------------------------------------------------------------------------------

// 1. Who are you? (the token from the handshake's auth; one connection per player)
io.use(async (socket, next) => {
  const { token } = socket.handshake.auth;
  if (!token) return next(refusal("authentication required", { code: "NO_TOKEN" }));
  const account = ACCOUNTS[token];
  if (!account) return next(refusal("invalid token", { code: "BAD_TOKEN", token }));
  const already = await io.in(`user:${account.name}`).fetchSockets();
  if (already.length > 0) return next(refusal("already connected", { code: "DUPLICATE", name: account.name }));
  socket.data.name = account.name;
  socket.data.team = account.team;
  socket.data.role = account.role;
  next();
});

// 2. Are you allowed in? Then you get your rooms and your game state.
io.use((socket, next) => {
  const account = ACCOUNTS[socket.handshake.auth.token];
  if (account.banned) return next(refusal("banned", { code: "BANNED", name: account.name }));
  socket.join([`team:${account.team}`, `user:${account.name}`]);
  socket.data.score = 0;
  socket.data.messages = 0;
  socket.data.joinedAt = Date.now();
  next();
});

io.on("connection", (socket) => {
  const { name, team, role } = socket.data;
  socket.join("lobby");

  socket.emit("welcome", {
    id: socket.id,
    name,
    team,
    role,
    client: socket.handshake.query.client ?? null,
    rooms: [...socket.rooms].sort(),
    online: roomSize("lobby"),
  });
  socket.to("lobby").emit("user:joined", { name, team });
  io.to("lobby").except(`team:${team}`).emit("rival:joined", { name, team });

  // Everything a client sends is counted, whatever becomes of it.
  socket.onAny(() => activity.set(socket.id, (activity.get(socket.id) || 0) + 1));

  // Packet middleware: admin tools are for admins, and muted players cannot chat.
  socket.use(([event], next) => {
    if (event.startsWith("admin:") && socket.data.role !== "admin") return next(new Error(`not allowed: ${event}`));
    if (event === "chat" && muted.has(socket.data.name)) return next(new Error("muted"));
    next();
  });
  socket.on("error", (err) => socket.emit("denied", err.message));

  socket.on("me", (ack) => {
    const { joinedAt, ...data } = socket.data;
    ack({
      id: socket.id,
      data,
      joinedAtIsTime: typeof joinedAt === "number" && joinedAt <= Date.now(),
      rooms: [...socket.rooms].sort(),
      activity: activity.get(socket.id) || 0,
      transport: socket.conn.transport.name,
    });
  });

  // -- talking

  socket.on("chat", (text, ack) => {
    socket.data.messages += 1;
    socket.to("lobby").emit("chat", { from: name, text });
    if (typeof ack === "function") ack({ ok: true, n: socket.data.messages });
  });

  socket.on("team:say", (text) => socket.to(`team:${team}`).emit("team:say", { from: name, text }));

  socket.on("whisper", (to, text, ack) => {
    io.to(`user:${to}`).emit("whisper", { from: name, text });
    ack(roomSize(`user:${to}`));
  });

  // -- rooms

  socket.on("room:join", (room, ack) => {
    socket.join(room);
    ack([...socket.rooms].sort());
  });

  socket.on("room:leave", (room, ack) => {
    socket.leave(room);
    ack([...socket.rooms].sort());
  });

  socket.on("room:sizes", (rooms, ack) => ack(Object.fromEntries(rooms.map((room) => [room, roomSize(room)]))));

  socket.on("who", async (room, ack) => {
    const sockets = await io.in(room).fetchSockets();
    const players = sockets.map((s) => ({
      id: s.id,
      name: s.data.name,
      team: s.data.team,
      score: s.data.score,
      rooms: [...s.rooms].sort(),
    }));
    ack(players.sort(byName));
  });

  socket.on("score", (points, ack) => {
    socket.data.score += points;
    ack(socket.data.score);
  });

  // -- binary

  socket.on("upload", (meta, data, ack) => {
    const digest = crypto.createHash("sha1").update(data).digest("hex");
    socket.broadcast.emit("upload", { from: name, meta, data, thumb: [data.subarray(0, 1)] });
    ack({
      size: data.length,
      digest,
      head: data.subarray(0, 4),
      nested: { parts: [data.subarray(0, 2), { tail: data.subarray(data.length - 2) }] },
    });
  });

  socket.on("echo", (...args) => {
    const ack = args.pop();
    ack(...args);
  });

  // -- the server asks

  socket.on("ask", async (to, question, ack) => {
    const [target] = await io.in(`user:${to}`).fetchSockets();
    const live = target && io.of("/").sockets.get(target.id);
    if (!live) return ack({ error: "no such user" });
    live.timeout(400).emit("question", { from: name, question }, (err, answer) => {
      ack(err ? { error: "timeout" } : { answer });
    });
  });

  socket.on("buy", async (item, ack) => {
    try {
      const yes = await socket.timeout(1000).emitWithAck("confirm", { item, price: item.length * 10 });
      ack({ bought: yes ? item : null });
    } catch (err) {
      ack({ error: "no confirmation" });
    }
  });

  socket.on("quiz", async (question, ack) => {
    try {
      const answers = await io.timeout(1000).except(socket.id).emitWithAck("quiz", question);
      ack({ answers: answers.sort() });
    } catch (err) {
      ack({ error: err.message });
    }
  });

  socket.on("quiz:team", (teamName, question, ack) => {
    io.timeout(300)
      .to(`team:${teamName}`)
      .emit("quiz", question, (err, responses) => ack({ timedOut: err instanceof Error, responses: responses.sort() }));
  });

  // -- fire and forget

  socket.on("ping:volatile", (n) => socket.volatile.emit("pong:volatile", n));

  socket.on("ticks", (on, ack) => {
    if (on) socket.join("tickers");
    else socket.leave("tickers");
    ack(socket.rooms.has("tickers"));
  });

  // -- admin tools (socket.use lets only admins through)

  socket.on("admin:announce", (text) => io.emit("announcement", { text, by: name }));

  socket.on("admin:gather", (teamName, room, ack) => {
    io.in(`team:${teamName}`).socketsJoin(room);
    ack(roomSize(room));
  });

  socket.on("admin:scatter", (room, ack) => {
    io.in(room).socketsLeave(room);
    ack(roomSize(room));
  });

  socket.on("admin:mute", (who, ack) => {
    muted.add(who);
    ack([...muted].sort());
  });

  socket.on("admin:kick", (who, ack) => {
    io.in(`user:${who}`).disconnectSockets();
    ack(roomSize(`user:${who}`));
  });

  socket.on("admin:kick-team", (teamName, ack) => {
    io.in(`team:${teamName}`).except(socket.id).disconnectSockets(true);
    ack(true);
  });

  // -- leaving

  socket.on("disconnecting", (reason) => {
    const rooms = [...socket.rooms].filter((room) => room !== socket.id).sort();
    socket.to("lobby").emit("user:leaving", { name, rooms, reason });
  });

  socket.on("disconnect", () => {
    activity.delete(socket.id);
    io.to("lobby").emit("presence", { left: name, online: roomSize("lobby") });
  });
});

// ---- /admin: its own middleware (the main namespace's do not run here) -------------------------------------

const admin = io.of("/admin");
admin.use((socket, next) => {
  const account = ACCOUNTS[socket.handshake.auth.token];
  if (!account || account.role !== "admin") return next(refusal("admins only", { code: "NOT_ADMIN" }));
  socket.data.name = account.name;
  next();
});
admin.on("connection", (socket) => {
  socket.on("stats", (ack) => {
    const main = io.of("/");
    ack({
      sockets: main.sockets.size,
      lobby: roomSize("lobby"),
      red: roomSize("team:red"),
      blue: roomSize("team:blue"),
      admins: admin.sockets.size,
    });
  });
});

// ---- /match-<n>: one namespace per match, created on demand ------------------------------------------------

const matches = io.of(/^\/match-\d+$/);
matches.use((socket, next) => {
  const account = ACCOUNTS[socket.handshake.auth.token];
  if (!account) return next(refusal("players only", { code: "NO_PLAYER" }));
  socket.data.name = account.name;
  next();
});
matches.on("connection", (socket) => {
  const match = socket.nsp;
  socket.emit("match:hello", { match: match.name, players: match.sockets.size });
  socket.broadcast.emit("match:joined", socket.data.name);
  socket.on("move", (move, ack) => {
    socket.broadcast.emit("move", { by: socket.data.name, move });
    ack(match.name);
  });
});

// ---- the ticker and the run call --------------------------------------------------------------------------

const ticker = setInterval(() => {
  ticks += 1;
  io.volatile.to("tickers").emit("tick", ticks);
}, 100);

httpServer.listen(Number(process.env.ARENA_PORT || 0), "127.0.0.1", () => {
  console.log(`LISTENING ${httpServer.address().port}`);
});

process.on("SIGTERM", () => {
  clearInterval(ticker);
  setTimeout(() => process.exit(0), 1000).unref();
  io.close(() => process.exit(0));
});
