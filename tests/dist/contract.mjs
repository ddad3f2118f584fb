// The packaging test's contract, driven with the official JavaScript client (socket.io-client from the
// repository's node_modules) against an installed copy of ferrio:
//   node contract.mjs NAME [--cwd DIR] -- COMMAND [ARGS...]
// starts COMMAND (a server that binds 127.0.0.1 on a free port and prints "listening PORT ..." first),
// then with three clients (polling then upgrade, WebSocket only, polling only): connect; `join` a room
// with an ack answering the room; `say` (room, text) acked "ok" and broadcast as `said` (room, text) to
// the room but the sender, nobody else; `bin` (bytes) acked {len, data: the bytes reversed}. Stops the
// server with SIGTERM and expects it to exit. Prints "NAME: N passed, N failed"; exits 1 on a failure.
// Every wait is bounded.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const { io } = createRequire(path.join(here, "../../package.json"))("socket.io-client");

const argv = process.argv.slice(2);
const name = argv[0];
const sep = argv.indexOf("--");
const cwdAt = argv.indexOf("--cwd");
const cwd = cwdAt >= 0 && cwdAt < sep ? argv[cwdAt + 1] : process.cwd();
const [cmd, ...args] = argv.slice(sep + 1);

let passed = 0;
let failed = 0;
function check(what, ok, detail = "") {
  if (ok) passed++;
  else failed++;
  console.log(`  ${ok ? "ok  " : "FAIL"} ${name}: ${what}${ok || !detail ? "" : ` (${detail})`}`);
}

const server = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"] });
const exited = new Promise((resolve) => server.on("exit", (code, signal) => resolve({ code, signal })));
const deadline = setTimeout(() => {
  check("finished within 60 s", false);
  server.kill("SIGKILL");
  process.exit(1);
}, 60_000);

function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function firstLine(stream) {
  return new Promise((resolve, reject) => {
    let text = "";
    stream.on("data", (d) => {
      text += d;
      const nl = text.indexOf("\n");
      if (nl >= 0) resolve(text.slice(0, nl));
    });
    stream.on("end", () => reject(new Error(`the server printed ${JSON.stringify(text)} and ended`)));
  });
}

const clients = [];
try {
  const line = await within(20_000, firstLine(server.stdout), "listening line");
  const m = /^listening (\d+)(.*)$/.exec(line);
  if (!m) throw new Error(`unexpected first line ${JSON.stringify(line)}`);
  console.log(`  ${name}: server${m[2]}`);
  const url = `http://127.0.0.1:${m[1]}`;
  const connect = (transports) => {
    const s = io(url, { reconnection: false, forceNew: true, ...(transports ? { transports } : {}) });
    clients.push(s);
    return within(5000, new Promise((res, rej) => {
      s.once("connect", () => res(s));
      s.once("connect_error", rej);
    }), "connect");
  };
  const [a, b, c] = [await connect(), await connect(["websocket"]), await connect(["polling"])];
  check("three clients connect (polling+upgrade, websocket, polling)", a.id && b.id && c.id);

  const joined = await Promise.all([a, b].map((s) => s.timeout(5000).emitWithAck("join", "room-1")));
  check("join is acknowledged with the room", joined.every((r) => r === "room-1"), JSON.stringify(joined));

  const got = { a: [], b: [], c: [] };
  for (const [k, s] of Object.entries({ a, b, c })) s.on("said", (...xs) => got[k].push(xs));
  const text = "héllo ☃ \"quoted\"";
  const toB = within(5000, new Promise((res) => b.once("said", (...xs) => res(xs))), "said at b");
  const said = await a.timeout(5000).emitWithAck("say", "room-1", text);
  check("say is acknowledged", said === "ok", JSON.stringify(said));
  const atB = await toB;
  check("the room gets the broadcast", atB[0] === "room-1" && atB[1] === text, JSON.stringify(atB));
  await new Promise((r) => setTimeout(r, 300));
  check("neither the sender nor a socket outside the room gets it", !got.a.length && !got.c.length,
    JSON.stringify(got));

  const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
  for (const [k, s] of Object.entries({ a, b, c })) {
    const r = await s.timeout(5000).emitWithAck("bin", bytes);
    const data = r && Buffer.from(r.data);
    check(`binary both ways (${k})`, r && r.len === 300 && data.equals(Buffer.from(bytes).reverse()),
      JSON.stringify(r && { len: r.len, type: typeof r.data }));
  }
} catch (err) {
  check("contract", false, err.message);
} finally {
  for (const s of clients) s.close();
  server.kill("SIGTERM");
  try {
    const { code, signal } = await within(10_000, exited, "server exit");
    check("the server stops on SIGTERM", code === 0 || signal === "SIGTERM", `code ${code}, signal ${signal}`);
  } catch (err) {
    check("the server stops on SIGTERM", false, err.message);
    server.kill("SIGKILL");
  }
  clearTimeout(deadline);
  console.log(`  ${name}: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
