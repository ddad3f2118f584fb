// io.instrument(): the official admin UI's server side, from the Node binding (options named as in
// @socket.io/admin-ui's instrument(io, opts)).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { FerrioError } from "../index.mjs";
import { start, next, within } from "./helpers.mjs";

// bcrypt of "s3cret" (cost 4, so the test stays fast).
const HASH = "$2a$04$xgcc26Vg0iqha6iq3i3c9.QLv1mJfpYXIhA.LRQfOAEhYMOjAs/im";

describe("io.instrument()", { timeout: 60_000 }, () => {
  test("login ok: session, config, server_stats and all_sockets; the UI is served at /admin/", async () => {
    const t = await start();
    try {
      t.io.instrument({ auth: { type: "basic", username: "admin", password: HASH }, mode: "development" });
      t.io.on("connection", () => {});
      const user = await t.client();
      const admin = await t.client("/admin", { auth: { username: "admin", password: "s3cret" }, autoConnect: false });
      const session = next(admin, "session");
      const config = next(admin, "config");
      const stats = next(admin, "server_stats");
      const all = next(admin, "all_sockets");
      admin.connect();
      const [sessionId] = await session;
      assert.match(sessionId, /^[0-9a-f]{16}$/);
      const [{ supportedFeatures }] = await config;
      assert.ok(supportedFeatures.includes("JOIN") && supportedFeatures.includes("ALL_EVENTS"));
      const [s] = await stats;
      assert.equal(s.pid, process.pid);
      assert.equal(s.clientsCount, 2);
      const [sockets] = await all;
      assert.ok(sockets.some((x) => x.id === user.id && x.nsp === "/"));

      admin.emit("join", "/", "blue", user.id);
      await within(
        (async () => {
          while (!(await t.io.in("blue").fetchSockets()).length) await new Promise((r) => setTimeout(r, 20));
        })(),
      );
      const page = await fetch(`${t.url}/admin/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /Socket\.IO Admin UI/);
    } finally {
      await t.close();
    }
  });

  test("bad credentials: connect_error \"invalid credentials\"", async () => {
    const t = await start();
    try {
      t.io.instrument({ auth: { type: "basic", username: "admin", password: HASH }, readonly: true, uiDir: false });
      const admin = await t.client("/admin", { auth: { username: "admin", password: "nope" }, autoConnect: false });
      const error = next(admin, "connect_error");
      admin.connect();
      const [err] = await error;
      assert.equal(err.message, "invalid credentials");
      assert.equal((await fetch(`${t.url}/admin/`)).status, 404, "uiDir: false serves no UI");
    } finally {
      await t.close();
    }
  });

  test("read-only and auth: false; option errors as in @socket.io/admin-ui", async () => {
    const t = await start();
    try {
      assert.throws(() => t.io.instrument({}), (e) => e instanceof FerrioError && e.code === "ERR_FERRIO_ADMIN" && /auth/.test(e.message));
      assert.throws(
        () => t.io.instrument({ auth: { type: "basic", username: "a", password: "plain" } }),
        (e) => e.code === "ERR_FERRIO_ADMIN" && /valid bcrypt hash/.test(e.message),
      );
      t.io.instrument({ auth: false, readonly: true, namespaceName: "/ops" });
      const admin = await t.client("/ops", { autoConnect: false });
      const config = next(admin, "config");
      admin.connect();
      const [{ supportedFeatures }] = await config;
      assert.deepEqual(supportedFeatures, ["AGGREGATED_EVENTS", "ALL_EVENTS"]);
    } finally {
      await t.close();
    }
  });
});
