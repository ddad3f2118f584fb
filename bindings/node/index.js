// ferrio for Node.js: socket.io's Server API over ferrio's Rust engine.
//
// The native module (found by native.js: a local build or the platform package) owns the engine and
// reports what happens through ONE ThreadsafeFunction per server: `dispatch(kind, nsp, sid, a, b, buffers, n1, n2)`.
// Everything socket.io users touch lives here: the handler maps (EventEmitters), the middleware chains,
// the payload conversion (Buffers <-> {"_placeholder":true,"num":N}), and the Errors with stable codes.
"use strict";

const { EventEmitter } = require("node:events");
const fs = require("node:fs");
const path = require("node:path");
const { loadNative } = require("./native.js");

const native = loadNative(__dirname);

// ---- errors ---------------------------------------------------------------------------------------------

/** An Error with a stable `code` (ERR_FERRIO_*). */
class FerrioError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = "FerrioError";
    this.code = code;
  }
}

/** Turns a native rejection ("ERR_FERRIO_X: text") into a FerrioError. */
function fromNative(err) {
  const message = err && typeof err.message === "string" ? err.message : String(err);
  const m = /^(ERR_FERRIO_[A-Z0-9_]+): ([\s\S]*)$/.exec(message);
  if (m) return new FerrioError(m[1], m[2]);
  return new FerrioError("ERR_FERRIO_INTERNAL", message, { cause: err });
}

/**
 * Every error code of the engine, as the native module reports it: `{ value, name, code, refined }`, where
 * `code` is the `err.code` of ferrio's errors with that code and `refined` lists finer codes some of them
 * have instead (ERR_FERRIO_TOO_DEEP and ERR_FERRIO_TOO_MANY_ACKS are limits exceeded).
 */
const errorCodes = Object.freeze(native.errorCodes().map((entry) => Object.freeze(entry)));

/** Rethrows what a synchronous native call threw ("ERR_FERRIO_X: text") as a FerrioError. */
function rethrow(err) {
  throw fromNative(err);
}

function report(err) {
  // A throwing handler must not take the process (or the dispatcher) down; socket.io users see it on
  // stderr as they would see an uncaught exception, without the crash.
  process.emitWarning(err instanceof Error ? err : new Error(String(err)), {
    type: "FerrioHandlerError",
    code: "ERR_FERRIO_HANDLER",
  });
}

// ---- payloads -------------------------------------------------------------------------------------------

// The arguments nest at most the server's `maxJsonDepth` arrays and objects, their own array included
// (the engine checks the JSON text again; a Buffer's placeholder object is a level only it counts). The
// walks below stop there, so a circular value cannot run them forever: past the limit, a value that
// contains itself is refused as such (ERR_FERRIO_INVALID_ARGS), any other as the engine refuses it
// (ERR_FERRIO_TOO_DEEP, the code of its error).

function isBinary(v) {
  return Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

/** The own enumerable values of an object JSON.stringify would walk into (none for one with toJSON). */
function childrenOf(v) {
  if (Array.isArray(v)) return v;
  if (typeof v.toJSON === "function") return [];
  const out = [];
  for (const k in v) if (Object.prototype.hasOwnProperty.call(v, k)) out.push(v[k]);
  return out;
}

/** Whether `root` contains itself (without recursion: it may be deep). */
function isCircular(root) {
  const open = new Set();
  const stack = [[root, false]];
  while (stack.length) {
    const [v, leaving] = stack.pop();
    if (leaving) {
      open.delete(v);
      continue;
    }
    if (v === null || typeof v !== "object" || isBinary(v)) continue;
    if (open.has(v)) return true;
    open.add(v);
    stack.push([v, true]);
    for (const child of childrenOf(v)) stack.push([child, false]);
  }
  return false;
}

/** The error for arguments nesting deeper than `maxDepth`. */
function tooDeep(root) {
  if (isCircular(root)) {
    return new FerrioError("ERR_FERRIO_INVALID_ARGS", "the arguments are circular (they contain themselves)");
  }
  return new FerrioError("ERR_FERRIO_TOO_DEEP", "the arguments nest deeper than maxJsonDepth allows");
}

/** Whether `v` (at `depth` arrays/objects deep) holds binary data; throws past `maxDepth`. */
function hasBinary(v, depth, maxDepth, root) {
  if (v === null || typeof v !== "object") return false;
  if (isBinary(v)) return true;
  if (depth >= maxDepth) throw tooDeep(root);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (hasBinary(v[i], depth + 1, maxDepth, root)) return true;
    return false;
  }
  if (typeof v.toJSON === "function") return false;
  for (const k in v) {
    if (Object.prototype.hasOwnProperty.call(v, k) && hasBinary(v[k], depth + 1, maxDepth, root)) return true;
  }
  return false;
}

function toBuffer(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function deconstruct(v, buffers, depth, maxDepth, root) {
  if (v === null || typeof v !== "object") return v;
  if (isBinary(v)) {
    buffers.push(toBuffer(v));
    return { _placeholder: true, num: buffers.length - 1 };
  }
  if (depth >= maxDepth) throw tooDeep(root);
  if (Array.isArray(v)) return v.map((x) => deconstruct(x, buffers, depth + 1, maxDepth, root));
  if (typeof v.toJSON === "function") return v;
  const out = {};
  for (const k in v) {
    if (Object.prototype.hasOwnProperty.call(v, k)) out[k] = deconstruct(v[k], buffers, depth + 1, maxDepth, root);
  }
  return out;
}

/**
 * Arguments → [json, buffers|undefined], nesting at most `maxDepth` (the server's maxJsonDepth); throws
 * ERR_FERRIO_INVALID_ARGS when they cannot be sent, ERR_FERRIO_TOO_DEEP when they nest deeper.
 */
function encode(args, maxDepth) {
  let buffers;
  if (hasBinary(args, 0, maxDepth, args)) {
    buffers = [];
    args = deconstruct(args, buffers, 0, maxDepth, args);
  }
  let json;
  try {
    json = JSON.stringify(args);
  } catch (err) {
    throw new FerrioError("ERR_FERRIO_INVALID_ARGS", `the arguments cannot be serialised: ${err.message}`, {
      cause: err,
    });
  }
  return [json, buffers];
}

function reconstruct(v, buffers) {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = reconstruct(v[i], buffers);
    return v;
  }
  if (v._placeholder === true && typeof v.num === "number") return buffers[v.num];
  for (const k in v) v[k] = reconstruct(v[k], buffers);
  return v;
}

