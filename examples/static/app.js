// ferrio chat — the browser side. The event contract is at the top of index.html.
"use strict";

const $ = (id) => document.getElementById(id);
// A server that asks for a token (the C example with FERRIO_CHAT_TOKEN) gets the page's ?token=… as auth.
const token = new URLSearchParams(location.search).get("token");
const socket = io({ transports: ["polling", "websocket"], auth: token ? { token } : {} });

const state = {
  me: null,            // {id, nick} once the server accepted the nickname
  rooms: [],           // [{name, count}]
  users: [],           // [{id, nick}]
  joined: new Set(),   // rooms this user is in
  current: null,       // {kind: "room", name} or {kind: "dm", id, nick}
  logs: new Map(),     // "room:<name>" or "dm:<id>" -> [entry]
  unread: new Map(),   // same keys -> count
};

const keyOf = (view) => (view.kind === "room" ? "room:" + view.name : "dm:" + view.id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child); // text is inserted as text, never as HTML
  return node;
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function flash(text) {
  $("notice").textContent = text;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => ($("notice").textContent = ""), 4000);
}

function record(key, entry) {
  if (!state.logs.has(key)) state.logs.set(key, []);
  state.logs.get(key).push(entry);
  if (!state.current || keyOf(state.current) !== key) {
    state.unread.set(key, (state.unread.get(key) || 0) + 1);
  }
  render();
}

// ---- rendering -------------------------------------------------------------------------------------

function badge(key) {
  const n = state.unread.get(key);
  return n ? el("span", { class: "badge" }, String(n)) : "";
}

function renderRooms() {
  const list = $("room-list");
  list.replaceChildren();
  if (state.rooms.length === 0) list.append(el("li", { class: "empty" }, "no rooms yet"));
  for (const room of state.rooms) {
    const active = state.current && state.current.kind === "room" && state.current.name === room.name;
    const classes = [state.joined.has(room.name) ? "joined" : "", active ? "active" : ""].join(" ");
    list.append(
      el("li", { class: classes, title: state.joined.has(room.name) ? "open" : "join" },
        el("button", { type: "button", onclick: () => openRoom(room.name) },
          el("span", { class: "name" }, "# " + room.name),
          badge("room:" + room.name),
          el("span", { class: "count" }, String(room.count))))
    );
  }
}

function renderUsers() {
  const list = $("user-list");
  list.replaceChildren();
  for (const user of state.users) {
    const self = state.me && user.id === state.me.id;
    const active = state.current && state.current.kind === "dm" && state.current.id === user.id;
    const item = self
      ? el("li", { class: "self" }, el("span", { class: "name" }, user.nick + " (you)"))
      : el("li", { class: active ? "active" : "" },
          el("button", { type: "button", onclick: () => openDm(user) },
            el("span", { class: "name" }, "@ " + user.nick), badge("dm:" + user.id)));
    list.append(item);
  }
}

function renderLog() {
  const log = $("log");
  log.replaceChildren();
  const view = state.current;
  const canWrite = !!view && (view.kind === "dm" || state.joined.has(view.name));
  $("title").textContent = !view ? "Join or create a room"
    : view.kind === "room" ? "# " + view.name : "Private with " + view.nick;
  $("leave-button").hidden = !(view && view.kind === "room" && state.joined.has(view.name));
  $("message-input").disabled = !canWrite;
  $("send-button").disabled = !canWrite;
  if (!view) return;
  for (const entry of state.logs.get(keyOf(view)) || []) {
    if (entry.type === "notice") {
      log.append(el("li", { class: "notice-line" }, clock(entry.time) + " — " + entry.text));
    } else {
      log.append(el("li", { class: entry.mine ? "mine" : "" },
        el("time", {}, clock(entry.time)), " ",
        el("strong", {}, entry.from), " ",
        el("span", {}, entry.text)));
    }
  }
  log.scrollTop = log.scrollHeight;
}

function render() {
  renderRooms();
  renderUsers();
  renderLog();
}

function show(view) {
  state.current = view;
  state.unread.delete(keyOf(view));
  render();
  $("message-input").focus();
}

// ---- actions ---------------------------------------------------------------------------------------

function openRoom(name) {
  if (state.joined.has(name)) return show({ kind: "room", name });
  socket.emit("join", name, (ack) => {
    if (ack.error) return flash(ack.error);
    state.joined.add(ack.room);
    show({ kind: "room", name: ack.room });
  });
}

function openDm(user) {
  show({ kind: "dm", id: user.id, nick: user.nick });
}

function enter(nick, done) {
  socket.emit("nick", nick, (ack) => {
    if (ack.error) return done(ack.error);
    state.me = { id: ack.id, nick: ack.nick };
    $("whoami").textContent = "as " + ack.nick;
    $("login").hidden = true;
    $("chat").hidden = false;
    done(null);
  });
}

$("nick-form").addEventListener("submit", (e) => {
  e.preventDefault();
  enter($("nick-input").value, (error) => {
    $("nick-error").textContent = error || "";
    if (!error) render();
  });
});

$("join-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("join-input").value.trim();
  if (!name) return;
  openRoom(name);
  $("join-input").value = "";
});

$("leave-button").addEventListener("click", () => {
  const view = state.current;
  if (!view || view.kind !== "room") return;
  socket.emit("leave", view.name, (ack) => {
    if (ack.error) return flash(ack.error);
    state.joined.delete(view.name);
    record("room:" + view.name, { type: "notice", text: "you left", time: Date.now() });
  });
});

$("message-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const view = state.current;
  const text = $("message-input").value;
  if (!view || !text.trim()) return;
  const [event, arg] = view.kind === "room"
    ? ["message", { room: view.name, text }]
    : ["private", { to: view.id, text }];
  socket.emit(event, arg, (ack) => {
    if (ack.error) return flash(ack.error);
    $("message-input").value = "";
  });
});

// ---- server events ---------------------------------------------------------------------------------

socket.on("rooms", (rooms) => { state.rooms = rooms; render(); });
socket.on("users", (users) => { state.users = users; render(); });

socket.on("message", (m) => {
  record("room:" + m.room, { from: m.from, text: m.text, time: m.time, mine: state.me && m.from === state.me.nick });
});

socket.on("private", (m) => {
  const mine = state.me && m.from.id === state.me.id;
  const peer = mine ? m.to : m.from;
  record("dm:" + peer.id, { from: m.from.nick, text: m.text, time: m.time, mine });
});

socket.on("notice", (n) => record("room:" + n.room, { type: "notice", text: n.text, time: n.time }));

socket.on("connect", () => {
  $("status").textContent = "online";
  $("status").className = "status online";
  if (!state.me) return;
  // The server forgot us: claim the nickname again and rejoin the rooms.
  const rooms = [...state.joined];
  state.joined.clear();
  enter(state.me.nick, (error) => {
    if (error) {
      state.me = null;
      $("chat").hidden = true;
      $("login").hidden = false;
      $("nick-error").textContent = error;
      return;
    }
    for (const room of rooms) {
      socket.emit("join", room, (ack) => { if (ack.ok) { state.joined.add(ack.room); render(); } });
    }
  });
});

socket.on("connect_error", (err) => {
  $("status").textContent = "offline — " + err.message;
  $("status").className = "status offline";
});

socket.on("disconnect", () => {
  $("status").textContent = "offline — reconnecting…";
  $("status").className = "status offline";
});
