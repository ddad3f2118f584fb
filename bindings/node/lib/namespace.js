// Namespaces: a Namespace (its sockets, middlewares, connection listeners, broadcasts and server-side
// events) and the ParentNamespace of dynamic namespaces (io.of(regex or function)).
"use strict";

const { EventEmitter } = require("node:events");
const { FerrioError, fromNative, rethrow } = require("./errors.js");
const { encode, decode } = require("./payload.js");
const { RESERVED_EVENTS, emitLocal } = require("./events.js");
const { BroadcastOperator, ParentBroadcast } = require("./broadcast.js");
const { Adapter } = require("./adapter.js");

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

module.exports = { Namespace, ParentNamespace };
