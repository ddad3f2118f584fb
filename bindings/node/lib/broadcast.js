// Broadcasts: the rooms-and-flags selection socket.io calls a BroadcastOperator and the operations on it
// (emit, acks, fetchSockets, socketsJoin…), the RemoteSocket fetchSockets returns, and a dynamic parent
// namespace's broadcasts, which go to each of its children.
"use strict";

const { FerrioError, fromNative, rethrow, ackTimeoutError } = require("./errors.js");
const { encode, decode } = require("./payload.js");
const { RESERVED_EVENTS } = require("./events.js");

/** A room, or an iterable of rooms, as the list of room names the native side takes. */
function roomList(rooms) {
  if (rooms === undefined || rooms === null) return [];
  if (typeof rooms === "string") return [rooms];
  if (typeof rooms[Symbol.iterator] === "function" && typeof rooms !== "string") {
    return Array.from(rooms, String);
  }
  return [String(rooms)];
}

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

module.exports = { roomList, BroadcastOperator, RemoteSocket, ParentBroadcast };
