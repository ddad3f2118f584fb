// ferrio for Node.js: socket.io's Server API over ferrio's Rust engine.
//
// The native module (found by native.js: a local build or the platform package) owns the engine and
// reports what happens through ONE ThreadsafeFunction per server, a batch per call: `kind, nsp, sid, a, b,
// buffers, n1, n2` per item, the kind numbers being the native host layer's (ferrio-host).
// Everything socket.io users touch is JavaScript, one module per concept under lib/, lowest first:
//   addon.js      the loaded native module
//   errors.js     FerrioError and its stable codes, native errors → FerrioError, handler errors → warnings
//   payload.js    arguments ⇄ JSON + Buffers ({"_placeholder":true,"num":N}), the depth and circularity checks
//   events.js     reserved event names, local emits, the middleware chains
//   broadcast.js  BroadcastOperator (to / in / except / volatile / local / timeout), RemoteSocket
//   adapter.js    a namespace's Adapter (rooms and their events), createAdapter (Redis)
//   socket.js     Socket and its Engine.IO Connection
//   namespace.js  Namespace and ParentNamespace (dynamic namespaces)
//   options.js    socket.io's Server options → the native server's
//   dispatch.js   the dispatcher: routes each item of a native batch to its socket, namespace, adapter or server
//   server.js     Server
// This file is the entry point: it exports what `require("ferrio")` gives (index.mjs re-exports it).
"use strict";

const { FerrioError, errorCodes } = require("./lib/errors.js");
const { BroadcastOperator, RemoteSocket } = require("./lib/broadcast.js");
const { Adapter, createAdapter } = require("./lib/adapter.js");
const { Socket } = require("./lib/socket.js");
const { Namespace, ParentNamespace } = require("./lib/namespace.js");
const { Server } = require("./lib/server.js");

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
