#!/usr/bin/env node
// Appends (or replaces) the "Node binding" section of bench/RESULTS.md: ferrio's Node.js binding with its
// handlers in JavaScript (node-ferrio) against socket.io 4.8.1 (socketio), from the raw JSON of the same
// run (bench/out/<server>-<scenario>.json).
//   node bench/node_report.js <out dir> <RESULTS.md>
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const [out = "bench/out", results = "bench/RESULTS.md"] = process.argv.slice(2);
const load = (file) => {
  try {
    const lines = fs.readFileSync(path.join(out, file), "utf8").trim().split("\n");
    return JSON.parse(lines[lines.length - 1]);
  } catch {
    return {};
  }
};
const fmt = (v, digits = 2) => (typeof v === "number" ? v.toFixed(digits) : "—");
const servers = [
  ["node-ferrio", "ferrio (Node binding, JS handlers), attached to an http.Server"],
  ["node-ferrio-port", "ferrio (Node binding, JS handlers), own port"],
  ["socketio", "socket.io 4.8.1"],
];
const meta = load("meta.json");
const metric = {};
const lines = [
  "## Node binding (node-ferrio)",
  "",
  "`bench/servers/node_ferrio.js` is `bench/servers/socketio.js` with only its `require` changed to `bindings/node`:",
  "the handlers run in JavaScript on the Node main thread; every event crosses from ferrio's tokio threads through",
  "one ThreadsafeFunction call per batch of events. socket.io 4.8.1 is measured in the same run, same machine, same load.",
  "",
  `Run: ${meta.date || "?"}; load average (1/5/15 min) at start / end: ${meta["load average (1/5/15 min) at start / end"] || "?"}; ` +
    `${meta.settings || ""}.`,
  "",
  "Broadcast: the throughput regime (W packets in flight, \"Broadcast fan-out, throughput\" above) carries the",
  "target; the fixed-rate figures are shown for latency and the kernel's per-write cost (no target).",
  "",
  "| server | echo msgs/s | p50 µs | p99 µs | server CPU % | **CPU µs/msg** | window deliveries/s | **window CPU µs/delivery** | fixed-rate CPU µs/delivery |",
  "|---|---|---|---|---|---|---|---|---|",
];
for (const [key, label] of servers) {
  const echo = load(`${key}-echo.json`);
  const bc = load(`${key}-broadcast.json`);
  const bw = load(`${key}-broadcast-window.json`);
  metric[`${key}/echo`] = echo.server_cpu_us_per_msg;
  metric[`${key}/broadcast`] = bw.server_cpu_us_per_delivery;
  const lat = echo.latency_us || {};
  lines.push(
    `| ${label} | ${fmt(echo.msgs_per_sec, 0)} | ${fmt(lat.p50, 0)} | ${fmt(lat.p99, 0)} | ` +
      `${fmt((echo.cpu || {}).server_cpu_pct, 1)} | **${fmt(echo.server_cpu_us_per_msg)}** | ` +
      `${fmt(bw.deliveries_per_sec, 0)} | **${fmt(bw.server_cpu_us_per_delivery, 3)}** | ` +
      `${fmt(bc.server_cpu_us_per_delivery, 3)} |`,
  );
}
lines.push("", "| target | node-ferrio | socket.io | ratio | goal | |", "|---|---|---|---|---|---|");
for (const [kind, unit, goal] of [
  ["echo", "µs/msg", 0.75],
  ["broadcast", "µs/delivery", 0.2],
]) {
  const a = metric[`node-ferrio/${kind}`];
  const b = metric[`socketio/${kind}`];
  const ratio = typeof a === "number" && typeof b === "number" && b > 0 ? a / b : undefined;
  const verdict = ratio === undefined ? "not measured" : ratio <= goal ? "met" : "NOT met";
  const label = kind === "broadcast" ? "broadcast (window)" : kind;
  lines.push(`| ${label} server CPU (${unit}) | ${fmt(a, 3)} | ${fmt(b, 3)} | ${fmt(ratio, 3)} | ≤ ${goal} | ${verdict} |`);
}
const attach = metric["node-ferrio/echo"];
const own = metric["node-ferrio-port/echo"];
if (typeof attach === "number" && typeof own === "number" && own > 0) {
  lines.push(
    "",
    `Attach mode (\`new Server(httpServer)\`: Node accepts, ferrio takes each WebSocket over by descriptor) against ` +
      `own-port mode: echo ${fmt(attach, 2)} vs ${fmt(own, 2)} µs per message (${fmt(attach / own, 2)}×); broadcast ` +
      `${fmt(metric["node-ferrio/broadcast"], 3)} vs ${fmt(metric["node-ferrio-port/broadcast"], 3)} µs per delivery.`,
  );
}
lines.push("");

const section = lines.join("\n");
let text = fs.existsSync(results) ? fs.readFileSync(results, "utf8") : "";
const start = text.indexOf("## Node binding (node-ferrio)");
if (start >= 0) {
  const next = text.indexOf("\n## ", start + 1);
  text = text.slice(0, start) + section + (next >= 0 ? text.slice(next + 1) : "");
} else {
  text = `${text.replace(/\n*$/, "\n\n")}${section}`;
}
fs.writeFileSync(results, text);
console.error(`node_report: wrote the Node binding section of ${results}`);
