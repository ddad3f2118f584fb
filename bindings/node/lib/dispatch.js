// The dispatcher: every item the native module reports for a server comes through ONE function, in order,
// as `(kind, nsp, sid, a, b, buffers, n1, n2)`; it routes each to the socket, namespace, adapter or server
// it concerns. The kinds' numbers are the native side's and live here only (KIND).
"use strict";

const { report } = require("./errors.js");
const { decode } = require("./payload.js");
const { emitLocal } = require("./events.js");
const { ROOM_EVENTS } = require("./adapter.js");

/**
 * The kinds of item the native dispatcher sends, the numbers of `kind` in src/dispatch.rs, with what `a`,
 * `b`, `buffers`, `n1` and `n2` carry for each.
 */
const KIND = Object.freeze({
  /** A connection to admit: a = handshake JSON, n1 = verdict token, n2 = dynamic parent index (or -1). */
  MIDDLEWARE: 0,
  /** A socket joined: a = handshake JSON, n2 = dynamic parent index (or -1). */
  CONNECT: 1,
  /** A client's event: a = name, b = arguments JSON (+ buffers), n1 = ack token (or -1). */
  EVENT: 2,
  /** a = reason, b = the socket's rooms (JSON), before they are left. */
  DISCONNECTING: 3,
  /** a = reason. */
  DISCONNECT: 4,
  /** An adapter room event: a = room, n1 = index in ROOM_EVENTS (join/leave name the socket). */
  ROOM: 5,
  /** The socket's connection moved from polling to WebSocket. */
  UPGRADE: 6,
  /** Another server's serverSideEmit: a = event, b = arguments JSON (+ buffers), n1 = ack token (or -1). */
  SERVER_SIDE: 7,
});

/** Routes one item to what it concerns; a throwing handler is reported (report), never propagated. */
function dispatch(server, kind, nspName, sid, a, b, buffers, n1, n2) {
  try {
    if (kind === KIND.EVENT) {
      const nsp = server._nsps.get(nspName);
      const socket = nsp && nsp.sockets.get(sid);
      if (socket) {
        socket._onevent(a, decode(b, buffers), n1);
        if (server._clustered) socket._shareData();
      }
      // (no socket: its unanswered ack token is released when it disconnects)
      return;
    }
    switch (kind) {
      case KIND.MIDDLEWARE:
        return server._onMiddleware(nspName, sid, a, n1, n2);
      case KIND.CONNECT:
        return server._onConnect(nspName, sid, a, n2);
      case KIND.DISCONNECTING: {
        const socket = socketOf(server, nspName, sid);
        if (!socket) return;
        socket._rooms = JSON.parse(b);
        emitLocal.call(socket, "disconnecting", a);
        socket._rooms = [];
        return;
      }
      case KIND.DISCONNECT: {
        const nsp = server._nsps.get(nspName);
        const socket = nsp && nsp.sockets.get(sid);
        if (!socket) return;
        nsp.sockets.delete(sid);
        socket.connected = false;
        socket._rooms = [];
        emitLocal.call(socket, "disconnect", a);
        return;
      }
      case KIND.SERVER_SIDE: {
        const nsp = server._nsps.get(nspName);
        if (nsp) nsp._onServerSide(a, decode(b, buffers), n1);
        return;
      }
      case KIND.UPGRADE: {
        const socket = socketOf(server, nspName, sid);
        if (socket) socket.conn.emit("upgrade", socket.conn.transport);
        return;
      }
      case KIND.ROOM: {
        const nsp = server._nsps.get(nspName);
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

function socketOf(server, nspName, sid) {
  const nsp = server._nsps.get(nspName);
  return nsp && nsp.sockets.get(sid);
}

/** The function the native server calls for `server`'s items (NativeServer.start). */
function dispatcher(server) {
  return (kind, nspName, sid, a, b, buffers, n1, n2) => dispatch(server, kind, nspName, sid, a, b, buffers, n1, n2);
}

module.exports = { KIND, dispatch, dispatcher };
