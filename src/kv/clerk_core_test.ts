/**
 * The pure retry logic every client shares (clerk_core.ts): which server to ask next, when to
 * back off, and which answers are final.
 */

import assert from "node:assert/strict";
import { type ClerkAction, OperationAttempt, type ServiceReply } from "./clerk_core.ts";
import { Prng } from "../util/prng.ts";

function attempt(servers = 3, leaderGuess = 0): OperationAttempt<ServiceReply> {
  return new OperationAttempt<ServiceReply>({
    servers,
    backoffInitialMs: 20,
    backoffMaxMs: 200,
    random: new Prng(1),
  }, leaderGuess);
}

const failed = (code: string, leaderHint?: number | null): ServiceReply => ({
  ok: false,
  error: leaderHint === undefined ? { code } : { code, leaderHint },
});

function sendTo(action: ClerkAction<ServiceReply>): number {
  assert.equal(action.type, "send", `expected a send, got ${JSON.stringify(action)}`);
  return (action as { server: number }).server;
}

Deno.test("clerk core: starts at the leader guess and follows a notLeader hint", () => {
  const a = attempt(3, 4); // wraps: 4 mod 3
  assert.equal(sendTo(a.first()), 1);
  assert.equal(sendTo(a.onReply(failed("notLeader", 3))), 2, "hint 3 is server index 2");
  assert.equal(sendTo(a.onReply(failed("notLeader", null))), 0, "no hint: the next server");
});

Deno.test("clerk core: a whole round of failures or notReady backs off, then asks again", () => {
  for (
    const fail of [
      (a: OperationAttempt) => a.onFailure(),
      (a: OperationAttempt) => a.onReply(failed("notReady")),
    ]
  ) {
    const a = attempt(3, 0);
    a.first();
    assert.equal(sendTo(fail(a)), 1);
    assert.equal(sendTo(fail(a)), 2);
    const backoff = fail(a);
    assert.equal(backoff.type, "sleep");
    assert.equal(sendTo(a.afterSleep()), 0);
  }
});

Deno.test("clerk core: busy backs off at the same server; success and other errors are final", () => {
  const a = attempt(3, 2);
  a.first();
  assert.equal(a.onReply(failed("busy")).type, "sleep");
  assert.equal(sendTo(a.afterSleep()), 2, "the same server after a busy");
  assert.deepEqual(a.onReply({ ok: true }), { type: "done", response: { ok: true } });
  const b = attempt();
  b.first();
  assert.deepEqual(b.onReply(failed("wrongGroup")), {
    type: "done",
    response: failed("wrongGroup"),
  });
});
