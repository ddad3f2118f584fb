// HTTP compression of long-polling responses (engine.io's httpCompression, on by default from 1024 bytes)
// with the official browser client: headless Chromium (Debian's /usr/bin/chromium through playwright-core;
// no browser is downloaded) loads the socket.io-client bundle the server serves, connects over polling
// only and echoes a 20,000-character string. Chromium asks for gzip, so the large polling responses come
// back gzip-encoded (seen on the wire) and the client reads them as the server sent them. Node's
// socket.io-client sends no Accept-Encoding, so the rest of this suite never sees a compressed response.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { browserSkip, launchChromium, startServer } from "./helpers.mjs";

const skip = browserSkip("runs against the core's e2e server only (the bindings' own suites test their option)");

describe("long-polling compression with the browser client", { skip, timeout: 90_000 }, () => {
  let server;
  let browser;
  before(async () => {
    server = await startServer();
    browser = await launchChromium();
  });
  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (server) await server.stop();
  });

  test("large polling responses arrive gzip-encoded and the client reads them", { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    // Every polling GET's Content-Encoding, in the order the responses came.
    const pending = [];
    page.on("response", (response) => {
      if (!response.url().includes("transport=polling") || response.request().method() !== "GET") return;
      pending.push(
        response
          .allHeaders()
          .then((headers) => ({ encoding: headers["content-encoding"] ?? null, url: response.url() })),
      );
    });
    // Same origin as the engine, so the polling requests need no CORS.
    await page.goto(`${server.url}/socket.io/socket.io.js`);
    await page.addScriptTag({ url: `${server.url}/socket.io/socket.io.js` });
    const result = await page.evaluate(
      (url) =>
        new Promise((resolve, reject) => {
          const big = "z".repeat(20_000);
          // eslint-disable-next-line no-undef
          const socket = io(url, { transports: ["polling"], reconnection: false });
          const timer = setTimeout(() => reject(new Error("no echo in time")), 10_000);
          socket.on("connect_error", (err) => reject(err));
          socket.on("echo", (tag, text) => {
            clearTimeout(timer);
            resolve({ tag, same: text === big, length: text.length, transport: socket.io.engine.transport.name });
            socket.close();
          });
          socket.on("connect", () => socket.emit("echo", "big", big));
        }),
      server.url,
    );
    assert.deepEqual(result, { tag: "big", same: true, length: 20_000, transport: "polling" });
    const polls = await Promise.all(pending);
    assert.ok(
      polls.some((p) => p.encoding === "gzip"),
      `a polling response carrying the echo was gzip-encoded: ${JSON.stringify(polls)}`,
    );
    // The open packet is under the threshold: sent as is.
    assert.equal(polls[0].encoding, null, JSON.stringify(polls[0]));
    await page.close();
  });
});
