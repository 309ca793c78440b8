/**
 * Tests of the linearizability checker. Hand-written histories pin down each rule of the model
 * (put, append, delete, get; unknown outcomes; equal times) and what an illegal verdict
 * reports. Generated histories, linearizable by construction, must all pass, and must fail once
 * a read is corrupted. Small random histories, legal or not, are compared with a brute-force
 * search over every order, which also checks the claim that the reported get ends the shortest
 * illegal prefix. A last test times a 20,000-operation history.
 */

import assert from "node:assert/strict";
import { Prng } from "../../src/util/prng.ts";
import { checkHistory, type CheckResult } from "./checker.ts";
import type { Operation } from "./history.ts";
import { generateLinearizableHistory } from "./history_generator.ts";
import { bruteForceLinearizable, randomSmallHistory } from "./brute_force_oracle.ts";

let nextClient = 0;

function get(key: string, output: string, call: number, end: number | undefined): Operation {
  const clientId = nextClient++;
  return end === undefined
    ? { clientId, kind: "get", key, call, return: undefined }
    : { clientId, kind: "get", key, output, call, return: end };
}

function put(key: string, value: string, call: number, end: number | undefined): Operation {
  return { clientId: nextClient++, kind: "put", key, value, call, return: end };
}

function append(key: string, value: string, call: number, end: number | undefined): Operation {
  return { clientId: nextClient++, kind: "append", key, value, call, return: end };
}

function remove(key: string, call: number, end: number | undefined): Operation {
  return { clientId: nextClient++, kind: "delete", key, call, return: end };
}

type Illegal = Extract<CheckResult, { result: "illegal" }>;

function assertIllegal(result: CheckResult): Illegal {
  assert.equal(result.result, "illegal", `expected illegal, got ${JSON.stringify(result)}`);
  return result as Illegal;
}

Deno.test("linearizability: an empty history is ok", () => {
  assert.deepEqual(checkHistory([]), { result: "ok" });
});

Deno.test("linearizability: a sequential history that reads every write is ok", () => {
  const history = [
    get("k", "", 0, 1),
    put("k", "a", 2, 3),
    get("k", "a", 4, 5),
    append("k", "b", 6, 7),
    get("k", "ab", 8, 9),
    remove("k", 10, 11),
    get("k", "", 12, 13),
    append("k", "c", 14, 15),
    get("k", "c", 16, 17),
  ];
  assert.deepEqual(checkHistory(history), { result: "ok" });
});

Deno.test("linearizability: a stale read after a completed write is illegal", () => {
  const write = put("x", "1", 0, 1);
  const read = get("x", "", 2, 3);
  const result = assertIllegal(checkHistory([write, read]));
  assert.equal(result.key, "x");
  assert.equal(result.operation, read);
  assert.deepEqual(result.window, [write, read]);
  assert.match(result.explanation, /Key "x" is not linearizable/);
  assert.match(result.explanation, /put\("x", "1"\) \[call 0, return 1\]/);
  assert.match(result.explanation, /get\("x"\) -> "" \[call 2, return 3\] +<- cannot be placed/);
  assert.match(result.explanation, /the key holding "1", from which no order .* makes ""/);
});

Deno.test("linearizability: concurrent writes may be read in either order", () => {
  for (const last of ["a", "b"]) {
    const history = [put("k", "a", 0, 10), put("k", "b", 1, 11), get("k", last, 12, 13)];
    assert.deepEqual(checkHistory(history), { result: "ok" }, `reading ${last}`);
  }
  const appends = [append("k", "a", 0, 10), append("k", "b", 1, 11)];
  assert.deepEqual(checkHistory([...appends, get("k", "ba", 12, 13)]), { result: "ok" });
  assert.deepEqual(checkHistory([...appends, get("k", "ab", 12, 13)]), { result: "ok" });
});

Deno.test("linearizability: reads must agree on one order of concurrent writes", () => {
  const history = [
    put("k", "a", 0, 100),
    put("k", "b", 0, 100),
    get("k", "a", 10, 11),
    get("k", "b", 20, 21),
    get("k", "a", 30, 31),
  ];
  const result = assertIllegal(checkHistory(history));
  assert.equal(result.operation, history[4]);
});

