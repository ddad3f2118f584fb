// Drives lobby.py with the official socket.io-client: a scripted session of several players, each step a
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
const WAIT = 2500; // ms: the longest any step waits
// Past this budget no step waits any more (whatever is still missing fails at once), so that a server
// that answers nothing cannot keep a run going for minutes.
const BUDGET_END = Date.now() + 25_000;
const waitMs = () => Math.max(0, Math.min(WAIT, BUDGET_END - Date.now()));
if (!URL || !["websocket", "polling"].includes(TRANSPORT)) {
  console.error("usage: node driver.mjs --url http://127.0.0.1:PORT --transport websocket|polling");
  process.exit(2);
}

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

  /** The first-argument payloads of every `event` received so far. */
  got(event) {
    return this.log.filter(([e]) => e === event).map(([, args]) => args[0]);
  }

  /** Waits for the `n`th `event` whose first argument satisfies `pred`; its payload, or NOTHING. */
  async next(event, pred = () => true, n = 1) {
    const deadline = Date.now() + waitMs();
    for (;;) {
      const found = this.got(event).filter((payload) => pred(payload));
      if (found.length >= n) return found[n - 1];
      if (Date.now() > deadline) return NOTHING;
      await sleep(10);
    }
  }

  /** Emits with an acknowledgement: every argument of the ack, or NO_ACK after WAIT. */
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
}

/** Opens a socket; resolves with { player } once connected or { error } on connect_error (or timeout). */
function open(path, options = {}, manager = null) {
  const socket = manager
    ? manager.socket(path, { auth: options.auth })
    : io(URL + path, {
        transports: [TRANSPORT],
        forceNew: true,
        reconnection: false,
        timeout: WAIT,
        ...options,
      });
  const player = new Player(socket); // a socket of an open Manager connects at once (autoConnect)
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
  const { player, error } = await open("/", { auth: { token }, query: { client: "driver" } });
  if (error) throw new Error(`${token} could not connect: ${error.message}`);
  return player;
}

const disconnected = (player) =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve(NOTHING), waitMs());
    player.socket.once("disconnect", (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });

const sha1 = (buffer) => createHash("sha1").update(buffer).digest("hex");

// ---- the scenario ----------------------------------------------------------------------------------------

async function refusals() {
  const anonymous = await open("/");
  check("refuse:no-token:message", anonymous.error?.message, "Connection rejected by server");
  check("refuse:no-token:no-data", anonymous.error?.data, undefined);

  const forged = await open("/", { auth: { token: "tok-zzz" } });
  check("refuse:bad-token:message", forged.error?.message, "invalid token");
  check("refuse:bad-token:data", forged.error?.data, { code: 401, token: "tok-zzz" });
  check("refuse:bad-token:no-welcome", forged.player.got("welcome").length, 0);
  check("refuse:bad-token:not-connected", forged.player.socket.connected, false);
}

