// The official admin UI (@socket.io/admin-ui's ui/dist), served by ferrio at /admin/ and driven in headless
// Chromium (Debian's /usr/bin/chromium through playwright-core; no browser is downloaded): log in, see the
// server stats, the sockets and their rooms, make a socket join a room and disconnect it from the UI, and
// check both through the socket.io-client connection that is that socket. A screenshot is written to
// target/admin-ui.png. Every request the page makes outside 127.0.0.1 (web fonts, icon CSS) is aborted.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { Clients, REPO, browserSkip, launchChromium, startServer, withTimeout } from "./helpers.mjs";

const ADMIN_BIN = path.join(REPO, "target/debug/examples/admin_server");
const UI_DIR = path.join(REPO, "node_modules/@socket.io/admin-ui/ui/dist");
const SCREENSHOT = path.join(REPO, "target/admin-ui.png");
const skip = browserSkip("runs against the core's admin_server only");

describe("admin UI in headless Chromium", { skip, timeout: 120_000 }, () => {
  let server;
  let browser;
  const clients = new Clients();
  before(async () => {
    server = await startServer(["--ui-dir", UI_DIR, "--stats-interval", "1000"], { bin: ADMIN_BIN });
    browser = await launchChromium();
  });
  after(async () => {
    clients.closeAll();
    if (browser) await browser.close().catch(() => {});
    if (server) await server.stop();
  });

  test("log in, see sockets, rooms and stats, join a room and disconnect a socket", { timeout: 100_000 }, async () => {
    const user = await clients.connect(server.url, null, { transports: ["websocket"] });
    const rooms = () => withTimeout(user.emitWithAck("rooms"), 4000, "rooms ack");
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(15_000);
    await page.route(
      (url) => url.hostname !== "127.0.0.1",
      (route) => route.abort(),
    );
    const pageErrors = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));

    // The UI is served on ferrio's own port.
    const response = await page.goto(`${server.url}/admin/`);
    assert.equal(response.status(), 200);
    assert.equal(await page.title(), "Socket.IO Admin UI");

    // A wrong password first: the UI shows the server's "invalid credentials" refusal.
    await page.getByLabel("Server URL").fill(server.url);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("wrong");
    await page.getByRole("button", { name: "Connect" }).click();
    await page.getByText("Invalid credentials").waitFor();
    await page.getByLabel("Password").fill("admin-password");
    await page.getByRole("button", { name: "Connect" }).click();
    await page.getByLabel("Password").waitFor({ state: "hidden" });

    // Reloading reconnects silently with the session id the server gave at login.
    await page.reload();
    await page.goto(`${server.url}/admin/#/servers/`);
    // Server stats: the servers page lists this server with its pid.
    await page.getByText(String(server.child.pid), { exact: true }).first().waitFor();
    assert.equal(await page.getByLabel("Password").isVisible(), false, "no login form after the reload");

    // The sockets page lists the test's socket.
    await page.goto(`${server.url}/admin/#/sockets/`);
    await page.getByText(user.id, { exact: true }).first().waitFor();

    // Its details page shows its rooms; join "vip" from the UI.
    await page.goto(`${server.url}/admin/#/n/${encodeURIComponent("/")}/sockets/${user.id}`);
    await page.getByRole("cell", { name: user.id, exact: true }).first().waitFor();
    await page.getByLabel("Join a room").fill("vip");
    await page.locator("button[type=submit]:has(i.mdi-tag-plus-outline)").click();
    const deadline = Date.now() + 5000;
    let seen = await rooms();
    while (!seen.includes("vip") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await rooms();
    }
    assert.deepEqual(seen, [user.id, "vip"].sort(), "the socket joined the room chosen in the UI");
    await page.getByRole("cell", { name: "vip", exact: true }).waitFor();

    // The rooms page shows the new room.
    await page.goto(`${server.url}/admin/#/rooms/`);
    await page.getByText("vip", { exact: true }).first().waitFor();

    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.goto(`${server.url}/admin/#/n/${encodeURIComponent("/")}/sockets/${user.id}`);
    await page.getByRole("cell", { name: "vip", exact: true }).waitFor();
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`admin UI screenshot: ${SCREENSHOT}`);

    // Disconnect the socket from the UI.
    const reason = new Promise((resolve) => user.once("disconnect", resolve));
    await page.locator("button:has(i.mdi-logout)").first().click();
    assert.equal(await withTimeout(reason, 5000, "the socket's disconnect"), "io server disconnect");
    assert.deepEqual(pageErrors, [], "no script errors in the page");
    await page.close();
  });
});
