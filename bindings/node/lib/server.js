// The Server: listening (on a port or an existing http.Server), closing, namespaces, the admin UI, the main
// namespace's API, and the admission of connections the dispatcher (dispatch.js) hands it.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const native = require("./addon.js");
const { FerrioError, fromNative, rethrow } = require("./errors.js");
const { runChain } = require("./events.js");
const { Socket } = require("./socket.js");
const { Namespace, ParentNamespace } = require("./namespace.js");
const { nativeOptions } = require("./options.js");
const { dispatcher } = require("./dispatch.js");

/** JS RegExp → Rust regex syntax, when the translation is safe; otherwise null (JavaScript decides). */
function rustRegex(re) {
  if (re.flags.replace(/[iu]/g, "") !== "") return null;
  if (/\\[dDwWsSbB]|\(\?<?[=!]|\\[1-9]|\\c|\\u|\\x/.test(re.source)) return null;
  return (re.flags.includes("i") ? "(?i)" : "") + re.source;
}

function isHttpServer(v) {
  return v && typeof v === "object" && typeof v.listen === "function" && typeof v.on === "function";
}

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

/** socket.io's `Server`. */
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
    // Connection state recovery: how long the core keeps a lost connection's session (ms; null: off),
    // and the `socket.data` of those sessions, which lives here in JavaScript (see _keepData).
    this._recoveryWindow = this._native.maxDisconnectionDuration;
    this._kept = new Map();
    this._listening = null;
    this._address = null;
    this._closed = false;
    // Every item the native side reports for this server goes through dispatch.js, in order.
    this._dispatch = dispatcher(this);
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
          for (const { timer } of this._kept.values()) clearTimeout(timer);
          this._kept.clear();
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

  /**
   * Connection state recovery: the core kept the session of a socket whose connection was lost (its id,
   * rooms and missed events), and `socket.data`, which lives here, is kept beside it until a recovered
   * socket takes it back (_newSocket). A little longer than the core keeps the session, so that a
   * session recovered at the end of the window still finds its data when its item arrives.
   */
  _keepData(nspName, sid, data) {
    if (this._recoveryWindow === null || this._recoveryWindow === undefined) return;
    const key = sid + nspName;
    const old = this._kept.get(key);
    if (old) clearTimeout(old.timer);
    const timer = setTimeout(() => this._kept.delete(key), this._recoveryWindow + 5_000).unref();
    this._kept.set(key, { data, timer });
  }

  /** A joining socket's facade; a recovered one gets back the `data` its session had. */
  _newSocket(nsp, sid, handshake, recovered) {
    const socket = new Socket(nsp, sid, handshake, !!recovered);
    if (recovered) {
      const key = sid + nsp.name;
      const kept = this._kept.get(key);
      if (kept) {
        this._kept.delete(key);
        clearTimeout(kept.timer);
        socket.data = kept.data;
      }
    }
    return socket;
  }

  _onMiddleware(nspName, sid, handshake, recovered, token, parentIndex) {
    const nsp = this._nspFor(nspName, parentIndex);
    if (!nsp) return this._native.verdict(token, "Invalid namespace", undefined);
    const socket = this._newSocket(nsp, sid, handshake, recovered);
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

  _onConnect(nspName, sid, handshake, recovered, parentIndex) {
    const nsp = this._nspFor(nspName, parentIndex);
    if (!nsp) return;
    let socket;
    const pending = this._pending.get(sid);
    if (pending) {
      this._pending.delete(sid);
      clearTimeout(pending.timer);
      socket = pending.socket;
    } else {
      socket = this._newSocket(nsp, sid, handshake, recovered);
    }
    socket.connected = true;
    nsp.sockets.set(sid, socket);
    nsp._announce(socket);
    if (this._clustered) socket._shareData();
  }
}

module.exports = { Server };
