// Shared helpers for the ferrio JavaScript end-to-end tests (see tests/e2e/SERVER.md).
//
// Run (from the repository root, after `cargo build -p ferrio --example e2e_server`):
//   node --test tests/e2e/js/
// Environment:
//   FERRIO_E2E_SERVER       server binary (default target/debug/examples/e2e_server); a .mjs/.js path is run with
//                           node, e.g. tests/e2e/js/reference-server.mjs, the same contract on the official server;
//                           a .py path with .venv/bin/python (or FERRIO_E2E_PYTHON, else python3)
//   FERRIO_E2E_SERVER_LOG=1 copy the servers' stderr to the test output (with FERRIO_LOG=debug for ferrio's logs)
//   FERRIO_E2E_DEADLINE_MS  whole-run deadline (default 100000)
//   DEBUG=socket.io-client*,engine.io-client*   the client's view of the wire
//
// Every wait here is bounded: nothing in this file can block a test forever.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import WebSocket from "ws";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const SERVER_BIN =
  process.env.FERRIO_E2E_SERVER || path.join(REPO, "target/debug/examples/e2e_server");
export const HOST = "127.0.0.1";

/** Default bound of every wait, in ms. */
export const WAIT_MS = 4000;

/** Per-test timeout for the e2e tests (each test is a few round trips; any single wait is WAIT_MS). */
export const TEST_TIMEOUT_MS = 15_000;

// ---- whole-suite watchdog -------------------------------------------------------------------------------
// `node --test tests/e2e/js/` runs the files one after another (2 cores: concurrency 1), each in a child process.
// However broken the server is, the whole run must end by itself: each file's process exits (failing) once
// FERRIO_E2E_DEADLINE_MS (default 100 s) have passed since the test runner started, killing its servers.
const SUITE_DEADLINE_MS = Number(process.env.FERRIO_E2E_DEADLINE_MS || 100_000);
const spawned = new Set();

