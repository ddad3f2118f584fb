// socket.io-client against the FastAPI app of test_asgi.py: connects under the mount path over the given
// transports, checks an ack with binary and a REST-triggered emit, prints one JSON line with what it saw.
import { io } from "socket.io-client";

const [url, transports] = process.argv.slice(2);
const socket = io(url, {
  path: "/ws/socket.io",
  transports: transports.split(","),
  auth: { token: "letmein" },
  reconnection: false,
});
const fail = (why) => {
  console.log(JSON.stringify({ error: String(why) }));
  process.exit(1);
};
setTimeout(() => fail("timeout"), 10_000).unref();
socket.on("connect_error", fail);
socket.on("connect", async () => {
  if (transports.includes("websocket") && socket.io.engine.transport.name !== "websocket") {
    await new Promise((resolve) => socket.io.engine.once("upgrade", resolve));
  }
  // Several ack values: the callback form sees them all (emitWithAck resolves with the first).
  const echoed = await new Promise((resolve) =>
    socket.timeout(5000).emit("echo", "hi", Buffer.from([7, 8]), (err, ...args) => (err ? fail(err) : resolve(args))),
  );
  await socket.timeout(5000).emitWithAck("watch");
  const item = new Promise((resolve) => socket.once("item", resolve));
  const posted = await fetch(`${url}/api/items`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: `from-js-${transports}` }),
  });
  const name = await item;
  console.log(
    JSON.stringify({
      transport: socket.io.engine.transport.name,
      echoed: [echoed[0], [...new Uint8Array(echoed[1])]],
      posted: posted.status,
      item: name,
    }),
  );
  socket.close();
  process.exit(0);
});
