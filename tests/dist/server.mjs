// The packaging test's contract server on an installed `ferrio` npm package (see contract.mjs): copied
// into a project outside the repository, where `import ... from "ferrio"` resolves to node_modules.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Server } from "ferrio";

const require = createRequire(import.meta.url);
const cjs = require("ferrio");
const pkg = require("ferrio/package.json");
if (cjs.Server !== Server) throw new Error("require('ferrio') and import from 'ferrio' differ");

const io = new Server({ serveClient: false });
io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack(room);
  });
  socket.on("say", (room, text, ack) => {
    socket.to(room).emit("said", room, text);
    ack("ok");
  });
  socket.on("bin", (data, ack) => ack({ len: data.length, data: Buffer.from(data).reverse() }));
});
io.listen(0, { host: "127.0.0.1" });
const { port } = await io.ready();
// Where the native module came from (the loader tries a local ferrio.node before the platform package).
const local = path.join(path.dirname(require.resolve("ferrio")), "ferrio.node");
const native = fs.existsSync(local) ? local : require.resolve(`${pkg.name}-${process.platform}-${process.arch}-gnu`);
console.log(`listening ${port} ferrio ${pkg.version}, native module ${native}`);
process.on("SIGTERM", () => io.close().then(() => process.exit(0)));