Deno.test("linearizability: a read of a value never written is illegal", () => {
  const history = [put("k", "a", 0, 1), append("k", "b", 2, 3), get("k", "ba", 4, 5)];
  const result = assertIllegal(checkHistory(history));
  assert.equal(result.operation, history[2]);
  assert.match(result.explanation, /the key holding "a", from which no order .* makes "ba"/);
});

Deno.test("linearizability: an append that took effect twice is illegal", () => {
  const history = [append("k", "a", 0, 1), get("k", "aa", 2, 3)];
  assertIllegal(checkHistory(history));
  const concurrent = [append("k", "a", 0, 10), get("k", "aa", 1, 11)];
  assertIllegal(checkHistory(concurrent));
});

Deno.test("linearizability: a timed-out append may have taken effect", () => {
  const history = [append("k", "a", 0, undefined), get("k", "a", 5, 6)];
  assert.deepEqual(checkHistory(history), { result: "ok" });
});

Deno.test("linearizability: a timed-out append may never have taken effect", () => {
  const history = [append("k", "a", 0, undefined), get("k", "", 5, 6), get("k", "", 7, 8)];
  assert.deepEqual(checkHistory(history), { result: "ok" });
});

Deno.test("linearizability: a timed-out append may take effect long after its client gave up", () => {
  const history = [append("k", "a", 0, undefined), get("k", "", 5, 6), get("k", "a", 70, 80)];
  assert.deepEqual(checkHistory(history), { result: "ok" });
});

Deno.test("linearizability: a timed-out write cannot take effect before its call", () => {
  const history = [get("k", "a", 0, 1), put("k", "a", 2, undefined)];
  assertIllegal(checkHistory(history));
});

Deno.test("linearizability: reading a timed-out write and then not seeing it is illegal", () => {
  const history = [put("k", "a", 0, undefined), get("k", "a", 1, 2), get("k", "", 3, 4)];
  const result = assertIllegal(checkHistory(history));
  assert.equal(result.operation, history[2]);
  assert.ok(result.window.includes(history[0]!), "the timed-out put is in the window");
});

Deno.test("linearizability: a timed-out append cannot take effect twice", () => {
  const history = [append("k", "a", 0, undefined), get("k", "a", 1, 2), get("k", "aa", 3, 4)];
  assertIllegal(checkHistory(history));
});

Deno.test("linearizability: gets with an unknown outcome constrain nothing", () => {
  const history = [put("k", "a", 0, 1), get("k", "", 2, undefined), get("k", "a", 3, 4)];
  assert.deepEqual(checkHistory(history), { result: "ok" });
});

Deno.test("linearizability: a delete makes the key read as empty", () => {
  const legal = [put("k", "a", 0, 1), remove("k", 2, 3), get("k", "", 4, 5)];
  assert.deepEqual(checkHistory(legal), { result: "ok" });
  const stale = [put("k", "a", 0, 1), remove("k", 2, 3), get("k", "a", 4, 5)];
  assert.equal(assertIllegal(checkHistory(stale)).operation, stale[2]);
  const appendAfterDelete = [put("k", "a", 0, 1), remove("k", 2, 3), append("k", "b", 4, 5)];
  assert.deepEqual(checkHistory([...appendAfterDelete, get("k", "b", 6, 7)]), { result: "ok" });
});

Deno.test("linearizability: operations that touch at one instant count as concurrent", () => {
  // The put returns at 5 and the get is called at 5: either may come first.
  const history = [put("k", "a", 0, 5), get("k", "", 5, 6)];
  assert.deepEqual(checkHistory(history), { result: "ok" });
});

Deno.test("linearizability: only the bad key is reported when other keys are fine", () => {
  const history = [
    put("a", "1", 0, 1),
    put("b", "1", 0, 1),
    put("c", "1", 0, 1),
    get("a", "1", 2, 3),
    get("b", "", 2, 3),
    get("c", "1", 2, 3),
  ];
  const result = assertIllegal(checkHistory(history));
  assert.equal(result.key, "b");
  assert.equal(result.operation, history[4]);
  assert.ok(result.window.every((operation) => operation.key === "b"));
});

Deno.test("linearizability: malformed operations are refused", () => {
  assert.throws(() => checkHistory([put("k", "a", 5, 4)]), /not before call/);
  const noOutput = { clientId: 1, kind: "get", key: "k", call: 0, return: 1 } as Operation;
  assert.throws(() => checkHistory([noOutput]), /output exactly when/);
  assert.throws(() => checkHistory([put("k", "a", NaN, 4)]), /call time must be finite/);
});

