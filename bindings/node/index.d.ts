// Types of ferrio's Node.js binding: socket.io's Server API, with socket.io's four generics
// (ListenEvents, EmitEvents, ServerSideEvents, SocketData). Hand-written to follow socket.io 4.x's own
// declarations, so code typed against socket.io type-checks against ferrio.
/// <reference types="node" />
import { EventEmitter } from "node:events";

/** Any event map: event name → listener signature. */
export interface EventsMap {
  [event: string]: any;
}

/** The default: every event name allowed, any arguments. */
export interface DefaultEventsMap {
  [event: string]: (...args: any[]) => void;
}

export type EventNames<Map extends EventsMap> = keyof Map & (string | symbol);
export type EventParams<Map extends EventsMap, Ev extends EventNames<Map>> = Parameters<Map[Ev]>;
type Last<T extends any[]> = T extends [...infer _H, infer L] ? L : never;
type AllButLast<T extends any[]> = T extends [...infer H, infer _L] ? H : any[];
type FirstArg<T> = T extends (arg: infer A, ...rest: any[]) => any ? A : any;
type PrependTimeoutError<T extends any[]> = {
  [K in keyof T]: T[K] extends (...args: infer Params) => infer Result
    ? (err: Error | null, ...args: Params) => Result
    : T[K];
};
/** `emit` arguments when a timeout is set: the ack callback gets an Error first. */
export type DecorateAcknowledgements<E> = {
  [K in keyof E]: E[K] extends (...args: infer Params) => infer Result
    ? (...args: PrependTimeoutError<Params>) => Result
    : E[K];
};
/** Broadcast acks receive one response per socket. */
export type DecorateAcknowledgementsWithMultipleResponses<E> = {
  [K in keyof E]: E[K] extends (...args: infer Params) => infer Result
    ? (...args: ExpectMultipleResponses<Params>) => Result
    : E[K];
};
type ExpectMultipleResponses<T extends any[]> = {
  [K in keyof T]: T[K] extends (...args: infer Params) => infer Result
    ? (err: Error | null, responses: Params[0][]) => Result
    : T[K];
};
type EmitWithAckArgs<Map extends EventsMap, Ev extends EventNames<Map>> = AllButLast<EventParams<Map, Ev>>;
type AckResult<Map extends EventsMap, Ev extends EventNames<Map>> = FirstArg<Last<EventParams<Map, Ev>>>;

/** Events a socket may receive besides the application's: the reserved ones. */
export interface SocketReservedEventsMap {
  disconnect: (reason: DisconnectReason, description?: any) => void;
  disconnecting: (reason: DisconnectReason, description?: any) => void;
  error: (err: Error) => void;
}

export interface NamespaceReservedEventsMap<ListenEvents extends EventsMap, EmitEvents extends EventsMap, ServerSideEvents extends EventsMap, SocketData> {
  connect: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void;
  connection: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void;
}

export type DisconnectReason =
  | "transport error"
  | "transport close"
  | "forced close"
  | "ping timeout"
  | "parse error"
  | "server shutting down"
  | "forced server close"
  | "client namespace disconnect"
  | "server namespace disconnect"
  | (string & {});

/**
 * Stable codes of the Errors ferrio throws or rejects with: one per error code of the engine (see
 * `errorCodes`), the two limits an emit can exceed, and those of the facade's own steps.
 */
export type FerrioErrorCode =
  | "ERR_FERRIO_NULL_ARGUMENT"
  | "ERR_FERRIO_INVALID_UTF8"
  | "ERR_FERRIO_INVALID_ARGS"
  | "ERR_FERRIO_INVALID_ARG"
  | "ERR_FERRIO_INVALID_STATE"
  | "ERR_FERRIO_BUFFER_TOO_SMALL"
  | "ERR_FERRIO_ALREADY_USED"
  | "ERR_FERRIO_SERVER_CLOSED"
  | "ERR_FERRIO_WOULD_DEADLOCK"
  | "ERR_FERRIO_DISCONNECTED"
  | "ERR_FERRIO_EMIT"
  | "ERR_FERRIO_RESERVED_EVENT"
  | "ERR_FERRIO_ACK_TIMEOUT"
  | "ERR_FERRIO_ADAPTER"
  | "ERR_FERRIO_IO"
  | "ERR_FERRIO_INTERNAL"
  | "ERR_FERRIO_LIMIT_EXCEEDED"
  | "ERR_FERRIO_TOO_DEEP"
  | "ERR_FERRIO_TOO_MANY_ACKS"
  | "ERR_FERRIO_LISTEN"
  | "ERR_FERRIO_ATTACH"
  | "ERR_FERRIO_ADMIN"
  | "ERR_FERRIO_NATIVE_MISSING";

