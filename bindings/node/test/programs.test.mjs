// A realistic socket.io program (programs/arena.cjs) runs on ferrio with only its server switch changed:
// the official client (programs/driver.mjs) plays the same scripted session against it on socket.io and on
// ferrio, over WebSocket only and over polling only, and every named check passes on both.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { within } from "./helpers.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const PROGRAM = path.join(here, "programs/arena.cjs");
const DRIVER = path.join(here, "programs/driver.mjs");
const SERVERS = ["socket.io", "ferrio"];
const TRANSPORTS = ["websocket", "polling"];
/** How many named checks the driver makes; every run must pass all of them. */
const CHECKS = 109;

/** `${server} ${transport}` -> { passed, failed }, compared at the end. */
const results = new Map();

/** Starts arena.cjs on `server` on a free port; resolves with { child, port, errors() }. */
async function startProgram(server) {
  const child = spawn(process.execPath, [PROGRAM], {
    env: { ...process.env, ARENA_SERVER: server, ARENA_PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const stopped = new Promise((resolve) => child.once("exit", resolve));
  try {
    const port = await within(
      (async () => {
        for (;;) {
          const m = /LISTENING (\d+)/.exec(out);
          if (m) return Number(m[1]);
          if (child.exitCode !== null) throw new Error(`arena.cjs on ${server} exited: ${err}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
      15_000,
      `arena.cjs on ${server} to listen`,
    );
    return { child, port, stopped, errors: () => err };
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
}

async function stopProgram(app) {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return;
  app.child.kill("SIGTERM");
  const timer = setTimeout(() => app.child.kill("SIGKILL"), 3000);
  await app.stopped;
  clearTimeout(timer);
}

/** Runs the driver; resolves with its exit code and output (killed after 60 s). */
function runDriver(port, transport) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DRIVER, "--url", `http://127.0.0.1:${port}`, "--transport", transport], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
}

for (const server of SERVERS) {
  describe(`arena.cjs on ${server}`, () => {
    for (const transport of TRANSPORTS) {
      test(`the scripted session over ${transport} passes every check`, async () => {
        const app = await startProgram(server);
        try {
          const run = await runDriver(app.port, transport);
          const lines = run.out.split("\n");
          const line = lines.filter((l) => l.startsWith("RESULT ")).pop();
          assert.ok(line, `the driver printed no RESULT line (exit ${run.code ?? run.signal}):\n${run.out}\n${run.err}`);
          const result = JSON.parse(line.slice("RESULT ".length));
          results.set(`${server} ${transport}`, result);
          const report = lines.filter((l) => l && !l.startsWith("RESULT ")).join("\n");
          assert.deepEqual(result.failed, [], `${server} over ${transport}:\n${report}\n--- program stderr:\n${app.errors().slice(-4000)}`);
          assert.equal(result.passed.length, CHECKS, report);
          assert.equal(run.code, 0, report);
        } finally {
          await stopProgram(app);
        }
      });
    }
  });
}

test("the same checks pass on socket.io and on ferrio", (t) => {
  for (const transport of TRANSPORTS) {
    const [reference, ferrio] = SERVERS.map((server) => results.get(`${server} ${transport}`));
    if (!reference || !ferrio) return t.skip("needs the four runs above");
    assert.deepEqual([...ferrio.passed].sort(), [...reference.passed].sort(), transport);
  }
});
