// Drives arena.cjs with the official socket.io-client: a scripted session of several players, each step a
// named check comparing what a client observed with what the program is meant to do.
//
//   node driver.mjs --url http://127.0.0.1:PORT --transport websocket|polling
//
// Prints every failed check, then "N passed, M failed" and a RESULT line (JSON: the passed and failed check
// names) for the test to read; exits 1 when a check failed.
import { createHash } from "node:crypto";
import { inspect, isDeepStrictEqual } from "node:util";
import { io } from "socket.io-client";

const opts = {};
for (let i = 2; i < process.argv.length; i += 2) opts[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
const URL = opts.url;
const TRANSPORT = opts.transport || "websocket";
if (!URL || !["websocket", "polling"].includes(TRANSPORT)) {
  console.error("usage: node driver.mjs --url http://127.0.0.1:PORT --transport websocket|polling");
  process.exit(2);
}
const WAIT = 2500; // ms: the longest any step waits
// Past this budget no step waits any more (whatever is still missing fails at once), so that a server
// that answers nothing cannot keep a run going for minutes.
const BUDGET_END = Date.now() + 25_000;
const waitMs = () => Math.max(0, Math.min(WAIT, BUDGET_END - Date.now()));

// ---- checks ------------------------------------------------------------------------------------------------

const passed = [];
const failed = [];
const show = (v) => inspect(v, { depth: 6, breakLength: Infinity, maxArrayLength: 12 });

function check(name, actual, expected) {
  if (passed.includes(name) || failed.includes(name)) throw new Error(`duplicate check name ${name}`);
  if (isDeepStrictEqual(actual, expected)) {
    passed.push(name);
  } else {
    failed.push(name);
    console.log(`FAIL ${name}: got ${show(actual)}, expected ${show(expected)}`);
  }
}

const NO_ACK = "<no acknowledgement>";
const NOTHING = "<nothing received>";
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sorted = (list) => [...list].sort();
const sha1 = (buffer) => createHash("sha1").update(buffer).digest("hex");

// ---- clients -----------------------------------------------------------------------------------------------

const everyone = [];

/** A client socket whose received events are all recorded (onAny), for later checks. */
class Player {
  constructor(socket) {
    this.socket = socket;
    this.log = [];
    socket.onAny((event, ...args) => this.log.push([event, args]));
    everyone.push(this);
  }

  get id() {
    return this.socket.id;
  }

  /** The first arguments of every `event` received so far. */
  got(event) {
    return this.log.filter(([e]) => e === event).map(([, args]) => args[0]);
  }

  /** Waits for the `n`th `event` whose first argument satisfies `pred`; that argument, or NOTHING. */
  async next(event, pred = () => true, n = 1) {
    const deadline = Date.now() + waitMs();
    for (;;) {
      const found = this.got(event).filter((payload) => pred(payload));
      if (found.length >= n) return found[n - 1];
      if (Date.now() > deadline) return NOTHING;
      await sleep(10);
    }
  }

  /** Emits with an acknowledgement: every argument of the ack, or NO_ACK. */
  ackAll(event, ...args) {
    return new Promise((resolve) => {
      this.socket.timeout(waitMs()).emit(event, ...args, (err, ...answer) => resolve(err ? NO_ACK : answer));
    });
  }

  /** The first argument of the acknowledgement. */
  async ack(event, ...args) {
    const answer = await this.ackAll(event, ...args);
    return answer === NO_ACK ? NO_ACK : answer[0];
  }

  /** Resolves with the reason of the next disconnection, or NOTHING. */
  disconnection() {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(NOTHING), waitMs());
      this.socket.once("disconnect", (reason) => {
        clearTimeout(timer);
        resolve(reason);
      });
    });
  }
}

/**
 * Opens a socket on its own connection, or on `manager`'s (multiplexed); resolves with { player } once
 * connected or { player, error } on connect_error (or after the wait).
 */
function open(path, auth, manager = null) {
  const socket = manager
    ? manager.socket(path, { auth })
    : io(URL + path, {
        transports: [TRANSPORT],
        forceNew: true,
        reconnection: false,
        timeout: WAIT,
        auth,
        query: { client: "driver" },
      });
  const player = new Player(socket); // a socket of an already open Manager connects at once
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ player, error: new Error("connect timed out") }), waitMs());
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve({ player });
    });
    socket.once("connect_error", (error) => {
      clearTimeout(timer);
      resolve({ player, error });
    });
  });
}

