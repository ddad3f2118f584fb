// Shared helpers of the binding's own tests: a server on 127.0.0.1:0 and bounded waits.
import { spawn } from "node:child_process";
import { io as connect } from "socket.io-client";
import { Server } from "../index.mjs";

export const WAIT_MS = 4000;

/** Rejects if `promise` does not settle within `ms`. */
export function within(promise, ms = WAIT_MS, what = "operation") {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A listening server; `close()` closes it and every client made by `client()`. */
export async function start(opts = {}) {
  const io = new Server(opts);
  io.listen(0, "127.0.0.1");
  const { port } = await io.ready();
  const url = `http://127.0.0.1:${port}`;
  const clients = [];
  return {
    io,
    url,
    port,
    /** A connected client (websocket only unless `transports` is given). */
    async client(nsp = "/", options = {}) {
      const socket = connect(`${url}${nsp === "/" ? "" : nsp}`, {
        forceNew: true,
        reconnection: false,
        transports: ["websocket"],
        timeout: WAIT_MS,
        ...options,
      });
      clients.push(socket);
      if (options.autoConnect === false) return socket;
      await within(
        new Promise((resolve, reject) => {
          socket.once("connect", resolve);
          socket.once("connect_error", reject);
        }),
        WAIT_MS,
        "connect",
      );
      return socket;
    },
    async close() {
      for (const c of clients) c.disconnect();
      await within(io.close(), WAIT_MS, "io.close()");
    },
  };
}

/** Resolves with the args of the next `event` on `emitter`. */
export function next(emitter, event, ms = WAIT_MS) {
  return within(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), ms, `"${event}"`);
}

/** Sleeps `ms`. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `node <args>` and waits (up to `ms`) for it to print `LISTENING <port>`: resolves with the child,
 * the port, and its output and errors so far.
 */
export async function spawnListening(args, what, ms = 12_000) {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const port = await within(
    (async () => {
      for (;;) {
        const m = /LISTENING (\d+)/.exec(out);
        if (m) return Number(m[1]);
        if (child.exitCode !== null) throw new Error(`${what} exited: ${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })(),
    ms,
    `${what} to listen`,
  );
  return { child, port, output: () => out, errors: () => err };
}