/** ms since the `node --test` runner (our parent process) started; 0 when not run by the test runner. */
function runnerElapsedMs() {
  if (!process.env.NODE_TEST_CONTEXT) return 0;
  try {
    const stat = readFileSync(`/proc/${process.ppid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const startTicks = Number(fields[19]); // field 22: starttime, in clock ticks (CLK_TCK = 100 on Linux)
    const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    const elapsed = (uptime - startTicks / 100) * 1000;
    return Number.isFinite(elapsed) && elapsed > 0 ? elapsed : 0;
  } catch {
    return 0;
  }
}

setTimeout(
  () => {
    process.stderr.write(`\nferrio e2e: suite deadline of ${SUITE_DEADLINE_MS} ms reached, aborting ${process.argv[1]}\n`);
    process.exit(1); // the "exit" handler below kills the servers
  },
  Math.max(5000, SUITE_DEADLINE_MS - runnerElapsedMs()),
).unref();

// Never leave a server behind, whatever way this test process ends (the server only exits on a signal).
process.on("exit", () => {
  for (const child of spawned) child.kill("SIGKILL");
});

/** The three transport modes every client behaviour is run under. */
export const MODES = [
  { name: "websocket-only", transports: ["websocket"], initial: "websocket", final: "websocket", upgrade: false },
  { name: "polling-only", transports: ["polling"], initial: "polling", final: "polling", upgrade: false },
  // default transports of socket.io-client: ["polling", "websocket", "webtransport"]
  { name: "polling->websocket upgrade", transports: undefined, initial: "polling", final: "websocket", upgrade: true },
];

/** Rejects with a descriptive error if `promise` does not settle within `ms`. */
export function withTimeout(promise, ms = WAIT_MS, what = "operation") {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Starts the e2e server with extra command-line args; resolves once it printed `LISTENING <port>`.
 * A server path ending in .js/.mjs is run with node (the reference server, see reference-server.mjs).
 * `bin` runs another server binary with the same contract (the admin tests use `admin_server`).
 */
export async function startServer(args = [], { startTimeout = 10000, bin = SERVER_BIN } = {}) {
  const SERVER_BIN = bin;
  if (!existsSync(SERVER_BIN)) {
    throw new Error(
      `e2e server binary not found at ${SERVER_BIN} (build it with \`cargo build -p ferrio --example e2e_server\`, ` +
        `or point FERRIO_E2E_SERVER at it)`,
    );
  }
  const isScript = /\.m?js$/.test(SERVER_BIN);
  // A .py server (the python-socketio reference or the ferrio binding) runs with the repo's venv python.
  const isPython = SERVER_BIN.endsWith(".py");
  const venvPython = path.join(REPO, ".venv/bin/python");
  const python = process.env.FERRIO_E2E_PYTHON || (existsSync(venvPython) ? venvPython : "python3");
  const command = isScript ? process.execPath : isPython ? python : SERVER_BIN;
  const argv = isScript || isPython ? [SERVER_BIN, ...args] : args;
  const child = spawn(command, argv, { stdio: ["pipe", "pipe", "pipe"], cwd: REPO });
  spawned.add(child);
  child.once("exit", () => spawned.delete(child));
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => {
    stderr += d;
    if (process.env.FERRIO_E2E_SERVER_LOG) process.stderr.write(d);
  });
  let exited = false;
  const exitPromise = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exited = true;
      resolve({ code, signal });
    });
  });
  child.stdin.on("error", () => {}); // never let an EPIPE crash the test process

  let stdoutBuf = "";
  const port = await withTimeout(
    new Promise((resolve, reject) => {
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (d) => {
        stdoutBuf += d;
        const m = /^LISTENING (\d+)\s*$/m.exec(stdoutBuf);
        if (m) resolve(Number(m[1]));
      });
      child.once("error", reject);
      exitPromise.then(({ code, signal }) =>
        reject(new Error(`e2e server exited early (code ${code}, signal ${signal}); stderr:\n${stderr}`)),
      );
    }),
    startTimeout,
    `"LISTENING <port>" from ${SERVER_BIN} ${args.join(" ")}`,
  ).catch((err) => {
    child.kill("SIGKILL");
    throw err;
  });

  const url = `http://${HOST}:${port}`;
  // Health check: the server must answer an Engine.IO request (any HTTP status: this one names an unknown
  // session, so it creates nothing) so that a dead server fails the `before` hook at once instead of every test
  // waiting for its own timeouts.
  try {
    const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=e2e-health-check`, {
      signal: AbortSignal.timeout(3000),
    });
    await res.arrayBuffer();
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`e2e server on port ${port} does not answer HTTP: ${err.message}; stderr:\n${stderr}`);
  }
  return {
    port,
    url,
    child,
    /** Resolves with {code, signal} when the server process exits. */
    exit: exitPromise,
    get stderr() {
      return stderr;
    },
    /** Stops the server: SIGTERM, then SIGKILL if it has not exited within 3 s. */
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      try {
        await withTimeout(exitPromise, 3000, "e2e server exit");
      } catch {
        child.kill("SIGKILL");
        await withTimeout(exitPromise, 2000, "e2e server exit after SIGKILL").catch(() => {});
      }
    },
  };
}

/** Resolves with the first arg of the next `event` on `emitter`; rejects after `ms`. */
export function once(emitter, event, ms = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const handler = (...args) => {
      clearTimeout(timer);
      resolve(args[0]);
    };
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(new Error(`timed out after ${ms} ms waiting for "${event}"`));
    }, ms);
    emitter.once(event, handler);
  });
}

/**
 * Attaches a recorder to a client socket: every incoming event (by `onAny`) is logged in `socket.log`
 * as `{event, args}` from the moment the socket is created, so tests never miss an event that arrived
 * in the same poll payload as the CONNECT packet.
 */
function record(socket) {
  socket.log = [];
  socket._waiters = new Set();
  socket.onAny((event, ...args) => {
    const entry = { event, args };
    socket.log.push(entry);
    for (const w of [...socket._waiters]) w(entry);
  });
  return socket;
}

/**
 * Waits for the first (already received or future) event `event` on a recorded socket whose args satisfy
 * `pred`; resolves with its args array. Consumes nothing: the log is left intact.
 */
export function waitEvent(socket, event, { pred = () => true, ms = WAIT_MS, from = 0 } = {}) {
  const match = (e) => e.event === event && pred(e.args);
  const found = socket.log.slice(from).find(match);
  if (found) return Promise.resolve(found.args);
  return new Promise((resolve, reject) => {
    const waiter = (e) => {
      if (!match(e)) return;
      clearTimeout(timer);
      socket._waiters.delete(waiter);
      resolve(e.args);
    };
    const timer = setTimeout(() => {
      socket._waiters.delete(waiter);
      reject(new Error(`timed out after ${ms} ms waiting for event "${event}" on ${socket.nsp} (${socket.id})`));
    }, ms);
    socket._waiters.add(waiter);
  });
}

/** Waits until `count` events named `event` were received; resolves with their args arrays. */
export function waitEvents(socket, event, count, ms = WAIT_MS) {
  const got = () => socket.log.filter((e) => e.event === event).map((e) => e.args);
  if (got().length >= count) return Promise.resolve(got());
  return new Promise((resolve, reject) => {
    const waiter = () => {
      const list = got();
      if (list.length < count) return;
      clearTimeout(timer);
      socket._waiters.delete(waiter);
      resolve(list);
    };
    const timer = setTimeout(() => {
      socket._waiters.delete(waiter);
      reject(new Error(`timed out after ${ms} ms: got ${got().length}/${count} "${event}" events`));
    }, ms);
    socket._waiters.add(waiter);
  });
}

/** Args arrays of every received `event` so far. */
export function received(socket, event) {
  return socket.log.filter((e) => e.event === event).map((e) => e.args);
}

/**
 * A registry of client sockets so that `closeAll()` (in afterEach) closes every one of them.
 */
export class Clients {
  constructor() {
    this.sockets = new Set();
  }

  /**
   * Creates a client (not yet awaited). `mode` is one of MODES (or null: default transports).
   * Options: everything socket.io-client accepts; `forceNew` defaults to true (no Manager cache),
   * `reconnection` to false.
   * The socket gets `socket.upgraded`: a promise of the engine's `upgrade` event (registered at creation,
   * so it cannot be missed).
   */
  create(url, mode, opts = {}) {
    const options = { forceNew: true, reconnection: false, timeout: WAIT_MS, ...opts };
    if (mode && mode.transports) options.transports = mode.transports;
    const socket = record(io(url, options));
    this.track(socket);
    return socket;
  }

  track(socket) {
    this.sockets.add(socket);
    if (!socket.log) record(socket);
    const engine = socket.io.engine;
    if (engine && !socket.upgraded) {
      socket.upgraded = new Promise((resolve) => engine.once("upgrade", (t) => resolve(t)));
    }
    return socket;
  }

  /**
   * Creates a client and waits for `connect` (rejecting on connect_error or after `ms`). In the upgrade mode,
   * also waits for the engine upgrade unless `waitUpgrade: false`.
   */
  async connect(url, mode, opts = {}, { ms = WAIT_MS, waitUpgrade = true } = {}) {
    const socket = this.create(url, mode, opts);
    await connected(socket, ms);
    // The upgrade is a second round of requests (probe, then switch); with many clients upgrading at once on
    // a loaded 2-core CI machine it has been seen to take longer than the connect itself, so it gets twice the
    // budget (still well inside TEST_TIMEOUT_MS). Whether it happens is what the tests check, not how fast.
    if (mode && mode.upgrade && waitUpgrade) await withTimeout(socket.upgraded, 2 * ms, "engine upgrade to websocket");
    return socket;
  }

  closeAll() {
    for (const s of this.sockets) {
      s.offAny();
      s.disconnect();
      // closes the underlying engine even if other namespaces of a shared Manager remain
      if (s.io && s.io.engine) s.io.engine.close();
    }
    this.sockets.clear();
  }
}

/** Resolves when `socket` is connected; rejects with the connect_error or after `ms`. */
export function connected(socket, ms = WAIT_MS) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    };
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err) => {
      cleanup();
      reject(Object.assign(new Error(`connect_error on ${socket.nsp}: ${err && err.message}`), { cause: err }));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${ms} ms waiting for connect on ${socket.nsp}`));
    }, ms);
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

