// socket.io-client against test_recovery.py's server: the official client is the one that recovers a
// connection (python-socketio's client does not). Usage: node recovery_js_client.mjs URL TRANSPORT DELAY_MS
//
// Connects (reconnecting by itself after DELAY_MS), waits for its `welcome`, joins "team", stores data,
// cuts its transport (prints {"cut": id} — the test then has others emit while it is away), and once
// connected again asks for its `state`, has a live event sent to its room (when recovered), and prints
// one JSON line:
// {first, id, recovered, state, log}, `log` being every event received after the cut, offsets dropped.
import { io } from "socket.io-client";

const [url, transport, delay] = process.argv.slice(2);
const fail = (why) => {
  console.log(JSON.stringify({ error: String(why) }));
  process.exit(1);
};
setTimeout(() => fail("timeout"), 15_000).unref();

const socket = io(url, {
  transports: [transport],
  reconnection: true,
  reconnectionDelay: Number(delay),
  reconnectionDelayMax: Number(delay),
  randomizationFactor: 0,
  autoConnect: false,
});
const log = [];
let cut = false;
socket.onAny((event, ...args) => {
  // Every event of a server with recovery carries its offset (a string) as its last argument.
  if (cut) log.push([event, ...args.slice(0, -1), typeof args[args.length - 1]]);
});
const once = (event) => new Promise((resolve) => socket.once(event, (...args) => resolve(args)));

const welcome = once("welcome");
socket.connect();
await welcome;
await socket.timeout(5000).emitWithAck("join", "team");
await socket.timeout(5000).emitWithAck("set-data", { name: "ann" });
const first = socket.id;
const back = once("connect");
cut = true;
socket.io.engine.close();
console.log(JSON.stringify({ cut: first }));
await back;
const recovered = socket.recovered;
const state = await socket.timeout(5000).emitWithAck("state");
if (recovered) {
  // Back in its room: a live event to the room reaches it (a new socket is in no room to test).
  const live = new Promise((resolve) => socket.on("room-msg", (n) => n === "live" && resolve()));
  await socket.timeout(5000).emitWithAck("live");
  await live;
}
console.log(JSON.stringify({ first, id: socket.id, recovered, state, log }));
socket.disconnect();
// Time for the DISCONNECT packet to leave (a polling client posts it).
setTimeout(() => process.exit(0), 300);
