/**
 * Client RPC against a NetServer on loopback: 1,000 concurrent calls share one connection
 * and each gets its own answer even when answers come back out of order; past
 * RPC_INFLIGHT_MAX outstanding requests the server answers busy; deadlines and abort
 * signals fail a call with their own code; a handler failure is an "internal" error body; a
 * lost server fails calls with "connection" and the client reconnects lazily.
 */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { silentLogger } from "../util/logger.ts";
import { asNodeId } from "../raft/core/types.ts";
import { RPC_INFLIGHT_MAX } from "./limits.ts";
import { RpcClient, RpcError, type RpcErrorCode } from "./rpc.ts";
import { isRpcErrorBody } from "./rpc_codec.ts";
import { NetServer } from "./server.ts";
import { freePort, TEST_CLUSTER, TEST_SECRET } from "./test_support.ts";

type Handler = (body: unknown) => Promise<unknown>;

function listen(handler: Handler, port = 0): Promise<NetServer> {
  return NetServer.listen({
    host: "127.0.0.1",
    port,
    clusterName: TEST_CLUSTER,
    secret: TEST_SECRET,
    groupId: 1,
    selfId: asNodeId(1),
    allowedPeers: new Set(),
    onPeerMessages: () => {},
    onClientRequest: handler,
    logger: silentLogger,
  });
}

function client(port: number, timeoutMs?: number): RpcClient {
  return new RpcClient({
    address: { host: "127.0.0.1", port },
    clusterName: TEST_CLUSTER,
    secret: TEST_SECRET,
    logger: silentLogger,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
}

/** Handlers that wait until the test releases them (no timers left behind). */
function gate() {
  const waiting: (() => void)[] = [];
  return {
    handler: (body: unknown) =>
      new Promise<unknown>((resolve) => waiting.push(() => resolve({ echo: body }))),
    release: () => waiting.splice(0).reverse().forEach((resume) => resume()),
    get waiting() {
      return waiting.length;
    },
  };
}

async function rejectsWith(promise: Promise<unknown>, code: RpcErrorCode): Promise<void> {
  await rejects(promise, (error: unknown) => {
    ok(error instanceof RpcError, String(error));
    equal(error.code, code, error.message);
    return true;
  });
}

Deno.test("rpc: 1,000 concurrent calls are pipelined on one connection and matched by id", async () => {
  const g = gate();
  const server = await listen(g.handler);
  const rpc = client(server.port);
  try {
    const calls = Array.from(
      { length: 1000 },
      (_, i) => rpc.call({ i, bytes: new Uint8Array([i & 0xff]) }),
    );
    while (g.waiting < 1000) await new Promise((resolve) => setTimeout(resolve, 1));
    equal(server.stats().openConnections, 1);
    g.release(); // answers leave in reverse order
    const answers = await Promise.all(calls);
    answers.forEach((answer, i) =>
      deepEqual(answer, { echo: { i, bytes: new Uint8Array([i & 0xff]) } })
    );
    equal(rpc.pendingCalls, 0);
  } finally {
    await rpc.close();
    await server.close();
  }
});

Deno.test("rpc: past RPC_INFLIGHT_MAX outstanding requests the server answers busy", async () => {
  const g = gate();
  const server = await listen(g.handler);
  const rpc = client(server.port);
  try {
    const calls = Array.from({ length: RPC_INFLIGHT_MAX + 5 }, (_, i) => rpc.call(i));
    while (g.waiting < RPC_INFLIGHT_MAX) await new Promise((resolve) => setTimeout(resolve, 1));
    const busy = await Promise.all(calls.slice(RPC_INFLIGHT_MAX));
    for (const body of busy) ok(isRpcErrorBody(body) && body.error === "busy");
    g.release();
    await Promise.all(calls.slice(0, RPC_INFLIGHT_MAX));
    equal(server.stats().clientBusyAnswers, 5);
  } finally {
    await rpc.close();
    await server.close();
  }
});

Deno.test("rpc: a call past its deadline fails with timeout, a late answer is dropped", async () => {
  const g = gate();
  const server = await listen((body) => body === "slow" ? g.handler(body) : Promise.resolve(body));
  const rpc = client(server.port, 50);
  try {
    await rejectsWith(rpc.call("slow"), "timeout");
    g.release(); // the late answer arrives for an id nobody waits for
    equal(await rpc.call("fast", { timeoutMs: 5_000 }), "fast");
    equal(rpc.pendingCalls, 0);
  } finally {
    g.release();
    await rpc.close();
    await server.close();
  }
});

Deno.test("rpc: an aborted call fails with aborted, before or after it was sent", async () => {
  const g = gate();
  const server = await listen(g.handler);
  const rpc = client(server.port);
  try {
    const controller = new AbortController();
    const call = rpc.call("x", { signal: controller.signal });
    while (g.waiting < 1) await new Promise((resolve) => setTimeout(resolve, 1));
    controller.abort();
    await rejectsWith(call, "aborted");
    await rejectsWith(rpc.call("y", { signal: controller.signal }), "aborted");
  } finally {
    g.release();
    await rpc.close();
    await server.close();
  }
});

Deno.test("rpc: a failing handler answers an internal error body", async () => {
  const server = await listen(() => Promise.reject(new Error("no such key")));
  const rpc = client(server.port);
  try {
    const body = await rpc.call("x");
    ok(isRpcErrorBody(body));
    equal(body.error, "internal");
    equal(body.message, "no such key");
  } finally {
    await rpc.close();
    await server.close();
  }
});

Deno.test("rpc: a lost server fails calls with connection; the client reconnects lazily", async () => {
  const port = freePort();
  const rpc = client(port, 2_000);
  let server: NetServer | null = null;
  try {
    await rejectsWith(rpc.call("nobody home"), "connection");
    const g = gate();
    server = await listen(g.handler, port);
    const pending = rpc.call("first");
    while (g.waiting < 1) await new Promise((resolve) => setTimeout(resolve, 1));
    await server.close();
    server = null;
    await rejectsWith(pending, "connection");
    server = await listen((body) => Promise.resolve(body), port);
    equal(await rpc.call("again"), "again");
  } finally {
    await rpc.close();
    await server?.close();
  }
});

Deno.test("rpc: close() fails outstanding calls, and later calls fail at once", async () => {
  const g = gate();
  const server = await listen(g.handler);
  const rpc = client(server.port);
  try {
    const call = rpc.call("x");
    while (g.waiting < 1) await new Promise((resolve) => setTimeout(resolve, 1));
    const failed = rejectsWith(call, "connection");
    await rpc.close();
    await failed;
    await rejectsWith(rpc.call("y"), "connection");
  } finally {
    g.release();
    await rpc.close();
    await server.close();
  }
});
