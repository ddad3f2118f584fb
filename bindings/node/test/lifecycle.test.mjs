// The process stays alive while listening and exits after io.close(); a disconnected socket's listeners
// are released (10,000 connect/disconnect cycles keep the server's RSS flat within 10%).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io as connect } from "socket.io-client";
import { within } from "./helpers.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));

function run(script, args = []) {
  const child = spawn(process.execPath, [...args, path.join(HERE, "fixtures", script)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const exit = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return {
    child,
    exit,
    get out() {
      return out;
    },
    get err() {
      return err;
    },
    async line(re, ms = 10_000) {
      const deadline = Date.now() + ms;
      return within(
        (async () => {
          while (Date.now() < deadline) {
            const m = re.exec(out);
            if (m) {
              out = out.slice(m.index + m[0].length);
              return m;
            }
            if (child.exitCode !== null) throw new Error(`exited: ${err}`);
            await new Promise((r) => setTimeout(r, 10));
          }
          throw new Error(`no ${re} within ${ms} ms`);
        })(),
        ms,
        String(re),
      );
    },
  };
}

test("io.close() lets the process exit by itself", { timeout: 20_000 }, async () => {
  const p = run("close-exits.mjs");
  try {
    const { code, signal } = await within(p.exit, 10_000, "the process to exit after io.close()");
    assert.equal(signal, null, p.err);
    assert.equal(code, 0, p.err);
    assert.match(p.out, /ACKED/);
    assert.match(p.out, /CLOSED/);
  } finally {
    p.child.kill("SIGKILL");
  }
});

test("10,000 connect/disconnect cycles keep the server's RSS within 10%", { timeout: 240_000 }, async () => {
  // V8 grows its young generation (up to 3 x 16 MiB) under allocation pressure, which shows as RSS growth
  // over the first thousands of cycles; pinning its size makes RSS measure what the server retains.
  const p = run("cycles-server.mjs", ["--expose-gc", "--min-semi-space-size=16", "--max-semi-space-size=16"]);
  try {
    const [, port] = await p.line(/LISTENING (\d+)\n/);
    const url = `http://127.0.0.1:${port}`;
    const cycle = () =>
      new Promise((resolve, reject) => {
        const c = connect(url, { forceNew: true, reconnection: false, transports: ["websocket"], timeout: 5000 });
        c.on("connect_error", reject);
        c.on("connect", () => {
          c.emit("msg", "hi", () => {
            c.disconnect();
            resolve();
          });
        });
      });
    const cycles = async (n, concurrency = 25) => {
      let left = n;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (left > 0) {
            left--;
            await within(cycle(), 10_000, "one connect/disconnect cycle");
          }
        }),
      );
    };
    const rss = async () => {
      await new Promise((r) => setTimeout(r, 1500)); // past the connectTimeout: the engine's deadlines are swept
      p.child.stdin.write("rss\n");
      return Number((await p.line(/RSS (\d+)\n/))[1]);
    };
    await cycles(5000); // warm-up: allocator pools, JIT, the young generation's pages touched
    const before = await rss();
    await cycles(10_000);
    const after = await rss();
    p.child.stdin.write("count\n");
    const [, sockets, conns, rooms] = await p.line(/COUNT (\d+) (\d+) (\d+)\n/);
    const growth = after / before;
    console.log(`RSS before ${(before / 1048576).toFixed(1)} MiB, after 10,000 cycles ${(after / 1048576).toFixed(1)} MiB (x${growth.toFixed(3)})`);
    assert.equal(Number(sockets), 0, "no socket left in io.of('/').sockets");
    assert.equal(Number(rooms), 0, "no room left");
    assert.ok(Number(conns) <= 1, `engine connections left: ${conns}`);
    assert.ok(growth <= 1.1, `RSS grew x${growth.toFixed(3)}`);
    p.child.stdin.end();
    const { code } = await within(p.exit, 10_000, "server exit after close");
    assert.equal(code, 0, p.err);
  } finally {
    p.child.kill("SIGKILL");
  }
});
