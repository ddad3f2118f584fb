// A typed usage of the binding, checked by `tsc --noEmit -p test/types` (never run). The @ts-expect-error
// lines prove the generics reject what socket.io's types reject.
import { Server, Socket, FerrioError } from "ferrio";

interface ClientToServer {
  chat: (text: string, ack: (ok: boolean) => void) => void;
  join: (room: string) => void;
}
interface ServerToClient {
  chat: (from: string, text: string) => void;
  ask: (question: string, ack: (answer: number) => void) => void;
}
interface InterServer {
  ping: () => void;
}
interface Data {
  nick: string;
}

const io = new Server<ClientToServer, ServerToClient, InterServer, Data>({ pingInterval: 10_000, cors: { origin: "*" } });
io.listen(3000, { host: "127.0.0.1" });
const limited = new Server({
  maxHttpBufferSize: 1e5,
  maxQueuedPackets: 256,
  maxAttachments: 4,
  maxJsonDepth: 64,
  maxHeadersCount: 50,
  maxHeaderSize: 16384,
  headersTimeout: 5000,
  maxConnections: 1000,
  maxConnectionsPerIp: 20,
  maxNamespacesPerConnection: 8,
  maxPendingAcks: 100,
  rateLimit: { eventsPerSecond: 50, burst: 100 },
});
void limited;
const recovering = new Server({
  connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true, maxStoredPackets: 10_000 },
});
const withDefaults = new Server({ connectionStateRecovery: {} });
void withDefaults;
const compressing = new Server({ httpCompression: { threshold: 2048 } });
const uncompressed = new Server({ httpCompression: false });
const compressionDefaults = new Server({ httpCompression: true });
void [compressing, uncompressed, compressionDefaults];
// @ts-expect-error: the threshold is a number of bytes
void new Server({ httpCompression: { threshold: "1kb" } });
recovering.on("connection", (socket) => {
  const recovered: boolean = socket.recovered;
  return recovered;
});

io.use((socket, next) => {
  if (!socket.handshake.auth.token) {
    const err = new Error("not authorized") as Error & { data?: unknown };
    err.data = { code: 401 };
    return next(err);
  }
  socket.data.nick = String(socket.handshake.auth.token);
  next();
});

io.on("connection", (socket: Socket<ClientToServer, ServerToClient, InterServer, Data>) => {
  const nick: string = socket.data.nick;
  socket.conn.on("upgrade", (transport) => {
    const name: "websocket" = transport.name;
    return name;
  });
  const current: "polling" | "websocket" = socket.conn.transport.name;
  socket.on("chat", (text, ack) => {
    const len: number = text.length;
    socket.broadcast.emit("chat", nick, text);
    io.to("room").except(socket.id).emit("chat", nick, `${len}`);
    ack(true);
  });
  socket.on("join", (room) => socket.join(room));
  socket.on("disconnecting", (reason) => console.log(reason, [...socket.rooms]));
  socket.emit("ask", "how many?", (answer) => console.log(answer + 1));
  socket.timeout(1000).emit("ask", "again?", (err, answer) => console.log(err?.message, answer));
  socket.emitWithAck("ask", "promise?").then((n: number) => n);
  // @ts-expect-error: "chat" takes (from, text)
  socket.emit("chat", 1);
  // @ts-expect-error: not an event of ServerToClient
  socket.emit("nope");
  socket.use(([event], next) => (event === "chat" ? next() : next(new Error("no"))));
  socket.onAny((event, ...args) => console.log(event, args.length));
});

const size: number | undefined = io.of("/").adapter.rooms.get("room")?.size;
io.of(/^\/dyn-\d+$/).on("connection", (socket) => socket.emit("chat", "server", socket.nsp.name));
io.of("/admin").adapter.on("join-room", (room, id) => console.log(room, id));

async function later(): Promise<void> {
  const sockets = await io.fetchSockets();
  for (const s of sockets) {
    const n: string = s.data.nick;
    s.emit("chat", "server", n);
  }
  io.socketsJoin("all");
  io.instrument({ auth: { type: "basic", username: "admin", password: "$2a$10$..." }, mode: "production", readonly: true });
  io.instrument({ auth: false, namespaceName: "/ops", uiDir: false });
  io.timeout(500).emit("ask", "all?", (err, answers) => console.log(err, answers.length));
  const { port } = await io.ready();
  try {
    io.emit("chat", "server", String(port + (size ?? 0)));
  } catch (err) {
    if (err instanceof FerrioError && err.code === "ERR_FERRIO_SERVER_CLOSED") return;
  }
  await io.close();
}
void later;