/** One error code of the engine and the `err.code` of ferrio's errors with it. */
export interface ErrorCodeEntry {
  /** The code's number (the C ABI's `ferrio_status`). */
  readonly value: number;
  /** The code's name, e.g. "LimitExceeded". */
  readonly name: string;
  /** The `err.code` of errors with this code; absent for "Ok". */
  readonly code?: FerrioErrorCode;
  /** Finer codes some errors of this code have instead (the limits an emit can exceed). */
  readonly refined: readonly FerrioErrorCode[];
}

/** Every error code of the engine, in numeric order. */
export declare const errorCodes: readonly ErrorCodeEntry[];

/** An Error with a stable `code`. */
export declare class FerrioError extends Error {
  constructor(code: string, message: string, options?: { cause?: unknown });
  readonly code: FerrioErrorCode;
}

/** Server options: socket.io's names and units (milliseconds, bytes). */
export interface ServerOptions {
  /** The engine path (default "/socket.io"). */
  path?: string;
  /** Whether to serve the socket.io-client bundle at `<path>/socket.io.js` (default true). */
  serveClient?: boolean;
  /** ms between pings (default 25000). */
  pingInterval?: number;
  /** ms to wait for a pong (default 20000). */
  pingTimeout?: number;
  /** ms an upgrade may take (default 10000). */
  upgradeTimeout?: number;
  /** ms a connection may take to join a namespace (default 45000). */
  connectTimeout?: number;
  /** The largest message, in bytes (default 1e6). */
  maxHttpBufferSize?: number;
  /** Allowed transports (default ["polling", "websocket"]). */
  transports?: Array<"polling" | "websocket">;
  /** Whether polling sessions may upgrade (default true). */
  allowUpgrades?: boolean;
  /** CORS for cross-origin polling clients. */
  cors?: { origin?: boolean | string | string[]; credentials?: boolean };
  /** ferrio: packets queued per connection before it is a slow consumer (default 1024). */
  maxQueuedPackets?: number;
  /** ferrio: binary attachments one packet may announce (default 10). */
  maxAttachments?: number;
  /** ferrio: deepest JSON nesting of a packet, received or emitted, 1 to 1000 (default 128; ERR_FERRIO_TOO_DEEP beyond). */
  maxJsonDepth?: number;
  /** Header lines per HTTP request, as Node's `http.Server` option (default 100; more is answered 431). */
  maxHeadersCount?: number;
  /** Bytes of request line and headers, as Node's `http` option (default 32768, at least 8192; 431). */
  maxHeaderSize?: number;
  /** ms a client may take to send a request's headers, as Node's `http.Server` option (default 10000). */
  headersTimeout?: number;
  /** Connections open at once, as `net.Server#maxConnections` (default 100000; 0: no limit; 503 beyond). */
  maxConnections?: number;
  /** ferrio: connections open at once from one IP address (default 0: no limit; 503 beyond). */
  maxConnectionsPerIp?: number;
  /** ferrio: namespaces one connection may join (default 32; CONNECT_ERROR beyond). */
  maxNamespacesPerConnection?: number;
  /** ferrio: acknowledgements awaited from one socket at once (default 1024; ERR_FERRIO_TOO_MANY_ACKS beyond). */
  maxPendingAcks?: number;
  /** ferrio: events each socket may send; over it the connection closes with "rate limit exceeded" (default none). */
  rateLimit?: { eventsPerSecond: number; burst?: number };
  /** ferrio: a directory of static files served outside the engine path (socket.io leaves this to the app). */
  staticDir?: string;
  /** The adapter: `createAdapter(redisUrl)` for a cluster over Redis (default: in memory). */
  adapter?: FerrioAdapter;
  /**
   * Connection state recovery, as socket.io 4.6+ (default off; `{}`: every default): a client whose
   * connection was lost comes back within `maxDisconnectionDuration` as the same socket (id, rooms,
   * `data`; `socket.recovered` true) and first gets the events it missed. In memory, per server.
   */
  connectionStateRecovery?: ConnectionStateRecoveryOptions;
  /**
   * Compression of long-polling responses, as engine.io's (default on): a response of at least
   * `threshold` bytes (default 1024) is sent gzip- or deflate-compressed when the request's
   * `Accept-Encoding` takes one. `false` turns it off; `true` or `{}` takes the default threshold.
   * WebSocket messages are not affected.
   */
  httpCompression?: boolean | HttpCompressionOptions;
}