async function scenario() {
  await refusals();

  // -- Ada (admin), then Bob and Cyd, join the lobby -------------------------------------------------------
  const ada = await login("tok-ada");
  const adaWelcome = await ada.next("welcome");
  check("connect:ada:welcome-sid", adaWelcome.sid, ada.id);
  check("connect:ada:welcome-name-role", [adaWelcome.name, adaWelcome.role], ["Ada", "admin"]);
  check("connect:ada:environ-query", adaWelcome.client, "driver");
  check("connect:ada:rooms-read-in-connect", adaWelcome.rooms, sorted([ada.id, "admins", "lobby"]));
  check("connect:ada:online", adaWelcome.online, ["Ada"]);

  const bob = await login("tok-bob");
  const bobWelcome = await bob.next("welcome");
  check("connect:bob:rooms-read-in-connect", bobWelcome.rooms, sorted([bob.id, "lobby"]));
  check("connect:bob:online", bobWelcome.online, ["Ada", "Bob"]);
  check("connect:ada-told-bob-joined", await ada.next("user:joined", (p) => p.name === "Bob"), { name: "Bob", online: 2 });

  const cyd = await login("tok-cyd");
  check("connect:bob-told-cyd-joined", await bob.next("user:joined", (p) => p.name === "Cyd"), { name: "Cyd", online: 3 });
  await ada.next("user:joined", (p) => p.name === "Cyd");
  check("connect:joiner-skipped", bob.got("user:joined").map((p) => p.name), ["Cyd"]);
  check("connect:welcome-only-to-joiner", ada.got("welcome").length, 1);

  const twin = await open("/", { auth: { token: "tok-bob" } });
  check("refuse:duplicate:message", twin.error?.message, "already connected");
  check("refuse:duplicate:data", twin.error?.data, { code: 409, name: "Bob" });

  // -- Sessions (save_session / session() in connect, get_session later) -------------------------------------
  const adaMe = await ada.ack("whoami");
  check("session:ada:name-role", [adaMe.name, adaMe.role], ["Ada", "admin"]);
  check("session:ada:rooms-saved-in-connect", adaMe.rooms_at_connect, sorted([ada.id, "admins", "lobby"]));
  check("session:ada:rooms-now", adaMe.rooms, sorted([ada.id, "admins", "lobby"]));
  check("session:ada:transport", adaMe.transport, TRANSPORT);
  const bobMe = await bob.ack("whoami");
  check("session:bob:sid", bobMe.sid, bob.id);
  check("session:bob:rooms-saved-in-connect", bobMe.rooms_at_connect, sorted([bob.id, "lobby"]));

  // -- The client manager's view of a connection ------------------------------------------------------------
  const adaPresence = await ada.ack("presence");
  check("manager:is-connected", adaPresence.connected, true);
  check("manager:eio-sid-from-sid", adaPresence.eio_sid, ada.socket.io.engine.id);
  check("manager:sid-from-eio-sid", adaPresence.sid_from_eio, ada.id);
  check("manager:get-rooms", adaPresence.rooms, sorted([ada.id, "admins", "lobby"]));

  // -- /game: the class-based namespace, multiplexed on the lobby connections ----------------------------------
  const stranger = await open("/game", { auth: {} }, cyd.socket.io);
  check("game:refuse:message", stranger.error?.message, "token required");
  check("game:refuse:data", stranger.error?.data, { namespace: "/game" });
  check("game:refuse:lobby-socket-stays", cyd.socket.connected, true);

  const adaGame = (await open("/game", { auth: { token: "tok-ada" } }, ada.socket.io)).player;
  const bobGame = (await open("/game", { auth: { token: "tok-bob" } }, bob.socket.io)).player;
  check("game:connect:state-to-joiner", await bobGame.next("game:state"), { players: ["Ada", "Bob"] });
  check("game:connect:own-sid", adaGame.socket.connected && adaGame.id !== ada.id, true);
  const adaGameMe = await adaGame.ack("whoami");
  check("game:manager:eio-sid", adaGameMe.eio_sid, ada.socket.io.engine.id);
  check("game:manager:lobby-sid-of-same-connection", adaGameMe.lobby_sid, ada.id);
  check("game:move:ack", await adaGame.ack("move", { points: 5 }), { score: 5 });
  check("game:move:others-told", await bobGame.next("moved"), { name: "Ada", points: 5, score: 5 });
  check("game:move:session-accumulates", await adaGame.ack("move", { points: 3 }), { score: 8 });
  check("game:move:refused", await adaGame.ack("move", { points: "lots" }), { error: "bad move" });
  check("game:score:tuple-ack", await adaGame.ackAll("score"), ["Ada", 8, [5, 3]]);
  check("game:move:mover-skipped", adaGame.got("moved").length, 0);
  check("game:spectate:join", await bobGame.ack("spectate", true), sorted([bobGame.id, "players", "spectators"]));
  check("game:spectate:leave", await bobGame.ack("spectate", false), sorted([bobGame.id, "players"]));

  // -- Chat, whispers ------------------------------------------------------------------------------------------
  check("chat:ack", await ada.ack("chat", { text: "hello all" }), { ok: true, count: 1 });
  check("chat:bob-receives", await bob.next("chat"), { from: "Ada", text: "hello all", room: "lobby" });
  check("chat:cyd-receives", await cyd.next("chat"), { from: "Ada", text: "hello all", room: "lobby" });
  check("chat:session-counter", await ada.ack("chat", { text: "again" }), { ok: true, count: 2 });
  await cyd.next("chat", (p) => p.text === "again");
  check("chat:sender-skipped", ada.got("chat").length, 0);
  check("chat:other-namespace-untouched", bobGame.got("chat").length, 0);
  check("chat:empty-refused", await bob.ack("chat", { text: "   " }), { ok: false, error: "empty" });
  check("chat:room-not-joined", await bob.ack("chat", { text: "hi", room: "admins" }), { ok: false, error: "not in room" });
  check("whisper:ack", await bob.ackAll("whisper", "Cyd", "psst"), [true]);
  check("whisper:delivered", await cyd.next("whisper"), { from: "Bob", text: "psst" });
  check("whisper:unknown", await bob.ackAll("whisper", "Zed", "anyone?"), [false]);
  check("whisper:private", ada.got("whisper").length, 0);

  // -- Game rooms, read through sio.manager ---------------------------------------------------------------------
  check("room:create", await bob.ack("room:create", "chess"), { room: "game:chess", owner: "Bob", size: 1 });
  check("room:create:taken", await cyd.ack("room:create", "chess"), { error: "exists" });
  check("room:create:lobby-told", await ada.next("room:created"), { room: "game:chess", by: "Bob" });
  check("room:create:creator-skipped", bob.got("room:created").length, 0);
  check("room:join", await cyd.ack("room:join", "chess"), { room: "game:chess", members: ["Bob", "Cyd"] });
  check("room:join:members-told", await bob.next("room:joined"), { room: "game:chess", name: "Cyd", size: 2 });
  check("room:join:missing", await cyd.ack("room:join", "nope"), { error: "no such room" });
  const chess = await ada.ack("room:info", "chess");
  check("manager:participants:size", chess.size, 2);
  check("manager:participants:sids", chess.sids, sorted([bob.id, cyd.id]));
  check("manager:participants:eio-sids", chess.eio_consistent, true);
  check("manager:rooms:table-size", chess.table_size, 2);
  check("manager:rooms:caller-outside", chess.caller_inside, false);
  check("room:info:owner", chess.owner, "Bob");
  const listed = await cyd.ack("rooms:list");
  check("manager:get-rooms:member", listed.mine, sorted([cyd.id, "game:chess", "lobby"]));
  check("manager:rooms:games", listed.games, ["game:chess"]);
  check("manager:get-namespaces", listed.namespaces, ["/", "/game"]);
  check("room:chat:ack", await cyd.ack("chat", { text: "e4", room: "game:chess" }), { ok: true, count: 1 });
  check("room:chat:member-receives", await bob.next("chat", (p) => p.room === "game:chess"), { from: "Cyd", text: "e4", room: "game:chess" });
  check("room:chat:outsider-skipped", ada.got("chat").length, 0);
  check("room:leave", await cyd.ack("room:leave", "chess"), sorted([cyd.id, "lobby"]));
  check("manager:participants:after-leave", (await ada.ack("room:info", "chess")).sids, [bob.id]);
  await cyd.ack("room:join", "chess");
  check("room:close:not-owner", await cyd.ack("room:close", "chess"), { error: "only the owner can close it" });
  check("room:close", await bob.ack("room:close", "chess"), { closed: "game:chess", size_after: 0 });
  check("room:close:members-told", await cyd.next("room:closing"), { room: "game:chess" });
  check("room:close:owner-told", await bob.next("room:closing"), { room: "game:chess" });
  check("room:close:rooms-after", (await cyd.ack("whoami")).rooms, sorted([cyd.id, "lobby"]));
  check("room:close:gone-from-manager", (await ada.ack("rooms:list")).games, []);

  // -- Binary payloads ------------------------------------------------------------------------------------------
  const image = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7 + 3) % 256));
  const upload = await ada.ack("avatar:upload", { name: "ada.png", type: "image/png" }, image);
  check("binary:upload:size", upload.size, 300);
  check("binary:upload:digest", upload.digest, sha1(image));
  check("binary:upload:meta", upload.meta, { name: "ada.png", type: "image/png" });
  check("binary:ack:bytes", upload.head, image.subarray(0, 4));
  check("binary:ack:nested", upload.parts, [image.subarray(0, 2), { tail: image.subarray(298) }]);
  const avatar = await bob.next("avatar");
  check("binary:broadcast:image", avatar.image, image);
  check("binary:broadcast:nested", avatar.thumbs, [image.subarray(0, 1), { last: image.subarray(299) }]);
  check("binary:broadcast:sender-skipped", ada.got("avatar").length, 0);
  check("binary:tuple-ack", await bob.ackAll("avatar:get", "Ada"), ["Ada", image]);
  check("ack:none-is-empty", await bob.ackAll("avatar:get", "Nobody"), []);
  const parcel = [7, "seven", Buffer.from([7, 0, 7]), { deep: [{ bytes: Buffer.from([255]) }], nil: null }];
  check("echo:args-and-binary", await cyd.ackAll("echo", ...parcel), parcel);

  // -- The server asks: sio.call() and emit(callback=) ---------------------------------------------------------
  const bobQuestions = [];
  bob.socket.on("question", (q, answer) => {
    bobQuestions.push(q);
    if (q.q === "ready?") answer("yes", { from: "Bob" });
    else answer("Bob");
  });
  const cydQuestions = [];
  cyd.socket.on("question", (q) => cydQuestions.push(q)); // Cyd never answers
  check("call:tuple-answer", await ada.ack("ask", { to: "Bob", q: "ready?" }), { answer: ["yes", { from: "Bob" }] });
  check("call:single-answer", await ada.ack("ask", { to: "Bob", q: "name?" }), { answer: "Bob" });
  check("call:question-payload", bobQuestions[0], { from: "Ada", q: "ready?" });
  check("call:timeout", await ada.ack("ask", { to: "Cyd", q: "there?", timeout: 0.4 }), { error: "timeout" });
  check("call:unanswered-was-asked", cydQuestions, [{ from: "Ada", q: "there?" }]);
  check("call:unknown-user", await ada.ack("ask", { to: "Zed", q: "?" }), { error: "no such user" });

  const bobVotes = [];
  bob.socket.on("vote", (p, answer) => {
    bobVotes.push(p);
    answer("yes");
  });
  cyd.socket.on("vote", (p, answer) => {
    if (p.q === "pizza?") setTimeout(() => answer("no"), 50); // and silence on anything else
  });
  const pizza = await ada.ack("poll", { q: "pizza?", options: ["yes", "no"], timeout: 2 });
  check("callback:votes", pizza.votes, { Bob: "yes", Cyd: "no" });
  check("callback:none-missing", pizza.missing, []);
  check("callback:vote-payload", bobVotes[0], { q: "pizza?", options: ["yes", "no"], by: "Ada" });
  const pineapple = await ada.ack("poll", { q: "pineapple?", options: ["yes", "no"], timeout: 0.4 });
  check("callback:partial-votes", [pineapple.votes, pineapple.missing], [{ Bob: "yes" }, ["Cyd"]]);

  // -- The background task's ticks ---------------------------------------------------------------------------------
  check("ticks:subscribe", await bob.ack("ticks:subscribe"), sorted([bob.id, "lobby", "tickers"]));
  const first = await bob.next("tick");
  const second = await bob.next("tick", () => true, 2);
  check("ticks:counting-up", second.n > first.n, true);
  check("ticks:online-count", first.online, 3);
  check("ticks:only-subscribers", ada.got("tick").length, 0);
  check("ticks:unsubscribe", await bob.ack("ticks:unsubscribe"), sorted([bob.id, "lobby"]));
  const ticksAtLeave = bob.got("tick").length;
  await sleep(350);
  check("ticks:stop-after-leave", bob.got("tick").length - ticksAtLeave, 0);

  // -- Stats across both namespaces --------------------------------------------------------------------------------
  check("manager:stats", await ada.ack("stats"), { lobby: 3, players: 2, admins: [true], games: [], online: ["Ada", "Bob", "Cyd"] });

  // -- Leaving a namespace, kicks, leaving ----------------------------------------------------------------------
  bobGame.socket.disconnect();
  check("game:leave:others-told", await adaGame.next("player:left"), { name: "Bob", why: "left" });
  check("game:leave:lobby-socket-stays", (await bob.ack("whoami")).name, "Bob");

  await bob.ack("room:create", "go");
  await cyd.ack("room:join", "go");
  check("kick:forbidden", await cyd.ack("kick", "Bob"), { error: "forbidden" });
  const cydGone = disconnected(cyd);
  check("kick:ack", await ada.ack("kick", "Cyd"), { kicked: "Cyd" });
  check("kick:notice-first", await cyd.next("kicked"), { by: "Ada" });
  check("kick:client-reason", await cydGone, "io server disconnect");
  const cydLeft = { name: "Cyd", why: "kicked", games: ["game:go"], online: 2 };
  check("kick:disconnect-handler-told-ada", await ada.next("user:left", (p) => p.name === "Cyd"), cydLeft);
  check("kick:disconnect-handler-told-bob", await bob.next("user:left", (p) => p.name === "Cyd"), cydLeft);
  check("manager:participants:after-kick", (await ada.ack("room:info", "go")).sids, [bob.id]);

  bob.socket.disconnect();
  check("leave:disconnect-handler-told-ada", await ada.next("user:left", (p) => p.name === "Bob"),
    { name: "Bob", why: "left", games: ["game:go"], online: 1 });
  const lobby = await ada.ack("room:info", "lobby");
  check("leave:lobby-after", [lobby.size, lobby.sids], [1, [ada.id]]);
  check("leave:game-room-emptied", (await ada.ack("room:info", "go")).size, 0);

  const bobAgain = await login("tok-bob");
  check("rejoin:welcome", (await bobAgain.next("welcome")).online, ["Ada", "Bob"]);
  check("rejoin:announced", await ada.next("user:joined", (p) => p.name === "Bob", 2), { name: "Bob", online: 2 });
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