/** JSON text (+ buffers) → arguments array. */
function decode(json, buffers) {
  const args = JSON.parse(json);
  return buffers && buffers.length ? reconstruct(args, buffers) : args;
}

function roomList(rooms) {
  if (rooms === undefined || rooms === null) return [];
  if (typeof rooms === "string") return [rooms];
  if (typeof rooms[Symbol.iterator] === "function" && typeof rooms !== "string") {
    return Array.from(rooms, String);
  }
  return [String(rooms)];
}

const RESERVED_EVENTS = new Set([
  "connect",
  "connect_error",
  "disconnect",
  "disconnecting",
  "newListener",
  "removeListener",
]);

const ACK_TIMEOUT_MESSAGE = "operation has timed out";

function ackTimeoutError() {
  return new FerrioError("ERR_FERRIO_ACK_TIMEOUT", ACK_TIMEOUT_MESSAGE);
}

// ---- broadcast operator ---------------------------------------------------------------------------------

/** socket.io's BroadcastOperator: `to` / `in` / `except` / `volatile` / `local` / `timeout`, then an operation. */
class BroadcastOperator {
  constructor(nsp, rooms = [], except = [], flags = {}) {
    this._nsp = nsp;
    this._rooms = rooms;
    this._except = except;
    this._flags = flags;
  }

  _with(rooms, except, flags) {
    return new BroadcastOperator(this._nsp, rooms, except, flags);
  }

  to(room) {
    const rooms = this._rooms.slice();
    for (const r of roomList(room)) if (!rooms.includes(r)) rooms.push(r);
    return this._with(rooms, this._except, this._flags);
  }

  in(room) {
    return this.to(room);
  }

  except(room) {
    const except = this._except.slice();
    for (const r of roomList(room)) if (!except.includes(r)) except.push(r);
    return this._with(this._rooms, except, this._flags);
  }

  compress() {
    return this;
  }

  get volatile() {
    return this._with(this._rooms, this._except, { ...this._flags, volatile: true });
  }

  get local() {
    return this._with(this._rooms, this._except, { ...this._flags, local: true });
  }

  timeout(ms) {
    return this._with(this._rooms, this._except, { ...this._flags, timeout: ms });
  }

  _bits() {
    return (this._flags.volatile ? 1 : 0) | (this._flags.local ? 2 : 0);
  }

  emit(ev, ...args) {
    if (RESERVED_EVENTS.has(ev)) {
      throw new FerrioError("ERR_FERRIO_RESERVED_EVENT", `"${ev}" is a reserved event name`);
    }
    const server = this._nsp.server;
    server._checkOpen();
    if (typeof args[args.length - 1] === "function") {
      const ack = args.pop();
      this._emitWithAck(ev, args).then(
        ({ timedOut, responses }) => ack(timedOut ? ackTimeoutError() : null, responses),
        (err) => ack(err, []),
      );
      return true;
    }
    const [json, buffers] = encode(args, this._nsp.server._maxJsonDepth);
    try {
      this._nsp._native.broadcast(this._rooms, this._except, this._bits(), ev, json, buffers);
    } catch (err) {
      rethrow(err);
    }
    return true;
  }

  async _emitWithAck(ev, args) {
    const [json, buffers] = encode(args, this._nsp.server._maxJsonDepth);
    const timeout = this._flags.timeout === undefined ? 5000 : this._flags.timeout;
    let result;
    try {
      result = await this._nsp._native.broadcastWithAck(
        this._rooms,
        this._except,
        this._bits(),
        timeout,
        ev,
        json,
        buffers,
      );
    } catch (err) {
      throw fromNative(err);
    }
    const responses = result.replies.map((r) => decode(r.json, r.buffers)[0]);
    return { timedOut: result.timedOut, responses };
  }

  /** Resolves with one response per targeted socket; rejects with ERR_FERRIO_ACK_TIMEOUT. */
  emitWithAck(ev, ...args) {
    return new Promise((resolve, reject) => {
      args.push((err, responses) => (err ? reject(err) : resolve(responses)));
      this.emit(ev, ...args);
    });
  }

  async allSockets() {
    try {
      return new Set(await this._nsp._native.socketIds(this._rooms, this._except, this._bits()));
    } catch (err) {
      throw fromNative(err);
    }
  }

  async fetchSockets() {
    let json;
    try {
      json = await this._nsp._native.fetchSockets(this._rooms, this._except, this._bits());
    } catch (err) {
      throw fromNative(err);
    }
    return JSON.parse(json).map((details) => new RemoteSocket(this._nsp, details));
  }

  socketsJoin(room) {
    this._nsp._native.socketsJoin(this._rooms, this._except, this._bits(), roomList(room));
  }

  socketsLeave(room) {
    this._nsp._native.socketsLeave(this._rooms, this._except, this._bits(), roomList(room));
  }

  disconnectSockets(close = false) {
    this._nsp._native.disconnectSockets(this._rooms, this._except, this._bits(), !!close);
  }
}

/** A socket returned by fetchSockets(): its details, and operations that go through the adapter. */
class RemoteSocket {
  constructor(nsp, details) {
    const local = nsp.sockets.get(details.id);
    this.id = details.id;
    this.handshake = local ? local.handshake : details.handshake;
    this.rooms = new Set(details.rooms);
    this.data = local ? local.data : details.data;
    this._op = new BroadcastOperator(nsp, [details.id]);
  }

  emit(ev, ...args) {
    return this._op.emit(ev, ...args);
  }

  timeout(ms) {
    const op = this._op.timeout(ms);
    return {
      emit: (ev, ...args) => op.emit(ev, ...args),
      emitWithAck: (ev, ...args) => op.emitWithAck(ev, ...args),
    };
  }

  join(room) {
    this._op.socketsJoin(room);
  }

  leave(room) {
    this._op.socketsLeave(room);
  }

  disconnect(close = false) {
    this._op.disconnectSockets(close);
    return this;
  }
}

// ---- adapter --------------------------------------------------------------------------------------------

const ROOM_EVENTS = ["create-room", "delete-room", "join-room", "leave-room"];

/** The namespace's adapter as socket.io exposes it: `rooms` and `sids` (Maps of Sets, snapshots), events. */
class Adapter extends EventEmitter {
  constructor(nsp) {
    super();
    this.nsp = nsp;
    this._watching = false;
    this.on("newListener", (event) => {
      if (!this._watching && ROOM_EVENTS.includes(event)) {
        this._watching = true;
        nsp.server._native.watchRooms(nsp.name);
      }
    });
  }