/** The options of `httpCompression`. */
export interface HttpCompressionOptions {
  /** The smallest response compressed, in bytes (default 1024). */
  threshold?: number;
}

/** The options of `connectionStateRecovery`. */
export interface ConnectionStateRecoveryOptions {
  /** ms a lost connection's session and the events it misses are kept (default 120000). */
  maxDisconnectionDuration?: number;
  /** Whether a recovered socket skips the middlewares (default true). */
  skipMiddlewares?: boolean;
  /** ferrio: the most events each namespace keeps for recovery (default 10000; the oldest go first). */
  maxStoredPackets?: number;
}

/** An adapter made by `createAdapter`; opaque. */
export interface FerrioAdapter {
  readonly __ferrioAdapter?: never;
}

/** Options of `createAdapter`, as @socket.io/redis-adapter names them. */
export interface RedisAdapterOptions {
  /** The channels' prefix (default "socket.io"); the same on every server of the cluster. */
  key?: string;
  /** ms a request to the other servers waits for their answers (default 5000). */
  requestsTimeout?: number;
}

/**
 * ferrio's Redis adapter, compatible with @socket.io/redis-adapter: ferrio and socket.io servers on the
 * same Redis act as one cluster.
 */
export declare function createAdapter(url: string, opts?: RedisAdapterOptions): FerrioAdapter;

export interface ListenOptions {
  /** The interface (default "0.0.0.0"). */
  host?: string;
}

export interface AddressInfo {
  address: string;
  family: string;
  port: number;
}

/** socket.io's handshake details. */
export interface Handshake {
  headers: Record<string, string>;
  time: string;
  address: string;
  xdomain: boolean;
  secure: boolean;
  issued: number;
  url: string;
  query: Record<string, string>;
  auth: { [key: string]: any };
}

export type Room = string;

/** A middleware's `next`: an Error (with optional `data`) refuses the connection. */
export type NextFunction = (err?: (Error & { data?: any }) | null) => void;

type Listener<Map extends EventsMap, Ev> = Ev extends keyof Map ? Map[Ev] : (...args: any[]) => void;

export declare class BroadcastOperator<EmitEvents extends EventsMap, SocketData> {
  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  compress(compress: boolean): this;
  get volatile(): BroadcastOperator<EmitEvents, SocketData>;
  get local(): BroadcastOperator<EmitEvents, SocketData>;
  timeout(timeout: number): BroadcastOperator<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, SocketData>;
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean;
  emitWithAck<Ev extends EventNames<EmitEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstArg<Last<EventParams<EmitEvents, Ev>>> extends (err: any, responses: infer R) => any ? R : any[]>;
  allSockets(): Promise<Set<string>>;
  fetchSockets(): Promise<RemoteSocket<EmitEvents, SocketData>[]>;
  socketsJoin(room: Room | Room[]): void;
  socketsLeave(room: Room | Room[]): void;
  disconnectSockets(close?: boolean): void;
}

export declare class RemoteSocket<EmitEvents extends EventsMap, SocketData> {
  readonly id: string;
  readonly handshake: Handshake;
  readonly rooms: Set<Room>;
  readonly data: SocketData;
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean;
  timeout(timeout: number): BroadcastOperator<DecorateAcknowledgements<EmitEvents>, SocketData>;
  join(room: Room | Room[]): void;
  leave(room: Room): void;
  disconnect(close?: boolean): this;
}

/** The namespace's adapter: rooms and sids are snapshots built when read. */
export declare class Adapter extends EventEmitter {
  readonly nsp: Namespace<any, any, any, any>;
  readonly rooms: Map<Room, Set<string>>;
  readonly sids: Map<string, Set<Room>>;
  socketRooms(id: string): Set<Room> | undefined;
  serverCount(): Promise<number>;
  /** Every room across the cluster (socket-id rooms left out). */
  allRooms(): Promise<Set<Room>>;
  on(ev: "create-room" | "delete-room", listener: (room: Room) => void): this;
  on(ev: "join-room" | "leave-room", listener: (room: Room, id: string) => void): this;
  on(ev: string | symbol, listener: (...args: any[]) => void): this;
}

/** The Engine.IO connection under a socket (socket.io's `socket.conn`). */
export interface Connection extends EventEmitter {
  readonly transport: { name: "polling" | "websocket" };
  close(): void;
  /** The connection moved from HTTP long-polling to WebSocket. */
  on(event: "upgrade", listener: (transport: { name: "websocket" }) => void): this;
  once(event: "upgrade", listener: (transport: { name: "websocket" }) => void): this;
  off(event: "upgrade", listener: (transport: { name: "websocket" }) => void): this;
}

