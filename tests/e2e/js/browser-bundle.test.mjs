// The server serves the socket.io-client browser bundles (as the Node socket.io server does with serveClient).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { REPO, startServer } from "./helpers.mjs";

const DIST = path.join(REPO, "node_modules/socket.io-client/dist");
const SCRIPTS = ["socket.io.js", "socket.io.min.js", "socket.io.esm.min.js"];
const FILES = [...SCRIPTS, ...SCRIPTS.map((f) => `${f}.map`)];

const get = (url, headers = {}) => fetch(url, { headers, signal: AbortSignal.timeout(5000) });

describe("browser bundle", { timeout: 30_000 }, () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    if (server) await server.stop();
  });

  for (const file of FILES) {
    test(`GET /socket.io/${file}: 200, content type, same bytes, ETag, 304`, async () => {
      const expected = readFileSync(path.join(DIST, file));
      const url = `${server.url}/socket.io/${file}`;
      const res = await get(url);
      assert.equal(res.status, 200);
      const type = res.headers.get("content-type") || "";
      if (file.endsWith(".map")) {
        // socket.io serves source maps as application/json; a JavaScript type is accepted as well
        assert.match(type, /^application\/(json|javascript)\b/, `content-type of ${file}: ${type}`);
      } else {
        assert.match(type, /^(application|text)\/javascript\b/, `content-type of ${file}: ${type}`);
      }
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(body.length, expected.length, `${file}: byte length`);
      assert.ok(body.equals(expected), `${file}: same bytes as node_modules/socket.io-client/dist/${file}`);

      const etag = res.headers.get("etag");
      assert.ok(etag, `${file}: ETag header`);
      assert.match(etag, /^(W\/)?"[^"]+"$/, `ETag is quoted: ${etag}`);

      const cached = await get(url, { "If-None-Match": etag });
      assert.equal(cached.status, 304);
      assert.equal((await cached.arrayBuffer()).byteLength, 0, "304 has no body");

      const stale = await get(url, { "If-None-Match": '"not-the-etag"' });
      assert.equal(stale.status, 200, "a different ETag gets the full file");
      assert.equal(Buffer.from(await stale.arrayBuffer()).length, expected.length);
    });
  }

  test("a query string after the bundle name is accepted", async () => {
    const res = await get(`${server.url}/socket.io/socket.io.js?v=4.8.1`);
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.ok(body.equals(readFileSync(path.join(DIST, "socket.io.js"))));
  });

  test("a weak validator of the ETag also gets 304", async () => {
    const url = `${server.url}/socket.io/socket.io.min.js`;
    const res = await get(url);
    await res.arrayBuffer();
    const etag = res.headers.get("etag");
    assert.ok(etag);
    const weak = etag.startsWith("W/") ? etag : `W/${etag}`;
    const cached = await get(url, { "If-None-Match": weak });
    assert.equal(cached.status, 304);
    await cached.arrayBuffer();
  });
});
