// HTTP routes next to the Engine.IO path (include/sio/http.h), through the demo routes of
// sio-reference-server --demo-routes: exact and prefix matches, a POST body echoed back (with
// Content-Length and chunked), 413, 405 with Allow, 404, a response deferred to a timer, and a
// client that leaves before its deferred response (the server must count the abort and live on).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";

import { TARGET } from "../lib/server.mjs";
import { useServer, shutdownCheck } from "../lib/harness.mjs";
import { sleep } from "../lib/util.mjs";

const C_ONLY = TARGET !== "c";

/** One request on its own connection; resolves {status, headers, body}. */
function request(server, { method = "GET", path, headers = {}, body, chunked = false }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: server.port, method, path, agent: false,
      headers: { connection: "close", ...headers } }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (data += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error(`${method} ${path}: timeout`)));
    if (body !== undefined && chunked) {
      req.write(body.slice(0, 3));
      req.end(body.slice(3));
    } else {
      req.end(body);
    }
  });
}

describe("HTTP routes", { skip: C_ONLY && "C servers only (--demo-routes)" }, () => {
  const ctx = useServer("sio", { args: ["--demo-routes"] });

  it("answers an exact GET route with its query, header and CORS headers", async () => {
    const res = await request(ctx.server, { path: "/demo/hello?name=a%20b%26c&t=1",
      headers: { "x-demo": "yes", origin: "http://example.test" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "application/json");
    assert.equal(res.headers["x-route"], "hello");
    assert.equal(res.headers["access-control-allow-origin"], "*"); // the reference server's CORS
    const body = JSON.parse(res.body);
    assert.equal(body.method, "GET");
    assert.equal(body.path, "/demo/hello");
    assert.equal(body.name, "a b&c");
    assert.equal(body.header, "yes");
    assert.match(body.query, /^name=a%20b%26c&t=1$/);
    assert.match(body.address, /127\.0\.0\.1/);
  });

  it("matches a prefix route", async () => {
    const res = await request(ctx.server, { path: "/demo/files/a/b.txt" });
    assert.equal(res.status, 200);
    assert.equal(res.body, "/demo/files/a/b.txt");
  });

  it("echoes a POST body, with Content-Length and chunked", async () => {
    let res = await request(ctx.server, { method: "POST", path: "/demo/echo", body: "hello body",
      headers: { "content-type": "text/plain" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "text/plain");
    assert.equal(res.body, "hello body");
    res = await request(ctx.server, { method: "POST", path: "/demo/echo", body: "chunked body",
      chunked: true, headers: { "content-type": "text/plain" } });
    assert.equal(res.status, 200);
    assert.equal(res.body, "chunked body");
  });

  it("refuses a body over the route's limit with 413", async () => {
    const big = "x".repeat(2000);
    let res = await request(ctx.server, { method: "POST", path: "/demo/echo", body: big });
    assert.equal(res.status, 413);
    res = await request(ctx.server, { method: "POST", path: "/demo/echo", body: big, chunked: true });
    assert.equal(res.status, 413);
    res = await request(ctx.server, { method: "GET", path: "/demo/hello", body: "no body here",
      headers: { "content-length": "12" } }); // a route without max_body takes no body
    assert.equal(res.status, 413);
  });

  it("answers 405 with Allow for a known path and another method, 404 for unknown paths", async () => {
    let res = await request(ctx.server, { method: "POST", path: "/demo/hello" });
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, "GET");
    res = await request(ctx.server, { path: "/demo/nothing" });
    assert.equal(res.status, 404);
    assert.deepEqual(JSON.parse(res.body), { error: "not found" });
  });

  it("keeps /health and the stats route", async () => {
    let res = await request(ctx.server, { path: "/health" });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { status: "ok" });
    res = await request(ctx.server, { path: "/stats" });
    assert.equal(res.status, 200);
    assert.equal(typeof JSON.parse(res.body).sessions_opened, "number");
  });

  it("sends a response deferred to a timer 50 ms later", async () => {
    const t0 = Date.now();
    const res = await request(ctx.server, { path: "/demo/later" });
    assert.equal(res.status, 200);
    assert.equal(res.body, "later");
    assert.ok(Date.now() - t0 >= 40, `answered after ${Date.now() - t0} ms`);
  });

  it("survives a client that leaves before its deferred response", async () => {
    const before = JSON.parse((await request(ctx.server, { path: "/demo/aborts" })).body).aborts;
    await Promise.all([0, 1, 2].map(() => new Promise((resolve) => {
      const req = http.get({ host: "127.0.0.1", port: ctx.server.port, path: "/demo/later?ms=300",
        agent: false });
      req.on("error", () => resolve());
      setTimeout(() => { req.destroy(); resolve(); }, 50);
    })));
    await sleep(400); // past the timers the aborted requests had
    const after = JSON.parse((await request(ctx.server, { path: "/demo/aborts" })).body).aborts;
    assert.equal(after - before, 3);
    assert.ok(ctx.server.alive());
  });

  shutdownCheck(ctx);
});
