// Options: socket.io's Server options translated into the native server's (validated there, except what
// only JavaScript can judge: the adapter and the CORS origin's type), and where the browser client is.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { FerrioError } = require("./errors.js");
const { kRedisAdapter } = require("./adapter.js");
// `transports` takes a name or a list of names, as `to(room)` does rooms.
const { roomList } = require("./broadcast.js");

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
  if (opts.connectionStateRecovery) {
    // socket.io takes an object of options, each defaulted (`{}`: every default); so does ferrio.
    const r = typeof opts.connectionStateRecovery === "object" ? opts.connectionStateRecovery : {};
    const recovery = {};
    if (r.maxDisconnectionDuration !== undefined) {
      recovery.maxDisconnectionDuration = Number(r.maxDisconnectionDuration);
    }
    if (r.skipMiddlewares !== undefined) recovery.skipMiddlewares = !!r.skipMiddlewares;
    if (r.maxStoredPackets !== undefined) recovery.maxStoredPackets = Number(r.maxStoredPackets);
    o.connectionStateRecovery = recovery;
  }
  if (opts.httpCompression !== undefined) {
    // engine.io: `false` turns it off; anything else is on, with the threshold of an object if it has one.
    o.httpCompression = opts.httpCompression !== false;
    const threshold = opts.httpCompression?.threshold;
    if (o.httpCompression && threshold !== undefined) o.httpCompressionThreshold = Number(threshold);
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

module.exports = { nativeOptions };