export declare class Socket<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> extends EventEmitter {
  readonly id: string;
  readonly nsp: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  readonly server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  readonly handshake: Handshake;
  readonly rooms: Set<Room>;
  readonly connected: boolean;
  readonly disconnected: boolean;
  readonly conn: Connection;
  /** Whether this socket is a session recovered by connection state recovery (same id, rooms and data). */
  readonly recovered: boolean;
  readonly request: { headers: Record<string, string>; url: string; method: string; connection: { remoteAddress: string } };
  data: SocketData;

  on<Ev extends EventNames<ListenEvents & SocketReservedEventsMap>>(
    ev: Ev,
    listener: Listener<ListenEvents & SocketReservedEventsMap, Ev>,
  ): this;
  once<Ev extends EventNames<ListenEvents & SocketReservedEventsMap>>(
    ev: Ev,
    listener: Listener<ListenEvents & SocketReservedEventsMap, Ev>,
  ): this;
  off<Ev extends EventNames<ListenEvents & SocketReservedEventsMap>>(
    ev: Ev,
    listener: Listener<ListenEvents & SocketReservedEventsMap, Ev>,
  ): this;
  removeListener<Ev extends EventNames<ListenEvents & SocketReservedEventsMap>>(
    ev: Ev,
    listener: Listener<ListenEvents & SocketReservedEventsMap, Ev>,
  ): this;

  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean;
  emitWithAck<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EmitWithAckArgs<EmitEvents, Ev>): Promise<AckResult<EmitEvents, Ev>>;
  send(...args: any[]): this;
  write(...args: any[]): this;
  timeout(timeout: number): Socket<ListenEvents, DecorateAcknowledgements<EmitEvents>, ServerSideEvents, SocketData>;
  get volatile(): this;
  compress(compress: boolean): this;

  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  get broadcast(): BroadcastOperator<EmitEvents, SocketData>;
  get local(): BroadcastOperator<EmitEvents, SocketData>;

  join(rooms: Room | Room[]): void;
  leave(room: Room): void;
  disconnect(close?: boolean): this;

  use(fn: (event: [string, ...any[]], next: (err?: Error) => void) => void): this;
  onAny(listener: (event: string, ...args: any[]) => void): this;
  prependAny(listener: (event: string, ...args: any[]) => void): this;
  offAny(listener?: (event: string, ...args: any[]) => void): this;
  listenersAny(): Array<(event: string, ...args: any[]) => void>;
  onAnyOutgoing(listener: (event: string, ...args: any[]) => void): this;
  prependAnyOutgoing(listener: (event: string, ...args: any[]) => void): this;
  offAnyOutgoing(listener?: (event: string, ...args: any[]) => void): this;
  listenersAnyOutgoing(): Array<(event: string, ...args: any[]) => void>;
}

export declare class Namespace<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> extends EventEmitter {
  readonly name: string;
  readonly server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  readonly sockets: Map<string, Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>>;
  readonly adapter: Adapter;

  on<Ev extends keyof NamespaceReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>>(
    ev: Ev,
    listener: NamespaceReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>[Ev],
  ): this;
  once<Ev extends keyof NamespaceReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>>(
    ev: Ev,
    listener: NamespaceReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>[Ev],
  ): this;
  use(fn: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, next: NextFunction) => void): this;

  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  get volatile(): BroadcastOperator<EmitEvents, SocketData>;
  get local(): BroadcastOperator<EmitEvents, SocketData>;
  timeout(timeout: number): BroadcastOperator<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, SocketData>;
  compress(compress: boolean): this;
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean;
  emitWithAck<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: AllButLast<EventParams<EmitEvents, Ev>>): Promise<any[]>;
  send(...args: any[]): this;
  write(...args: any[]): this;
  allSockets(): Promise<Set<string>>;
  fetchSockets(): Promise<RemoteSocket<EmitEvents, SocketData>[]>;
  socketsJoin(room: Room | Room[]): void;
  socketsLeave(room: Room | Room[]): void;
  disconnectSockets(close?: boolean): void;
  serverSideEmit<Ev extends EventNames<ServerSideEvents>>(ev: Ev, ...args: EventParams<ServerSideEvents, Ev>): boolean;
  serverSideEmit(ev: string, ...args: any[]): boolean;
  serverSideEmitWithAck(ev: string, ...args: any[]): Promise<any[]>;
}

