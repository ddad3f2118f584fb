// The dispatcher: everything the native module reports for a server comes through ONE function, in order,
// a batch at a time: a flat array of ITEM_FIELDS values per item, `kind, nsp, sid, a, b, buffers, n1, n2`.
// It routes each item to the socket, namespace, adapter or server it concerns. The kinds' numbers are the
// native host layer's (ferrio-host's EventKind and RoomChange), read from the module, never retyped here.
"use strict";

const native = require("./addon.js");
const { report } = require("./errors.js");
const { decode } = require("./payload.js");
const { emitLocal } = require("./events.js");

/** A native table (`{ NAME: number }`) with its names in number order. */
function byNumber(table) {
  return Object.fromEntries(Object.entries(table).sort((x, y) => x[1] - y[1]));
}

/**
 * The kinds of item the native dispatcher sends (the native module's table), with what `a`, `b`,
 * `buffers`, `n1` and `n2` carry for each:
 * - MIDDLEWARE: a connection to admit: a = handshake JSON, b = whether it is a recovered session
 *   (connection state recovery), n1 = verdict token, n2 = dynamic parent index (or -1);
 * - CONNECT: a socket joined: a = handshake JSON, b = whether it is a recovered session, n2 = dynamic
 *   parent index (or -1);
 * - EVENT: a client's event: a = name, b = arguments JSON (+ buffers), n1 = ack token (or -1);
 * - DISCONNECTING: a = reason, b = the socket's rooms (JSON), before they are left;
 * - DISCONNECT: a = reason, n1 = 1 when the core kept the socket's session for connection state recovery
 *   (else 0);
 * - ROOM: an adapter room event: a = room, n1 = its number in ROOM_CHANGES (join/leave name the socket);
 * - UPGRADE: the socket's connection moved from polling to WebSocket;
 * - SERVER_SIDE: another server's serverSideEmit: a = event, b = arguments JSON (+ buffers), n1 = ack
 *   token (or -1).
 */
const KIND = Object.freeze(byNumber(native.eventKinds()));

/** The adapter events of ROOM items, by number (`create-room`, `delete-room`, `join-room`, `leave-room`). */
const ROOM_CHANGES = Object.freeze(byNumber(native.roomChanges()));
const ROOM_EVENT = [];
for (const [event, n] of Object.entries(ROOM_CHANGES)) ROOM_EVENT[n] = event;
Object.freeze(ROOM_EVENT);

/** How many values one item takes in a batch. */
const ITEM_FIELDS = native.ITEM_FIELDS;

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
        return server._onMiddleware(nspName, sid, a, b, n1, n2);
      case KIND.CONNECT:
        return server._onConnect(nspName, sid, a, b, n2);
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
        if (n1 === 1) server._keepData(nspName, sid, socket.data);
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
        const event = ROOM_EVENT[n1];
        if (n1 === ROOM_CHANGES["join-room"] || n1 === ROOM_CHANGES["leave-room"]) nsp.adapter.emit(event, a, sid);
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

/** The function the native server calls with `server`'s batches (NativeServer.start). */
function dispatcher(server) {
  return (batch) => {
    for (let i = 0; i < batch.length; i += ITEM_FIELDS) {
      dispatch(
        server,
        batch[i],
        batch[i + 1],
        batch[i + 2],
        batch[i + 3],
        batch[i + 4],
        batch[i + 5],
        batch[i + 6],
        batch[i + 7],
      );
    }
  };
}

module.exports = { KIND, ROOM_CHANGES, ITEM_FIELDS, dispatch, dispatcher };