/** Resolves with the connect_error of `socket` (rejects if it connects instead, or after `ms`). */
export function connectError(socket, ms = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    };
    const onConnect = () => {
      cleanup();
      reject(new Error(`expected connect_error on ${socket.nsp}, but it connected`));
    };
    const onError = (err) => {
      cleanup();
      resolve(err);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${ms} ms waiting for connect_error on ${socket.nsp}`));
    }, ms);
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

/** emitWithAck with a bounded wait (client-side ack timeout): resolves with the first ack arg. */
export function ask(socket, event, ...args) {
  return socket.timeout(WAIT_MS).emitWithAck(event, ...args);
}

/** Emits `event` with `args` and an ack callback; resolves with ALL the ack args (array). */
export function askAll(socket, event, ...args) {
  return withTimeout(
    new Promise((resolve) => socket.emit(event, ...args, (...res) => resolve(res))),
    WAIT_MS,
    `ack of "${event}"`,
  );
}

/** A fresh dynamic namespace name (`/dyn-<digits>`), to isolate namespace-wide state per test. */
let dynCounter = 0;
export function freshDyn() {
  dynCounter += 1;
  return `/dyn-${process.pid}${String(dynCounter).padStart(4, "0")}`;
}

/** A raw Engine.IO WebSocket client that records every frame with its arrival time. */
export class RawWs {
  /** `url`: an http(s)://host:port base (the Engine.IO path and query are added) or a full ws:// URL. */
  constructor(url) {
    if (url.startsWith("http")) url = `${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;
    this.frames = [];
    this.waiters = new Set();
    this.ws = new WebSocket(url);
    this.error = null;
    this.ws.on("error", (err) => (this.error = err)); // also surfaced through `closed`
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", resolve);
      this.ws.once("error", reject);
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.once("close", (code, reason) => {
        this.closedAt = Date.now();
        resolve({ code, reason: reason.toString() });
      });
    });
    this.ws.on("message", (data, isBinary) => {
      const frame = { t: Date.now(), data: isBinary ? data : data.toString() };
      this.frames.push(frame);
      for (const w of [...this.waiters]) w(frame);
    });
  }

  /** Next frame (already received at index >= from, or future) satisfying `pred`. */
  frame(pred, { ms = WAIT_MS, from = 0, what = "frame" } = {}) {
    const found = this.frames.slice(from).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = (f) => {
        if (!pred(f)) return;
        clearTimeout(timer);
        this.waiters.delete(w);
        resolve(f);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; frames: ${JSON.stringify(this.frames)}`));
      }, ms);
      this.waiters.add(w);
    });
  }

  send(s) {
    this.ws.send(s);
  }

  close() {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}

/** Debian's Chromium, driven through playwright-core (no browser is ever downloaded). */
export const CHROMIUM = "/usr/bin/chromium";

/** Why a browser test of the core's servers is skipped here, or false: it needs Chromium, and runs once,
 * not in the bindings' runs of this suite (FERRIO_E2E_SERVER set). */
export function browserSkip(why = "runs against the core's servers only") {
  if (process.env.FERRIO_E2E_SERVER) return why;
  return existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (make deps-system installs it)`;
}

/** Headless Chromium, sandbox off (tests run as root in CI), no background traffic. */
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    timeout: 30_000,
  });
}
