/** Tests of the admin app: routes, JSON 404s, the admin token, and serving on a free port. */

import assert from "node:assert/strict";
import { constantTimeEqual, createAdminApp, serveAdmin } from "./admin_app.ts";

const TOKEN = "admin-token-0123456789";

function app() {
  return createAdminApp({
    status: () => ({ id: "g1-1", role: "leader", term: 3 }),
    metrics: () => "shardkv_raft_term 3\n",
    healthy: () => true,
    adminToken: TOKEN,
    extend: (hono, requireToken) =>
      hono.post("/transfer", requireToken((c) => c.json({ ok: true }))),
  });
}

Deno.test("admin: health, status and metrics answer; unknown routes get a JSON 404", async () => {
  const hono = app();
  assert.deepEqual(await (await hono.request("/health")).json(), { healthy: true });
  assert.deepEqual(await (await hono.request("/status")).json(), {
    id: "g1-1",
    role: "leader",
    term: 3,
  });
  const metrics = await hono.request("/metrics");
  assert.match(metrics.headers.get("content-type") ?? "", /text\/plain; version=0.0.4/);
  assert.equal(await metrics.text(), "shardkv_raft_term 3\n");
  const missing = await hono.request("/nope");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error, "notFound");
});

Deno.test("admin: mutating calls need the admin token", async () => {
  const hono = app();
  assert.equal((await hono.request("/transfer", { method: "POST" })).status, 401);
  const wrong = await hono.request("/transfer", {
    method: "POST",
    headers: { authorization: "Bearer nope" },
  });
  assert.equal(wrong.status, 401);
  const right = await hono.request("/transfer", {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(right.status, 200);
});

Deno.test("admin: serves on a free loopback port", async () => {
  const server = await serveAdmin(app(), "127.0.0.1", 0);
  try {
    assert.ok(server.port > 0);
    const response = await fetch(`http://127.0.0.1:${server.port}/health`);
    assert.deepEqual(await response.json(), { healthy: true });
  } finally {
    await server.shutdown();
  }
});

Deno.test("admin: token comparison", () => {
  assert.ok(constantTimeEqual("abc", "abc"));
  assert.ok(!constantTimeEqual("abc", "abd"));
  assert.ok(!constantTimeEqual("abc", "abcd"));
});
