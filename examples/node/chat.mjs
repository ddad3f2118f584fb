// The ferrio chat example on the Node.js binding (bindings/node): the event contract of examples/README.md,
// the page of examples/static/, the same behaviour as examples/rust/src/lib.rs — written as a socket.io
// program would be.
//
//   npm install --prefix bindings/node     # once: builds the native module
//   node examples/node/chat.mjs            # then open http://127.0.0.1:3000
//
// PORT changes the port; the server binds 127.0.0.1 only and stops on Ctrl-C (or SIGTERM).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Server } from "../../bindings/node/index.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MAX_NAME_CHARS = 32;
const MAX_TEXT_CHARS = 1000;
const SOCKET_ID = /^[A-Za-z0-9_-]{20}$/;

const port = Number(process.env.PORT || 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`error: PORT must be a port number, not ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}

// The page is served by ferrio itself (a ferrio option; socket.io leaves static files to the app).
const io = new Server({ staticDir: path.join(HERE, "../static") });
const nsp = io.of("/");

/** socket id → nickname, for the users who picked one. */
const users = new Map();

const now = () => Date.now();
const chars = (s) => [...s].length;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function validateName(raw, what) {
  if (typeof raw !== "string") throw new Error(`the ${what} must be a string`);
  const name = raw.trim();
  if (!name) throw new Error(`the ${what} must not be empty`);
  if (chars(name) > MAX_NAME_CHARS) throw new Error(`the ${what} is longer than ${MAX_NAME_CHARS} characters`);
  if (CONTROL.test(name)) throw new Error(`the ${what} contains control characters`);
  return name;
}

function validateRoom(raw) {
  const room = validateName(raw, "room name");
  if (SOCKET_ID.test(room)) throw new Error("that room name is reserved");
  return room;
}

function validateText(raw) {
  if (typeof raw !== "string") throw new Error("text must be a string");
  const text = raw.trim();
  if (!text) throw new Error("the message is empty");
  if (chars(text) > MAX_TEXT_CHARS) throw new Error(`the message is longer than ${MAX_TEXT_CHARS} characters`);
  return text;
}

function nickOf(socket) {
  const nick = users.get(socket.id);
  if (!nick) throw new Error("pick a nickname first");
  return nick;
}

/** Public rooms (never the sockets' own rooms) with their member counts, sorted by name. */
function roomList() {
  const list = [];
  for (const [name, members] of nsp.adapter.rooms) {
    if (!nsp.sockets.has(name)) list.push({ name, count: members.size });
  }
  return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function userList() {
  return [...users]
    .map(([id, nick]) => ({ id, nick }))
    .sort((a, b) => (a.nick < b.nick ? -1 : a.nick > b.nick ? 1 : a.id < b.id ? -1 : 1));
}

// Push `rooms` / `users` to everybody when they actually change (coalesced per tick).
let lastRooms = "[]";
let lastUsers = "[]";
let scheduled = false;
function presenceChanged() {
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    const rooms = roomList();
    const users = userList();
    if (JSON.stringify(rooms) !== lastRooms) {
      lastRooms = JSON.stringify(rooms);
      nsp.emit("rooms", rooms);
    }
    if (JSON.stringify(users) !== lastUsers) {
      lastUsers = JSON.stringify(users);
      nsp.emit("users", users);
    }
  });
}
for (const event of ["create-room", "delete-room", "join-room", "leave-room"]) {
  nsp.adapter.on(event, presenceChanged);
}

function notice(room, text) {
  nsp.to(room).emit("notice", { room, text, time: now() });
}

const actions = {
  nick(socket, raw) {
    const nick = validateName(raw, "nickname");
    const taken = [...users].some(([id, other]) => id !== socket.id && other.toLowerCase() === nick.toLowerCase());
    if (taken) throw new Error("that nickname is already taken");
    users.set(socket.id, nick);
    presenceChanged();
    return { id: socket.id, nick };
  },
  join(socket, raw) {
    const nick = nickOf(socket);
    const room = validateRoom(raw);
    if (!socket.rooms.has(room)) {
      socket.join(room);
      notice(room, `${nick} joined`);
    }
    return { room };
  },
  leave(socket, room) {
    const nick = nickOf(socket);
    if (typeof room !== "string") throw new Error("the room name must be a string");
    if (SOCKET_ID.test(room) || !socket.rooms.has(room)) throw new Error("you are not in that room");
    socket.leave(room);
    notice(room, `${nick} left`);
    return { room };
  },
  message(socket, arg) {
    const nick = nickOf(socket);
    if (!arg || typeof arg !== "object") throw new Error("expected {room, text}");
    if (typeof arg.room !== "string") throw new Error("room must be a string");
    const text = validateText(arg.text);
    if (SOCKET_ID.test(arg.room) || !socket.rooms.has(arg.room)) throw new Error("join the room first");
    nsp.to(arg.room).emit("message", { room: arg.room, from: nick, text, time: now() });
    return {};
  },
  private(socket, arg) {
    const nick = nickOf(socket);
    if (!arg || typeof arg !== "object") throw new Error("expected {to, text}");
    if (typeof arg.to !== "string") throw new Error("to must be a socket id");
    const text = validateText(arg.text);
    const targetNick = users.get(arg.to);
    if (!targetNick) throw new Error("no such user");
    nsp.to([arg.to, socket.id]).emit("private", {
      from: { id: socket.id, nick },
      to: { id: arg.to, nick: targetNick },
      text,
      time: now(),
    });
    return {};
  },
};

io.on("connection", (socket) => {
  // The newcomer gets the current lists; later changes reach everybody.
  socket.emit("rooms", roomList());
  socket.emit("users", userList());

  for (const [name, action] of Object.entries(actions)) {
    socket.on(name, (arg, ack) => {
      let answer;
      try {
        answer = { ...action(socket, arg), ok: true };
      } catch (err) {
        answer = { error: err.message };
      }
      if (typeof ack === "function") ack(answer);
    });
  }

  socket.on("disconnecting", () => {
    // The rooms are still visible here.
    const nick = users.get(socket.id);
    if (!nick) return;
    for (const room of [...socket.rooms].filter((r) => r !== socket.id).sort()) {
      notice(room, `${nick} is leaving`);
    }
  });
  socket.on("disconnect", () => {
    if (users.delete(socket.id)) presenceChanged();
  });
});

io.listen(port, { host: "127.0.0.1" });
io.ready().then(
  ({ port: bound }) => console.log(`ferrio chat (Node) on http://127.0.0.1:${bound}`),
  (err) => {
    console.error(`error: cannot listen on 127.0.0.1:${port}: ${err.message}`);
    process.exitCode = 1;
  },
);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => io.close());
}
