// Adapters: a namespace's adapter as socket.io exposes it (its rooms, their events, cluster-wide queries),
// and createAdapter, which selects ferrio's native Redis adapter (an option of the Server, not an object
// that runs in JavaScript).
"use strict";

const { EventEmitter } = require("node:events");
const { FerrioError, fromNative } = require("./errors.js");

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

module.exports = { ROOM_EVENTS, Adapter, kRedisAdapter, createAdapter };