export declare class ParentNamespace<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> extends Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
  readonly children: Set<Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>>;
}

/** A function deciding whether a dynamic namespace exists: call `next(null, true)` to accept. */
export type ParentNspNameMatchFn = (name: string, auth: { [key: string]: any }, next: (err: Error | null, success: boolean) => void) => void;

/** @socket.io/admin-ui's basic authentication: `password` is a bcrypt hash. */
export interface BasicAuthentication {
  type: "basic";
  username: string;
  password: string;
}

/** The options of `io.instrument()`: @socket.io/admin-ui's, plus where the UI is served from. */
export interface InstrumentOptions {
  /** `false` (anyone may connect) or basic authentication; required. */
  auth: false | BasicAuthentication;
  /** The admin namespace (default "/admin"). */
  namespaceName?: string;
  /** Hides the commands (join, leave, disconnect, emit) (default false). */
  readonly?: boolean;
  /** "development" (every socket, room and event) or "production" (stats only); default NODE_ENV or "development". */
  mode?: "development" | "production" | string;
  /** The server's id in the UI (default the host name). */
  serverId?: string;
  /** ferrio: the UI's built files (default the installed @socket.io/admin-ui's ui/dist); false serves none. */
  uiDir?: string | false;
  /** ferrio: where the UI is served (default "/admin/"). */
  uiPath?: string;
  /** ferrio: milliseconds between server_stats (default 2000). */
  statsInterval?: number;
}

export declare class Server<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> {
  /** `new Server()`, `new Server(port, opts)`, `new Server(opts)`, or `new Server(httpServer, opts)` (see the README). */
  constructor(opts?: ServerOptions);
  constructor(port: number, opts?: ServerOptions);
  constructor(srv: import("node:http").Server | import("node:https").Server | number | undefined, opts?: ServerOptions);
  readonly opts: ServerOptions;
  /** The main namespace. */
  readonly sockets: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  readonly engine: { readonly clientsCount: number };

  listen(port?: number, opts?: ListenOptions | string): this;
  attach(port: number | import("node:http").Server, opts?: ListenOptions): this;
  /** ferrio: resolves once bound (rejects with ERR_FERRIO_LISTEN). */
  ready(): Promise<AddressInfo>;
  /** ferrio: the bound address, or null. */
  address(): AddressInfo | null;
  close(fn?: (err?: Error) => void): Promise<void>;

  /**
   * Instruments the server for the official Socket.IO admin UI (@socket.io/admin-ui's `instrument(io, opts)`
   * options) and serves the UI at `uiPath` (default "/admin/") on this server's port.
   */
  instrument(opts: InstrumentOptions): this;

  of(name: string | RegExp | ParentNspNameMatchFn, fn?: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void): Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  on<Ev extends keyof NamespaceReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>>(
    ev: Ev,
    listener: NamespaceReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>[Ev],
  ): this;
  once<Ev extends keyof NamespaceReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>>(
    ev: Ev,
    listener: NamespaceReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>[Ev],
  ): this;
  off(ev: string, listener?: (...args: any[]) => void): this;
  use(fn: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, next: NextFunction) => void): this;

  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  get volatile(): BroadcastOperator<EmitEvents, SocketData>;
  get local(): BroadcastOperator<EmitEvents, SocketData>;
  timeout(timeout: number): BroadcastOperator<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, SocketData>;
  compress(compress: boolean): this;
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean;
  emitWithAck<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: AllButLast<EventParams<EmitEvents, Ev>>): Promise<any[]>;
  send(...args: any[]): this;
  write(...args: any[]): this;
  allSockets(): Promise<Set<string>>;
  fetchSockets(): Promise<RemoteSocket<EmitEvents, SocketData>[]>;
  socketsJoin(room: Room | Room[]): void;
  socketsLeave(room: Room | Room[]): void;
  disconnectSockets(close?: boolean): void;
  serverSideEmit<Ev extends EventNames<ServerSideEvents>>(ev: Ev, ...args: EventParams<ServerSideEvents, Ev>): boolean;
  serverSideEmit(ev: string, ...args: any[]): boolean;
  serverSideEmitWithAck(ev: string, ...args: any[]): Promise<any[]>;
}

/** `require("ferrio")(port, opts)`, like `require("socket.io")(port, opts)`. */
declare function createServer<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
>(srv?: import("node:http").Server | number | ServerOptions, opts?: ServerOptions): Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
export default createServer;