  /** Map<room, Set<socket id>> (socket-id rooms included), built when read. */
  get rooms() {
    const map = new Map();
    for (const [room, ids] of JSON.parse(this.nsp._native.rooms())) map.set(room, new Set(ids));
    return map;
  }

  /** Map<socket id, Set<room>>, built when read. */
  get sids() {
    const map = new Map();
    for (const [room, ids] of JSON.parse(this.nsp._native.rooms())) {
      for (const id of ids) {
        let set = map.get(id);
        if (!set) map.set(id, (set = new Set()));
        set.add(room);
      }
    }
    return map;
  }

  socketRooms(id) {
    const rooms = this.nsp._native.socketRooms(id);
    return rooms.length ? new Set(rooms) : undefined;
  }

  /** How many servers the cluster has (1 on the in-memory adapter). */
  async serverCount() {
    try {
      return await this.nsp._native.serverCount();
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** Every room across the cluster (socket-id rooms left out), as the Redis adapter's `allRooms()`. */
  async allRooms() {
    try {
      return new Set(await this.nsp._native.allRooms());
    } catch (err) {
      throw fromNative(err);
    }
  }
}

// ---- socket ---------------------------------------------------------------------------------------------

const emitLocal = EventEmitter.prototype.emit;

/**
 * The Engine.IO connection under a socket (socket.io's `socket.conn`): its transport, `close()`, and the
 * `"upgrade"` event (with the new transport) when it moves from polling to WebSocket.
 */
class Connection extends EventEmitter {
  constructor(nsp, id) {
    super();
    this._nsp = nsp;
    this._id = id;
  }

  get transport() {
    return { name: this._nsp._native.transport(this._id) || "websocket" };
  }

  close() {
    this._nsp._native.disconnect(this._id, true);
  }
}

/** A client's socket in one namespace (socket.io's `Socket`). */
class Socket extends EventEmitter {
  constructor(nsp, id, handshakeJson) {
    super();
    this.nsp = nsp;
    this.server = nsp.server;
    this.id = id;
    this.data = {};
    this.connected = false;
    this._handshakeJson = handshakeJson;
    this._handshake = undefined;
    this._rooms = undefined; // a snapshot while disconnecting, then empty
    this._fns = undefined;
    this._any = undefined;
    this._anyOut = undefined;
    this._flags = undefined;
    this.conn = new Connection(nsp, id);
  }

  get disconnected() {
    return !this.connected;
  }

  get handshake() {
    if (this._handshake === undefined) this._handshake = JSON.parse(this._handshakeJson);
    return this._handshake;
  }

  /** A minimal stand-in for the handshake's IncomingMessage. */
  get request() {
    const h = this.handshake;
    return { headers: h.headers, url: h.url, method: "GET", connection: { remoteAddress: h.address } };
  }

  get client() {
    return { conn: this.conn, request: this.request };
  }

  get rooms() {
    if (this._rooms) return new Set(this._rooms);
    return new Set(this.nsp._native.socketRooms(this.id));
  }

  // -- emitting

  emit(ev, ...args) {
    if (RESERVED_EVENTS.has(ev)) {
      throw new FerrioError("ERR_FERRIO_RESERVED_EVENT", `"${ev}" is a reserved event name`);
    }
    const flags = this._flags;
    this._flags = undefined;
    this.server._checkOpen();
    let ack;
    if (typeof args[args.length - 1] === "function") ack = args.pop();
    if (this._anyOut) for (const fn of this._anyOut.slice()) fn.call(this, ev, ...args);
    const [json, buffers] = encode(args, this.server._maxJsonDepth);
    if (ack) {
      const timeout = flags && flags.timeout !== undefined ? flags.timeout : -1;
      this.nsp._native.emitWithAck(this.id, ev, json, buffers, timeout).then(
        (reply) => {
          const answer = decode(reply.json, reply.buffers);
          if (timeout >= 0) ack.call(this, null, ...answer);
          else ack.apply(this, answer);
        },
        (err) => {
          err = fromNative(err);
          // socket.io calls a timed ack back with the error; an untimed one is never called.
          if (timeout >= 0) ack.call(this, err.code === "ERR_FERRIO_DISCONNECTED" ? ackTimeoutError() : err);
        },
      );
      return true;
    }
    try {
      this.nsp._native.emit(this.id, ev, json, buffers, !!(flags && flags.volatile));
    } catch (err) {
      rethrow(err);
    }
    return true;
  }

  /** Resolves with the client's first ack argument; rejects with ERR_FERRIO_ACK_TIMEOUT after `timeout(ms)`. */
  emitWithAck(ev, ...args) {
    const timed = !!(this._flags && this._flags.timeout !== undefined);
    return new Promise((resolve, reject) => {
      args.push((...answer) => {
        if (timed) return answer[0] ? reject(answer[0]) : resolve(answer[1]);
        return resolve(answer[0]);
      });
      this.emit(ev, ...args);
    });
  }

  send(...args) {
    this.emit("message", ...args);
    return this;
  }

  write(...args) {
    return this.send(...args);
  }

  timeout(ms) {
    this._flags = { ...this._flags, timeout: ms };
    return this;
  }

  get volatile() {
    this._flags = { ...this._flags, volatile: true };
    return this;
  }

  compress() {
    return this;
  }

  // -- broadcasting from this socket (everybody but itself)

  _op() {
    return new BroadcastOperator(this.nsp, [], [this.id]);
  }

  to(room) {
    return this._op().to(room);
  }

  in(room) {
    return this.to(room);
  }

  except(room) {
    return this._op().except(room);
  }

  get broadcast() {
    return this._op();
  }

  get local() {
    return this._op().local;
  }

  // -- rooms

  join(rooms) {
    this.nsp._native.join(this.id, roomList(rooms));
  }

  leave(room) {
    this.nsp._native.leave(this.id, String(room));
  }

  // -- lifecycle

  disconnect(close = false) {
    this.nsp._native.disconnect(this.id, !!close);
    return this;
  }

  use(fn) {
    (this._fns || (this._fns = [])).push(fn);
    return this;
  }

  onAny(fn) {
    (this._any || (this._any = [])).push(fn);
    return this;
  }

  prependAny(fn) {
    (this._any || (this._any = [])).unshift(fn);
    return this;
  }

  offAny(fn) {
    if (!this._any) return this;
    if (fn) {
      const i = this._any.indexOf(fn);
      if (i >= 0) this._any.splice(i, 1);
    } else {
      this._any = undefined;
    }
    return this;
  }

  listenersAny() {
    return this._any ? this._any.slice() : [];
  }

  onAnyOutgoing(fn) {
    (this._anyOut || (this._anyOut = [])).push(fn);
    return this;
  }

  prependAnyOutgoing(fn) {
    (this._anyOut || (this._anyOut = [])).unshift(fn);
    return this;
  }

  offAnyOutgoing(fn) {
    if (!this._anyOut) return this;
    if (fn) {
      const i = this._anyOut.indexOf(fn);
      if (i >= 0) this._anyOut.splice(i, 1);
    } else {
      this._anyOut = undefined;
    }
    return this;
  }

  listenersAnyOutgoing() {
    return this._anyOut ? this._anyOut.slice() : [];
  }

  // -- dispatch (called by the server's dispatcher)

  _ackFn(token) {
    let sent = false;
    const native = this.server._native;
    const maxDepth = this.server._maxJsonDepth;
    return (...answer) => {
      if (sent) return;
      sent = true;
      const [json, buffers] = encode(answer, maxDepth);
      try {
        native.ack(token, json, buffers);
      } catch (err) {
        rethrow(err);
      }
    };
  }

  /**
   * In a cluster, other servers read `socket.data` (fetchSockets): it lives here in JavaScript, so its JSON
   * is handed to the native socket after each handler run that changed it.
   */
  _shareData() {
    let json;
    try {
      json = JSON.stringify(this.data === undefined ? null : this.data);
    } catch {
      return;
    }
    if (json !== this._sharedData) {
      this._sharedData = json;
      this.nsp._native.setData(this.id, json);
    }
  }

  _onevent(name, args, token) {
    if (token >= 0) args.push(this._ackFn(token));
    // As socket.io: onAny listeners see every event, before the socket.use chain (which may refuse it).
    if (this._any) for (const fn of this._any.slice()) fn.call(this, name, ...args);
    if (this._fns) {
      const event = [name, ...args];
      runChain(
        this._fns,
        (fn, next) => fn(event, next),
        (err) => {
          if (err) {
            if (this.listenerCount("error")) emitLocal.call(this, "error", err);
            return;
          }
          this._dispatch(event[0], event.slice(1));
        },
      );
      return;
    }
    this._dispatch(name, args);
  }

  _dispatch(name, args) {
    // A client may name an event "error": EventEmitter would throw without a listener.
    if (name === "error" && !this.listenerCount("error")) return;
    emitLocal.call(this, name, ...args);
  }
}

/** Runs `fns` in order through `call(fn, next)`; `done(err)` after the last or at the first error. */
function runChain(fns, call, done) {
  let i = 0;
  const next = (err) => {
    if (err) return done(err);
    if (i >= fns.length) return done(null);
    const fn = fns[i++];
    let called = false;
    try {
      call(fn, (e) => {
        if (called) return;
        called = true;
        next(e);
      });
    } catch (e) {
      if (!called) {
        called = true;
        done(e instanceof Error ? e : new Error(String(e)));
      } else {
        report(e);
      }
    }
  };
  next(null);
}

// ---- namespaces -----------------------------------------------------------------------------------------

/** A namespace (socket.io's `Namespace`): its sockets, middlewares, connection listeners and broadcasts. */
class Namespace extends EventEmitter {
  constructor(server, name, nativeNsp, parent) {
    super();
    this.server = server;
    this.name = name;
    this._native = nativeNsp;
    this._parent = parent;
    this._fns = [];
    /** Map<socket id, Socket> of the connected sockets. */
    this.sockets = new Map();
    this.adapter = new Adapter(this);
    // Other servers' serverSideEmit events reach this namespace's listeners.
    if (server.opts.adapter) nativeNsp.watchServerSide();
  }

  use(fn) {
    if (this._parent) return this._parent.use(fn);
    this._fns.push(fn);
    if (this._fns.length === 1) this.server._native.useMiddleware(this.name);
    return this;
  }

  _middlewares() {
    return this._parent ? this._parent._fns : this._fns;
  }

  _op() {
    return new BroadcastOperator(this);
  }

  to(room) {
    return this._op().to(room);
  }

  in(room) {
    return this.to(room);
  }

  except(room) {
    return this._op().except(room);
  }

  get volatile() {
    return this._op().volatile;
  }

  get local() {
    return this._op().local;
  }

  timeout(ms) {
    return this._op().timeout(ms);
  }

  compress() {
    return this;
  }

  /** Emits to every socket of the namespace (`"connection"` and friends stay local listeners' events). */
  emit(ev, ...args) {
    return this._op().emit(ev, ...args);
  }

  emitWithAck(ev, ...args) {
    return this._op().emitWithAck(ev, ...args);
  }

  send(...args) {
    this.emit("message", ...args);
    return this;
  }

  write(...args) {
    return this.send(...args);
  }

  allSockets() {
    return this._op().allSockets();
  }

  fetchSockets() {
    return this._op().fetchSockets();
  }

  socketsJoin(room) {
    this._op().socketsJoin(room);
  }

  socketsLeave(room) {
    this._op().socketsLeave(room);
  }

  disconnectSockets(close = false) {
    this._op().disconnectSockets(close);
  }

  /**
   * Sends an event to the other servers of the cluster (their `io.on(ev)` listeners); with a callback last,
   * waits for one answer per server: `(err, responses)`. Nothing to do on the in-memory adapter.
   */
  serverSideEmit(ev, ...args) {
    if (RESERVED_EVENTS.has(ev)) {
      throw new FerrioError("ERR_FERRIO_RESERVED_EVENT", `"${ev}" is a reserved event name`);
    }
    if (typeof args[args.length - 1] === "function") {
      const ack = args.pop();
      this.serverSideEmitWithAck(ev, ...args).then(
        (responses) => ack(null, responses),
        (err) => ack(err, []),
      );
      return true;
    }
    const [json, buffers] = encode(args, this.server._maxJsonDepth);
    try {
      this._native.serverSideEmit(String(ev), json, buffers);
    } catch (err) {
      rethrow(err);
    }
    return true;
  }

  /** Resolves with one answer per other server; rejects when some do not answer in time. */
  async serverSideEmitWithAck(ev, ...args) {
    if (RESERVED_EVENTS.has(ev)) {
      throw new FerrioError("ERR_FERRIO_RESERVED_EVENT", `"${ev}" is a reserved event name`);
    }
    const [json, buffers] = encode(args, this.server._maxJsonDepth);
    let replies;
    try {
      replies = await this._native.serverSideEmitWithAck(String(ev), json, buffers);
    } catch (err) {
      throw fromNative(err);
    }
    return replies.map((r) => decode(r.json, r.buffers)[0]);
  }

  _onServerSide(ev, args, token) {
    if (token >= 0) {
      let answered = false;
      args.push((...reply) => {
        if (answered) return;
        answered = true;
        const [json, buffers] = encode(reply.slice(0, 1), this.server._maxJsonDepth);
        try {
          this.server._native.serverSideAck(token, json, buffers);
        } catch (err) {
          rethrow(err);
        }
      });
    }
    emitLocal.call(this, ev, ...args);
  }

  _announce(socket) {
    emitLocal.call(this, "connection", socket);
    emitLocal.call(this, "connect", socket);
    if (this._parent) {
      emitLocal.call(this._parent, "connection", socket);
      emitLocal.call(this._parent, "connect", socket);
    }
  }
}

/** A dynamic namespace (`io.of(regex or function)`): what it registers applies to every child. */
class ParentNamespace extends Namespace {
  constructor(server, matcher, index) {
    super(server, `/_${index}`, null, null);
    this._matcher = matcher;
    this._index = index;
    /** The children created so far. */
    this.children = new Set();
  }

  use(fn) {
    this._fns.push(fn);
    if (this._fns.length === 1 && this._matcher instanceof RegExp) {
      this.server._native.useDynamicMiddleware(this._index);
    }
    return this;
  }

  _op() {
    return new ParentBroadcast(this);
  }

  fetchSockets() {
    return Promise.all([...this.children].map((c) => c.fetchSockets())).then((lists) => lists.flat());
  }
}

/** Broadcasts of a dynamic parent go to each child. */
class ParentBroadcast {
  constructor(parent) {
    this._parent = parent;
  }

  emit(ev, ...args) {
    for (const child of this._parent.children) child.emit(ev, ...args);
    return true;
  }

  socketsJoin(room) {
    for (const child of this._parent.children) child.socketsJoin(room);
  }

  socketsLeave(room) {
    for (const child of this._parent.children) child.socketsLeave(room);
  }

  disconnectSockets(close) {
    for (const child of this._parent.children) child.disconnectSockets(close);
  }
}

// ---- server ---------------------------------------------------------------------------------------------

const KIND_MIDDLEWARE = 0;
const KIND_CONNECT = 1;
const KIND_EVENT = 2;
const KIND_DISCONNECTING = 3;
const KIND_DISCONNECT = 4;
const KIND_ROOM = 5;
const KIND_UPGRADE = 6;
const KIND_SERVER_SIDE = 7;

const kRedisAdapter = Symbol("ferrio.redisAdapter");

/**
 * ferrio's Redis adapter, for `new Server({ adapter: createAdapter("redis://127.0.0.1:6379") })`. It speaks
 * @socket.io/redis-adapter's protocol, so ferrio and socket.io servers share one cluster. Options: `key`
 * (the channels' prefix, default "socket.io") and `requestsTimeout` (ms, default 5000), as that adapter's.
 */
function createAdapter(url, opts = {}) {
  if (typeof url !== "string" || url === "") {
    throw new FerrioError("ERR_FERRIO_INVALID_ARG", "createAdapter(url) takes a Redis URL such as redis://127.0.0.1:6379");
  }
  const adapter = function ferrioRedisAdapter() {
    throw new FerrioError("ERR_FERRIO_INVALID_ARG", "ferrio's Redis adapter is an option of new Server({ adapter })");
  };
  adapter[kRedisAdapter] = {
    url,
    key: opts.key === undefined ? undefined : String(opts.key),
    requestsTimeout: opts.requestsTimeout === undefined ? undefined : Number(opts.requestsTimeout),
  };
  return adapter;
}

function clientDir() {
  try {
    return path.join(path.dirname(require.resolve("socket.io-client/package.json")), "dist");
  } catch {
    return undefined;
  }
}

function nativeOptions(opts) {
  const o = {};
  if (opts.path !== undefined) o.path = String(opts.path);
  if (opts.pingInterval !== undefined) o.pingInterval = Number(opts.pingInterval);
  if (opts.pingTimeout !== undefined) o.pingTimeout = Number(opts.pingTimeout);
  if (opts.upgradeTimeout !== undefined) o.upgradeTimeout = Number(opts.upgradeTimeout);
  if (opts.connectTimeout !== undefined) o.connectTimeout = Number(opts.connectTimeout);
  if (opts.maxHttpBufferSize !== undefined) o.maxHttpBufferSize = Number(opts.maxHttpBufferSize);
  if (opts.allowUpgrades !== undefined) o.allowUpgrades = !!opts.allowUpgrades;
  if (opts.maxQueuedPackets !== undefined) o.maxQueuedPackets = Number(opts.maxQueuedPackets);
  if (opts.maxAttachments !== undefined) o.maxAttachments = Number(opts.maxAttachments);
  if (opts.maxJsonDepth !== undefined) o.maxJsonDepth = Number(opts.maxJsonDepth);
  if (opts.maxHeadersCount !== undefined) o.maxHeadersCount = Number(opts.maxHeadersCount);
  if (opts.maxHeaderSize !== undefined) o.maxHeaderSize = Number(opts.maxHeaderSize);
  if (opts.headersTimeout !== undefined) o.headersTimeout = Number(opts.headersTimeout);
  if (opts.maxConnections !== undefined) o.maxConnections = Number(opts.maxConnections);
  if (opts.maxConnectionsPerIp !== undefined) o.maxConnectionsPerIp = Number(opts.maxConnectionsPerIp);
  if (opts.maxNamespacesPerConnection !== undefined) {
    o.maxNamespacesPerConnection = Number(opts.maxNamespacesPerConnection);
  }
  if (opts.maxPendingAcks !== undefined) o.maxPendingAcks = Number(opts.maxPendingAcks);
  if (opts.rateLimit) {
    o.rateLimitEventsPerSecond = Number(opts.rateLimit.eventsPerSecond);
    o.rateLimitBurst = Number(opts.rateLimit.burst ?? 1);
  }
  if (opts.transports !== undefined) {
    const t = roomList(opts.transports);
    o.polling = t.includes("polling");
    o.websocket = t.includes("websocket");
  }
  if (opts.cors) {
    const origin = opts.cors.origin === undefined ? "*" : opts.cors.origin;
    if (origin === true || origin === "*") o.corsOrigins = ["*"];
    else if (typeof origin === "string") o.corsOrigins = [origin];
    else if (Array.isArray(origin)) o.corsOrigins = origin.map(String);
    else if (origin !== false) {
      throw new FerrioError("ERR_FERRIO_INVALID_ARG", "cors.origin must be a string, an array of strings or a boolean");
    }
    o.corsCredentials = !!opts.cors.credentials;
  }
  if (opts.staticDir !== undefined) o.staticDir = String(opts.staticDir);
  if (opts.adapter !== undefined && opts.adapter !== null) {
    const redis = opts.adapter[kRedisAdapter];
    if (!redis) {
      throw new FerrioError(
        "ERR_FERRIO_INVALID_ARG",
        "ferrio runs its adapters natively: use createAdapter(url) from \"ferrio\" for Redis (it interoperates with @socket.io/redis-adapter)",
      );
    }
    o.redisUrl = redis.url;
    if (redis.key !== undefined) o.redisKey = redis.key;
    if (redis.requestsTimeout !== undefined) o.redisRequestsTimeout = redis.requestsTimeout;
  }
  if (opts.serveClient !== false) {
    const dir = clientDir();
    if (dir && fs.existsSync(dir)) o.clientDir = dir;
  }
  return o;
}

/** JS RegExp → Rust regex syntax, when the translation is safe; otherwise null (JavaScript decides). */
function rustRegex(re) {
  if (re.flags.replace(/[iu]/g, "") !== "") return null;
  if (/\\[dDwWsSbB]|\(\?<?[=!]|\\[1-9]|\\c|\\u|\\x/.test(re.source)) return null;
  return (re.flags.includes("i") ? "(?i)" : "") + re.source;
}

function isHttpServer(v) {
  return v && typeof v === "object" && typeof v.listen === "function" && typeof v.on === "function";
}

/** socket.io's `Server`. */
/** The `ui/dist` of the @socket.io/admin-ui package the application installed, if any. */
function installedAdminUi() {
  try {
    const { createRequire } = require("node:module");
    const fromApp = createRequire(path.join(process.cwd(), "index.js"));
    const dir = path.join(path.dirname(fromApp.resolve("@socket.io/admin-ui/package.json")), "ui", "dist");
    return fs.existsSync(path.join(dir, "index.html")) ? dir : undefined;
  } catch {
    return undefined;
  }
}

class Server {
  /**
   * new Server(), new Server(port, opts), new Server(opts), new Server(httpServer, opts): with an
   * http.Server, ferrio serves its engine path and leaves every other route to the server's listeners.
   */
  constructor(srv, opts) {
    if (srv && typeof srv === "object" && !isHttpServer(srv)) {
      opts = srv;
      srv = undefined;
    }
    this.opts = opts || {};
    try {
      this._native = new native.NativeServer(nativeOptions(this.opts));
    } catch (err) {
      rethrow(err);
    }
    // The depth the engine allows, which the conversion of arguments keeps to (see encode).
    this._maxJsonDepth = this._native.maxJsonDepth;
    this._clustered = !!this.opts.adapter;
    this._nsps = new Map();
    this._parents = [];
    this._pending = new Map();
    this._listening = null;
    this._address = null;
    this._closed = false;
    this._dispatch = this._dispatch.bind(this);
    this.sockets = this.of("/");
    const server = this;
    this.engine = {
      get clientsCount() {
        return server._native.connectionCount();
      },
    };
    if (isHttpServer(srv)) this.attach(srv);
    else if (srv !== undefined && srv !== null) this.listen(srv, this.opts);
  }

  _checkOpen() {
    if (this._closed) throw new FerrioError("ERR_FERRIO_SERVER_CLOSED", "the server is closed");
  }

  // -- listening

  /**
   * Listens on `port` (0: the OS picks). socket.io's signature; `opts.host` (or a string second argument)
   * chooses the interface (default: all). Returns the server; `ready()` resolves once bound.
   */
  listen(port, opts) {
    this._checkOpen();
    if (this._listening) {
      throw new FerrioError("ERR_FERRIO_LISTEN", "the server is already listening");
    }
    const host = typeof opts === "string" ? opts : (opts && opts.host) || "0.0.0.0";
    port = port === undefined || port === null ? 0 : Number(port);
    this._native.start(this._dispatch);
    this._listening = this._native.listen(port, host).then(
      (bound) => {
        this._address = { address: host, family: host.includes(":") ? "IPv6" : "IPv4", port: bound };
        return this._address;
      },
      (err) => {
        err = fromNative(err);
        // Nobody may be awaiting ready(): release the loop and say why on stderr.
        this._native.close(0).catch(() => {});
        throw err;
      },
    );
    this._listening.catch((err) => {
      if (!this._readyCalled) process.emitWarning(err);
    });
    return this;
  }

  attach(srv, opts) {
    if (isHttpServer(srv)) {
      this._adopt(srv);
      return this;
    }
    return this.listen(srv, opts);
  }

  /** Resolves with `{address, family, port}` once listening; rejects (ERR_FERRIO_LISTEN) if binding failed. */
  ready() {
    this._readyCalled = true;
    if (!this._listening) {
      return Promise.reject(new FerrioError("ERR_FERRIO_LISTEN", "listen() was not called"));
    }
    return this._listening;
  }

  /** The bound address, or null before listening. */
  address() {
    return this._address;
  }

  /**
   * Serves through an existing http.Server, as socket.io's attach does: its requests under the engine
   * path (polling, the client bundle) are answered by ferrio, its WebSocket upgrades under the path are
   * handed over to ferrio's own I/O (the connection's descriptor is duplicated, so frames never pass
   * through JavaScript), and everything else stays with the server's other listeners (Express routes).
   */
  _adopt(srv) {
    this._checkOpen();
    if (this._listening) {
      throw new FerrioError("ERR_FERRIO_LISTEN", "the server is already listening");
    }
    this._native.start(this._dispatch);
    try {
      this._native.attach();
    } catch (err) {
      throw fromNative(err);
    }
    this.httpServer = srv;
    const base = `/${String(this.opts.path || "/socket.io").replace(/^\/+|\/+$/g, "")}`;
    const owns = (url) => {
      const path = String(url || "").split("?", 1)[0];
      return path === base || path.startsWith(`${base}/`);
    };
    const others = srv.listeners("request").slice();
    srv.removeAllListeners("request");
    srv.on("request", (req, res) => {
      if (owns(req.url)) this._relay(req, res);
      else for (const listener of others) listener.call(srv, req, res);
    });
    srv.on("upgrade", (req, socket, head) => {
      if (owns(req.url)) this._handOver(req, socket, head);
    });
    this._listening = new Promise((resolve, reject) => {
      const done = () => {
        srv.off("error", failed);
        const addr = srv.address();
        this._address = addr && typeof addr === "object" ? addr : null;
        resolve(this._address);
      };
      const failed = (err) => {
        srv.off("listening", done);
        reject(err);
      };
      if (srv.listening) done();
      else {
        srv.once("listening", done);
        srv.once("error", failed);
      }
    });
    this._listening.catch(() => {});
  }

  /** Relays one request of the attached server (polling is not the hot path; WebSockets are handed over). */
  _relay(req, res) {
    // The core answers 413 above maxHttpBufferSize: one byte more than the limit is all it needs to see.
    const limit = (this.opts.maxHttpBufferSize ?? 1e6) + 1;
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      if (size >= limit) return;
      const keep = chunk.length > limit - size ? chunk.subarray(0, limit - size) : chunk;
      chunks.push(keep);
      size += keep.length;
    });
    req.on("error", () => {});
    req.on("end", () => {
      const peer = req.socket || {};
      this._native
        .handleRequest(
          req.method,
          req.url,
          req.rawHeaders,
          Buffer.concat(chunks, size),
          peer.remoteAddress || "",
          peer.remotePort || 0,
        )
        .then(
          (reply) => {
            if (res.destroyed) return;
            res.writeHead(reply.status, reply.headers);
            res.end(reply.body);
          },
          (err) => {
            if (res.destroyed) return;
            err = fromNative(err);
            const closed = err.code === "ERR_FERRIO_SERVER_CLOSED";
            res.writeHead(closed ? 503 : 500, { "content-type": "application/json" });
            res.end(JSON.stringify({ code: 3, message: closed ? "Server closed" : "Internal error" }));
          },
        );
    });
  }

  /** Hands an upgrade request's connection to ferrio. */
  _handOver(req, socket, head) {
    const fd = socket._handle && typeof socket._handle.fd === "number" ? socket._handle.fd : -1;
    try {
      if (fd < 0) {
        throw new FerrioError(
          "ERR_FERRIO_ATTACH",
          "this connection has no descriptor to hand over (a TLS server?): WebSocket unavailable",
        );
      }
      this._native.adopt(fd, req.method, req.url, req.rawHeaders, head || Buffer.alloc(0));
    } catch (err) {
      const error = fromNative(err);
      if (!this._warnedHandOver) {
        this._warnedHandOver = true;
        process.emitWarning(error);
      }
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    // ferrio owns a duplicate of the descriptor now; Node's copy goes without touching the connection.
    socket.destroy();
  }

  /**
   * Disconnects every client, stops listening and releases the event loop; `fn` (and the returned
   * promise) once done. Later emits throw ERR_FERRIO_SERVER_CLOSED.
   */
  close(fn) {
    if (this._closed) {
      if (fn) process.nextTick(fn);
      return this._closing || Promise.resolve();
    }
    this._closed = true;
    const listening = this._listening ? this._listening.catch(() => {}) : Promise.resolve();
    this._closing = listening
      .then(() => this._native.close(1000))
      .then(
        () => {
          // As socket.io: closing the server closes the http.Server it is attached to.
          if (this.httpServer && this.httpServer.listening) this.httpServer.close();
          if (fn) fn();
        },
        (err) => {
          if (fn) fn(fromNative(err));
        },
      );
    return this._closing;
  }

  // -- the admin UI

  /**
   * Instruments the server for the official Socket.IO admin UI (the options of @socket.io/admin-ui's
   * `instrument(io, opts)`): `auth` (`false`, or `{type: "basic", username, password}` with a bcrypt hash),
   * `mode` ("development" or "production", default NODE_ENV or "development"), `readonly`, `namespaceName`
   * (default "/admin"), `serverId`; ferrio's own: `uiDir` (the UI's `ui/dist`, default the installed
   * @socket.io/admin-ui's; `false` serves none), `uiPath` (default "/admin/"), `statsInterval` (ms).
   */
  instrument(opts = {}) {
    this._checkOpen();
    const options = {
      namespaceName: "/admin",
      auth: undefined,
      readonly: false,
      serverId: undefined,
      mode: process.env.NODE_ENV || "development",
      uiDir: undefined,
      uiPath: "/admin/",
      statsInterval: 2000,
      ...opts,
    };
    if (options.auth === undefined) {
      throw new FerrioError("ERR_FERRIO_ADMIN", "the `auth` option must be specified or explicitly set to `false`");
    }
    let username;
    let passwordHash;
    if (options.auth !== false) {
      if (!options.auth || options.auth.type !== "basic") {
        throw new FerrioError("ERR_FERRIO_ADMIN", "invalid `auth` option, please check the documentation");
      }
      username = String(options.auth.username);
      passwordHash = String(options.auth.password);
    }
    const uiDir = options.uiDir === undefined ? installedAdminUi() : options.uiDir || undefined;
    try {
      this._native.instrument({
        namespace: String(options.namespaceName),
        username,
        passwordHash,
        readOnly: !!options.readonly,
        mode: options.mode === "development" ? "development" : "production",
        serverId: options.serverId === undefined ? undefined : String(options.serverId),
        statsIntervalMs: Number(options.statsInterval),
        uiDir,
        uiPath: String(options.uiPath),
      });
    } catch (err) {
      throw fromNative(err);
    }
    return this;
  }

  // -- namespaces

  of(name, fn) {
    if (typeof name === "function" || name instanceof RegExp) {
      const index = this._parents.length;
      const parent = new ParentNamespace(this, name, index);
      this._parents.push(parent);
      this._native.ofDynamic(name instanceof RegExp ? rustRegex(name) : null, index);
      if (name instanceof RegExp && rustRegex(name) === null) {
        // Untranslatable regex: JavaScript decides, as for a function matcher.
        parent._matcher = (n, _auth, next) => next(null, name.test(n));
      }
      if (fn) parent.on("connection", fn);
      return parent;
    }
    name = String(name);
    if (!name.startsWith("/")) name = `/${name}`;
    let nsp = this._nsps.get(name);
    if (!nsp) {
      nsp = new Namespace(this, name, this._native.namespace(name, false), null);
      this._nsps.set(name, nsp);
    }
    if (fn) nsp.on("connection", fn);
    return nsp;
  }

  _nspFor(name, parentIndex) {
    let nsp = this._nsps.get(name);
    if (!nsp && parentIndex >= 0) {
      const parent = this._parents[parentIndex];
      nsp = new Namespace(this, name, this._native.namespace(name, true), parent);
      this._nsps.set(name, nsp);
      parent.children.add(nsp);
    }
    return nsp;
  }

  // -- the main namespace's API on the server

  on(ev, fn) {
    this.sockets.on(ev, fn);
    return this;
  }

  once(ev, fn) {
    this.sockets.once(ev, fn);
    return this;
  }

  off(ev, fn) {
    this.sockets.off(ev, fn);
    return this;
  }

  removeListener(ev, fn) {
    return this.off(ev, fn);
  }

  removeAllListeners(ev) {
    this.sockets.removeAllListeners(ev);
    return this;
  }

  listeners(ev) {
    return this.sockets.listeners(ev);
  }

  use(fn) {
    this.sockets.use(fn);
    return this;
  }

  to(room) {
    return this.sockets.to(room);
  }

  in(room) {
    return this.sockets.in(room);
  }

  except(room) {
    return this.sockets.except(room);
  }

  get volatile() {
    return this.sockets.volatile;
  }

  get local() {
    return this.sockets.local;
  }

  timeout(ms) {
    return this.sockets.timeout(ms);
  }

  compress() {
    return this;
  }

  emit(ev, ...args) {
    this.sockets.emit(ev, ...args);
    return true;
  }

  emitWithAck(ev, ...args) {
    return this.sockets.emitWithAck(ev, ...args);
  }

  send(...args) {
    this.sockets.send(...args);
    return this;
  }

  write(...args) {
    return this.send(...args);
  }

  allSockets() {
    return this.sockets.allSockets();
  }

  fetchSockets() {
    return this.sockets.fetchSockets();
  }

  socketsJoin(room) {
    this.sockets.socketsJoin(room);
  }

  socketsLeave(room) {
    this.sockets.socketsLeave(room);
  }

  disconnectSockets(close = false) {
    this.sockets.disconnectSockets(close);
  }

  serverSideEmit(ev, ...args) {
    return this.sockets.serverSideEmit(ev, ...args);
  }

  serverSideEmitWithAck(ev, ...args) {
    return this.sockets.serverSideEmitWithAck(ev, ...args);
  }

  // -- the dispatcher: every item from the native side comes through here, in order

  _dispatch(kind, nspName, sid, a, b, buffers, n1, n2) {
    try {
      if (kind === KIND_EVENT) {
        const nsp = this._nsps.get(nspName);
        const socket = nsp && nsp.sockets.get(sid);
        if (socket) {
          socket._onevent(a, decode(b, buffers), n1);
          if (this._clustered) socket._shareData();
        }
        // (no socket: its unanswered ack token is released when it disconnects)
        return;
      }
      switch (kind) {
        case KIND_MIDDLEWARE:
          return this._onMiddleware(nspName, sid, a, n1, n2);
        case KIND_CONNECT:
          return this._onConnect(nspName, sid, a, n2);
        case KIND_DISCONNECTING: {
          const socket = this._socket(nspName, sid);
          if (!socket) return;
          socket._rooms = JSON.parse(b);
          emitLocal.call(socket, "disconnecting", a);
          socket._rooms = [];
          return;
        }
        case KIND_DISCONNECT: {
          const nsp = this._nsps.get(nspName);
          const socket = nsp && nsp.sockets.get(sid);
          if (!socket) return;
          nsp.sockets.delete(sid);
          socket.connected = false;
          socket._rooms = [];
          emitLocal.call(socket, "disconnect", a);
          return;
        }
        case KIND_SERVER_SIDE: {
          const nsp = this._nsps.get(nspName);
          if (nsp) nsp._onServerSide(a, decode(b, buffers), n1);
          return;
        }
        case KIND_UPGRADE: {
          const socket = this._socket(nspName, sid);
          if (socket) socket.conn.emit("upgrade", socket.conn.transport);
          return;
        }
        case KIND_ROOM: {
          const nsp = this._nsps.get(nspName);
          if (!nsp) return;
          const event = ROOM_EVENTS[n1];
          if (n1 >= 2) nsp.adapter.emit(event, a, sid);
          else nsp.adapter.emit(event, a);
          return;
        }
        default:
          return;
      }
    } catch (err) {
      report(err);
    }
  }

  _socket(nspName, sid) {
    const nsp = this._nsps.get(nspName);
    return nsp && nsp.sockets.get(sid);
  }

  _onMiddleware(nspName, sid, handshake, token, parentIndex) {
    const nsp = this._nspFor(nspName, parentIndex);
    if (!nsp) return this._native.verdict(token, "Invalid namespace", undefined);
    const socket = new Socket(nsp, sid, handshake);
    const fns = nsp._middlewares().slice();
    const parent = nsp._parent;
    if (parent && typeof parent._matcher === "function") {
      const matcher = parent._matcher;
      fns.unshift((s, next) =>
        matcher(nspName, s.handshake.auth, (err, ok) => {
          if (err) next(err);
          else next(ok ? null : new Error("Invalid namespace"));
        }),
      );
    }
    runChain(
      fns,
      (fn, next) => fn(socket, next),
      (err) => {
        if (err) {
          let data;
          if (err.data !== undefined) {
            try {
              data = JSON.stringify(err.data);
            } catch {
              data = undefined;
            }
          }
          this._native.verdict(token, String(err.message || err), data);
          return;
        }
        // Kept until its connection item arrives; forgotten if the connection dies before joining.
        const timer = setTimeout(() => this._pending.delete(sid), 30_000).unref();
        this._pending.set(sid, { socket, timer });
        this._native.verdict(token, undefined, undefined);
      },
    );
  }

  _onConnect(nspName, sid, handshake, parentIndex) {
    const nsp = this._nspFor(nspName, parentIndex);
    if (!nsp) return;
    let socket;
    const pending = this._pending.get(sid);
    if (pending) {
      this._pending.delete(sid);
      clearTimeout(pending.timer);
      socket = pending.socket;
    } else {
      socket = new Socket(nsp, sid, handshake);
    }
    socket.connected = true;
    nsp.sockets.set(sid, socket);
    nsp._announce(socket);
    if (this._clustered) socket._shareData();
  }
}

/** `require("ferrio")(port, opts)` works like `require("socket.io")(port, opts)`. */
function createServer(srv, opts) {
  return new Server(srv, opts);
}

module.exports = createServer;
module.exports.Server = Server;
module.exports.Namespace = Namespace;
module.exports.ParentNamespace = ParentNamespace;
module.exports.Socket = Socket;
module.exports.RemoteSocket = RemoteSocket;
module.exports.BroadcastOperator = BroadcastOperator;
module.exports.Adapter = Adapter;
module.exports.FerrioError = FerrioError;
module.exports.errorCodes = errorCodes;
module.exports.createAdapter = createAdapter;
module.exports.default = createServer;