async function login(token) {
  const { player, error } = await open("/", { token });
  if (error) throw new Error(`${token} could not connect: ${error.message}`);
  return player;
}

// ---- the scenario ----------------------------------------------------------------------------------------

async function refusals() {
  const anonymous = await open("/", {});
  check("refuse:no-token", [anonymous.error?.message, anonymous.error?.data], ["authentication required", { code: "NO_TOKEN" }]);
  const forged = await open("/", { token: "t-zzz" });
  check("refuse:bad-token:message", forged.error?.message, "invalid token");
  check("refuse:bad-token:data", forged.error?.data, { code: "BAD_TOKEN", token: "t-zzz" });
  check("refuse:bad-token:no-welcome", forged.player.got("welcome").length, 0);
  const banned = await open("/", { token: "t-eve" });
  check("refuse:second-middleware", [banned.error?.message, banned.error?.data], ["banned", { code: "BANNED", name: "Eve" }]);
}

async function scenario() {
  await refusals();

  // -- Ann (red, admin), Ben (red), Cat and Dov (blue) join ---------------------------------------------------
  const ann = await login("t-ann");
  const annWelcome = await ann.next("welcome");
  check("connect:welcome:id", annWelcome.id, ann.id);
  check("connect:welcome:data-from-middlewares", [annWelcome.name, annWelcome.team, annWelcome.role], ["Ann", "red", "admin"]);
  check("connect:welcome:handshake-query", annWelcome.client, "driver");
  check("connect:welcome:rooms-from-middleware-and-handler", annWelcome.rooms, sorted([ann.id, "lobby", "team:red", "user:Ann"]));
  check("connect:welcome:lobby-size", annWelcome.online, 1);

  const twin = await open("/", { token: "t-ann" });
  check("refuse:duplicate-via-fetchSockets", [twin.error?.message, twin.error?.data], ["already connected", { code: "DUPLICATE", name: "Ann" }]);

  const ben = await login("t-ben");
  check("connect:ben:lobby-size", (await ben.next("welcome")).online, 2);
  check("connect:socket.to-lobby", await ann.next("user:joined"), { name: "Ben", team: "red" });
  const cat = await login("t-cat");
  const dov = await login("t-dov");
  await ann.next("user:joined", (p) => p.name === "Dov");
  await ben.next("user:joined", (p) => p.name === "Dov");
  await cat.next("user:joined", (p) => p.name === "Dov");
  await ann.next("rival:joined", (p) => p.name === "Dov");
  await ben.next("rival:joined", (p) => p.name === "Dov");
  check("connect:joiner-not-told", ben.got("user:joined").map((p) => p.name), ["Cat", "Dov"]);
  check("connect:except-team:ann", ann.got("rival:joined").map((p) => p.name), ["Cat", "Dov"]);
  check("connect:except-team:ben", ben.got("rival:joined").map((p) => p.name), ["Cat", "Dov"]);
  check("connect:except-team:cat-excluded", cat.got("rival:joined").length, 0);

  // -- socket.data, onAny and socket.use ----------------------------------------------------------------------
  const benMe = await ben.ack("me");
  check("me:socket.data", benMe.data, { name: "Ben", team: "red", role: "player", score: 0, messages: 0 });
  check("me:joinedAt", benMe.joinedAtIsTime, true);
  check("me:rooms", benMe.rooms, sorted([ben.id, "lobby", "team:red", "user:Ben"]));
  check("me:transport", benMe.transport, TRANSPORT);
  check("me:onAny-counts", benMe.activity, 1);
  ben.socket.emit("admin:announce", "free pizza");
  check("use:denied", await ben.next("denied"), "not allowed: admin:announce");
  await ann.ack("me"); // a round trip after the denied packet
  check("use:denied-not-run", ann.got("announcement").length, 0);
  check("use:onAny-sees-denied-packets", (await ben.ack("me")).activity, 3);

  // -- Talking ---------------------------------------------------------------------------------------------------
  check("chat:ack", await ann.ack("chat", "hello"), { ok: true, n: 1 });
  check("chat:ben", await ben.next("chat"), { from: "Ann", text: "hello" });
  check("chat:dov", await dov.next("chat"), { from: "Ann", text: "hello" });
  check("chat:sender-skipped", ann.got("chat").length, 0);
  cat.socket.emit("team:say", "blue wins");
  check("team:teammate", await dov.next("team:say"), { from: "Cat", text: "blue wins" });
  check("team:others-skipped", [ann.got("team:say").length, ben.got("team:say").length, cat.got("team:say").length], [0, 0, 0]);
  check("whisper:ack-room-size", await ann.ack("whisper", "Dov", "psst"), 1);
  check("whisper:delivered", await dov.next("whisper"), { from: "Ann", text: "psst" });
  check("whisper:nobody", await ann.ack("whisper", "Zed", "?"), 0);
  check("whisper:private", [ben.got("whisper").length, cat.got("whisper").length], [0, 0]);

  // -- Rooms, adapter sizes, fetchSockets with data ----------------------------------------------------------
  check("room:join", await ben.ack("room:join", "chess"), sorted([ben.id, "chess", "lobby", "team:red", "user:Ben"]));
  await cat.ack("room:join", "chess");
  check("adapter:sizes", await ann.ack("room:sizes", ["chess", "lobby", "team:red", "team:blue", "nope"]),
    { chess: 2, lobby: 4, "team:red": 2, "team:blue": 2, nope: 0 });
  check("score:ack", await ben.ack("score", 5), 5);
  const chess = await ann.ack("who", "chess");
  check("fetchSockets:ids", Array.isArray(chess) && chess.map((p) => p.id), [ben.id, cat.id]);
  check("fetchSockets:data", Array.isArray(chess) && chess.map((p) => [p.name, p.team, p.score]), [["Ben", "red", 5], ["Cat", "blue", 0]]);
  check("fetchSockets:rooms", Array.isArray(chess) && chess[1].rooms, sorted([cat.id, "chess", "lobby", "team:blue", "user:Cat"]));
  check("room:leave", await cat.ack("room:leave", "chess"), sorted([cat.id, "lobby", "team:blue", "user:Cat"]));
  check("adapter:size-after-leave", await ann.ack("room:sizes", ["chess"]), { chess: 1 });
  check("adapter:empty-room-gone", await ann.ack("room:sizes", ["chess-old"]), { "chess-old": 0 });

  // -- Admin: socketsJoin / socketsLeave ----------------------------------------------------------------------
  check("socketsJoin:team-blue", await ann.ack("admin:gather", "blue", "arena"), 2);
  check("socketsJoin:rooms-of-member", (await dov.ack("me")).rooms, sorted([dov.id, "arena", "lobby", "team:blue", "user:Dov"]));
  check("socketsJoin:team-red", await ann.ack("admin:gather", "red", "arena"), 4);
  check("socketsJoin:fetchSockets", ((await ann.ack("who", "arena")) || []).map?.((p) => p.name), ["Ann", "Ben", "Cat", "Dov"]);
  check("socketsLeave", await ann.ack("admin:scatter", "arena"), 0);
  check("socketsLeave:rooms-of-member", (await cat.ack("me")).rooms, sorted([cat.id, "lobby", "team:blue", "user:Cat"]));

  // -- Binary ------------------------------------------------------------------------------------------------
  const image = Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 13 + 1) % 256));
  const upload = await ben.ack("upload", { name: "map.png" }, image);
  check("binary:ack:size-digest", [upload.size, upload.digest], [500, sha1(image)]);
  check("binary:ack:bytes", upload.head, image.subarray(0, 4));
  check("binary:ack:nested", upload.nested, { parts: [image.subarray(0, 2), { tail: image.subarray(498) }] });
  const got = await cat.next("upload");
  check("binary:broadcast:data", got.data, image);
  check("binary:broadcast:nested", [got.from, got.meta, got.thumb], ["Ben", { name: "map.png" }, [image.subarray(0, 1)]]);
  check("binary:broadcast:sender-skipped", ben.got("upload").length, 0);
  const parcel = [1, "two", Buffer.from([3, 3, 3]), { four: [Buffer.from([4]), { five: Buffer.alloc(0) }], six: null }];
  check("binary:multi-arg-ack", await dov.ackAll("echo", ...parcel), parcel);

  // -- Acknowledgements from the clients ------------------------------------------------------------------------
  const benQuestions = [];
  ben.socket.on("question", (q, answer) => {
    benQuestions.push(q);
    answer("yes");
  });
  cat.socket.on("question", () => {}); // Cat never answers
  check("socket.timeout:answered", await ann.ack("ask", "Ben", "ready?"), { answer: "yes" });
  check("socket.timeout:payload", benQuestions, [{ from: "Ann", question: "ready?" }]);
  check("socket.timeout:timed-out", await ann.ack("ask", "Cat", "there?"), { error: "timeout" });
  check("socket.timeout:unknown", await ann.ack("ask", "Zed", "?"), { error: "no such user" });

  const confirms = [];
  dov.socket.on("confirm", (offer, answer) => {
    confirms.push(offer);
    answer(offer.item === "sword");
  });
  check("emitWithAck:yes", await dov.ack("buy", "sword"), { bought: "sword" });
  check("emitWithAck:no", await dov.ack("buy", "shield"), { bought: null });
  check("emitWithAck:payload", confirms, [{ item: "sword", price: 50 }, { item: "shield", price: 60 }]);

  ben.socket.on("quiz", (q, answer) => answer(`Ben: ${q}`));
  cat.socket.on("quiz", (q, answer) => answer(`Cat: ${q}`));
  dov.socket.on("quiz", (q, answer) => {
    if (q === "2+2?") answer(`Dov: ${q}`); // silence on anything else
  });
  check("broadcast-ack:all", await ann.ack("quiz", "2+2?"), { answers: ["Ben: 2+2?", "Cat: 2+2?", "Dov: 2+2?"] });
  check("broadcast-ack:timeout-partial", await ann.ack("quiz:team", "blue", "3+3?"), { timedOut: true, responses: ["Cat: 3+3?"] });
  check("broadcast-ack:asker-excluded", ann.got("quiz").length, 0);

  // -- Volatile ------------------------------------------------------------------------------------------------
  for (const n of [1, 2, 3]) {
    dov.socket.emit("ping:volatile", n);
    await sleep(40);
  }
  await dov.next("pong:volatile");
  await sleep(150);
  const pongs = dov.got("pong:volatile");
  check("volatile:delivered-at-most-once", pongs.length >= 1 && pongs.every((n, i) => [1, 2, 3].includes(n) && pongs.indexOf(n) === i), true);
  check("volatile:room:subscribed", await ben.ack("ticks", true), true);
  const tick1 = await ben.next("tick");
  const tick2 = await ben.next("tick", (n) => n > tick1);
  check("volatile:room:ticks-increase", typeof tick1 === "number" && tick2 > tick1, true);
  check("volatile:room:unsubscribed", await ben.ack("ticks", false), false);
  const ticksAtLeave = ben.got("tick").length;
  await sleep(300);
  check("volatile:room:no-ticks-after-leave", ben.got("tick").length - ticksAtLeave, 0);
  check("volatile:room:only-subscribers", ann.got("tick").length, 0);

  // -- /admin: its own middleware ---------------------------------------------------------------------------
  const stranger = await open("/admin", {});
  check("nsp-middleware:no-token", [stranger.error?.message, stranger.error?.data], ["admins only", { code: "NOT_ADMIN" }]);
  const player = await open("/admin", { token: "t-ben" }, ben.socket.io);
  check("nsp-middleware:player-refused", player.error?.message, "admins only");
  check("nsp-middleware:main-socket-stays", ben.socket.connected, true);
  const annAdmin = await open("/admin", { token: "t-ann" }, ann.socket.io);
  check("nsp-middleware:admin-in", annAdmin.error?.message, undefined);
  check("nsp:stats", await annAdmin.player.ack("stats"), { sockets: 4, lobby: 4, red: 2, blue: 2, admins: 1 });

  // -- /match-<n>: dynamic namespaces ----------------------------------------------------------------------------
  const benMatch = (await open("/match-7", { token: "t-ben" }, ben.socket.io)).player;
  check("dynamic:hello", await benMatch.next("match:hello"), { match: "/match-7", players: 1 });
  const catMatch = (await open("/match-7", { token: "t-cat" }, cat.socket.io)).player;
  check("dynamic:second-player", await catMatch.next("match:hello"), { match: "/match-7", players: 2 });
  check("dynamic:joined-broadcast", await benMatch.next("match:joined"), "Cat");
  const dovMatch = (await open("/match-8", { token: "t-dov" }, dov.socket.io)).player;
  check("dynamic:other-match", await dovMatch.next("match:hello"), { match: "/match-8", players: 1 });
  check("dynamic:move-ack", await benMatch.ack("move", "e4"), "/match-7");
  check("dynamic:move-delivered", await catMatch.next("move"), { by: "Ben", move: "e4" });
  check("dynamic:matches-isolated", [dovMatch.got("move").length, dovMatch.got("match:joined").length], [0, 0]);
  check("dynamic:main-namespace-isolated", cat.got("move").length, 0);
  const bogus = await open("/match-x", { token: "t-ben" });
  check("dynamic:no-match", bogus.error?.message, "Invalid namespace");
  const anonymousMatch = await open("/match-9", {});
  check("dynamic:parent-middleware", [anonymousMatch.error?.message, anonymousMatch.error?.data], ["players only", { code: "NO_PLAYER" }]);

  // -- Muting, announcing ---------------------------------------------------------------------------------------
  check("mute:ack", await ann.ack("admin:mute", "Dov"), ["Dov"]);
  dov.socket.emit("chat", "can you hear me?");
  check("mute:denied", await dov.next("denied"), "muted");
  ann.socket.emit("admin:announce", "maintenance at noon");
  const notice = { text: "maintenance at noon", by: "Ann" };
  check("announce:everyone", [await ben.next("announcement"), await cat.next("announcement"), await dov.next("announcement")], [notice, notice, notice]);
  check("announce:sender-too", await ann.next("announcement"), notice);
  check("mute:chat-not-delivered", ann.got("chat").length + ben.got("chat").filter((c) => c.from === "Dov").length, 0);

  // -- Leaving: disconnectSockets, client disconnect, disconnectSockets(true) --------------------------------------
  const catGone = cat.disconnection();
  check("kick:ack", await ann.ack("admin:kick", "Cat"), 0);
  check("kick:client-reason", await catGone, "io server disconnect");
  check("kick:disconnecting-rooms", await ann.next("user:leaving", (p) => p.name === "Cat"),
    { name: "Cat", rooms: ["lobby", "team:blue", "user:Cat"], reason: "server namespace disconnect" });
  check("kick:disconnect-presence", await ben.next("presence", (p) => p.left === "Cat"), { left: "Cat", online: 3 });
  check("kick:other-namespace-stays", catMatch.socket.connected, true);
  check("kick:leaver-not-told", cat.got("user:leaving").length, 0);

  await ben.ack("room:join", "chess");
  const benGone = ben.disconnection();
  ben.socket.disconnect();
  check("leave:client-reason", await benGone, "io client disconnect");
  check("leave:disconnecting-rooms", await ann.next("user:leaving", (p) => p.name === "Ben"),
    { name: "Ben", rooms: ["chess", "lobby", "team:red", "user:Ben"], reason: "client namespace disconnect" });
  check("leave:presence", await dov.next("presence", (p) => p.left === "Ben"), { left: "Ben", online: 2 });
  check("leave:room-emptied", await ann.ack("room:sizes", ["chess", "team:red"]), { chess: 0, "team:red": 1 });

  const dovGone = dov.disconnection();
  check("kick-team:ack", await ann.ack("admin:kick-team", "blue"), true);
  // socket.io disconnects each namespace of the connection (a DISCONNECT packet), then closes it.
  check("kick-team:client-reason", await dovGone, "io server disconnect");
  check("kick-team:disconnecting-rooms", await ann.next("user:leaving", (p) => p.name === "Dov"),
    { name: "Dov", rooms: ["lobby", "team:blue", "user:Dov"], reason: "server namespace disconnect" });
  await sleep(100);
  check("kick-team:all-namespaces-closed", dovMatch.socket.connected, false);
  check("kick-team:lobby-after", await ann.ack("room:sizes", ["lobby", "team:blue"]), { lobby: 1, "team:blue": 0 });

  const benAgain = await login("t-ben");
  check("rejoin:after-leaving", (await benAgain.next("welcome")).online, 2);
}

// ---- running it ------------------------------------------------------------------------------------------------

const guard = setTimeout(() => {
  console.log("FAIL driver: the scenario did not finish within 40 s");
  finish(1);
}, 40_000);

function finish(code) {
  clearTimeout(guard);
  for (const p of everyone) p.socket.disconnect();
  console.log(`${passed.length} passed, ${failed.length} failed`);
  console.log(`RESULT ${JSON.stringify({ passed, failed })}`);
  process.exit(code);
}

try {
  await scenario();
} catch (err) {
  failed.push("scenario:completed");
  console.log(`FAIL scenario:completed: ${err?.stack || err}`);
}
finish(failed.length ? 1 : 0);
