// Sockets: a client's Socket in one namespace (emits, acks, rooms, socket.use and onAny, the delivery of
// its events) and the Engine.IO Connection under it (socket.conn).
"use strict";

const { EventEmitter } = require("node:events");
const { FerrioError, fromNative, rethrow, ackTimeoutError } = require("./errors.js");
const { encode, decode } = require("./payload.js");
const { RESERVED_EVENTS, emitLocal, runChain } = require("./events.js");
const { roomList, BroadcastOperator } = require("./broadcast.js");

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
  constructor(nsp, id, handshakeJson, recovered = false) {
    super();
    this.nsp = nsp;
    this.server = nsp.server;
    this.id = id;
    this.data = {};
    this.connected = false;
    /** Whether this socket is a session recovered after a temporary disconnection (socket.io 4.6+). */
    this.recovered = recovered;
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

module.exports = { Connection, Socket };