Deno.test("linearizability: a budget of 0 ms on a large history answers unknown", () => {
  const history = generateLinearizableHistory({ seed: 5, operations: 2_000, clients: 8, keys: 4 });
  const result = checkHistory(history, { budgetMs: 0 });
  assert.equal(result.result, "unknown");
  assert.match((result as { reason: string }).reason, /time budget ran out/);
});

Deno.test("linearizability: the budget is read from the injected clock", () => {
  let now = 0;
  const history = generateLinearizableHistory({ seed: 6, operations: 4_000, clients: 15, keys: 1 });
  const ticking = (): number => (now += 1);
  assert.equal(checkHistory(history, { budgetMs: 3, now: ticking }).result, "unknown");
  assert.equal(checkHistory(history, { budgetMs: Infinity, now: ticking }).result, "ok");
});

Deno.test("linearizability: generated linearizable histories are all ok", () => {
  const shapes = [
    { operations: 300, clients: 5, keys: 3, timeoutChance: 0 },
    { operations: 300, clients: 10, keys: 1, timeoutChance: 0.05 },
    { operations: 500, clients: 15, keys: 2, timeoutChance: 0.1 },
  ];
  for (let seed = 1; seed <= 30; seed++) {
    for (const shape of shapes) {
      const history = generateLinearizableHistory({ seed, ...shape });
      const result = checkHistory(history);
      assert.deepEqual(result, { result: "ok" }, `seed ${seed}, ${JSON.stringify(shape)}`);
    }
  }
});

Deno.test("linearizability: a generated history with one corrupted read is illegal", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const history = generateLinearizableHistory({
      seed,
      operations: 400,
      clients: 8,
      keys: 3,
      timeoutChance: 0.05,
    });
    const random = new Prng(seed);
    const reads = history.filter((operation) =>
      operation.kind === "get" && operation.return !== undefined
    );
    const victim = random.pick(reads);
    assert.ok(victim.kind === "get" && victim.return !== undefined);
    // No put or append writes "#": no order of the operations can produce this value.
    const corrupted = { ...victim, output: `${victim.output}#` };
    const mutated = history.map((operation) => operation === victim ? corrupted : operation);
    const result = assertIllegal(checkHistory(mutated));
    assert.equal(result.key, victim.key, `seed ${seed}`);
    assert.equal(result.operation, corrupted, `seed ${seed}`);
    assert.ok(result.window.includes(corrupted), `seed ${seed}`);
  }
});

Deno.test("linearizability: small random histories get the verdict of a brute-force search", () => {
  let illegal = 0;
  for (let seed = 1; seed <= 3_000; seed++) {
    const history = randomSmallHistory(new Prng(seed));
    const expected = bruteForceLinearizable(history);
    const result = checkHistory(history);
    assert.notEqual(result.result, "unknown", `seed ${seed}`);
    assert.equal(result.result === "ok", expected, `seed ${seed}: ${JSON.stringify(history)}`);
    if (result.result !== "illegal") continue;
    illegal++;
    // The reported get ends the shortest illegal prefix of its key's history.
    const keyHistory = history.filter((operation) => operation.key === result.key);
    const end = result.operation.return;
    assert.ok(end !== undefined);
    const asOf = (cut: (returned: number) => boolean): Operation[] =>
      keyHistory
        .filter((operation) => operation.call <= end)
        .map((operation) =>
          operation.return !== undefined && !cut(operation.return)
            ? { ...operation, return: undefined, output: undefined } as Operation
            : operation
        );
    assert.equal(bruteForceLinearizable(asOf((at) => at <= end)), false, `seed ${seed}: through`);
    assert.equal(bruteForceLinearizable(asOf((at) => at < end)), true, `seed ${seed}: before`);
  }
  assert.ok(illegal > 300, `the random histories must exercise illegal ones too (${illegal})`);
});

Deno.test("linearizability: 20,000 operations by 15 clients on 10 keys check ok", () => {
  const history = generateLinearizableHistory({
    seed: 20_000,
    operations: 20_000,
    clients: 15,
    keys: 10,
    timeoutChance: 0.01,
  });
  const started = performance.now();
  const result = checkHistory(history);
  const elapsedMs = performance.now() - started;
  assert.deepEqual(result, { result: "ok" });
  console.log(`checked ${history.length} operations in ${elapsedMs.toFixed(0)} ms`);
});
