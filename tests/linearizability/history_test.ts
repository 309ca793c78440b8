/**
 * Tests of HistoryRecorder: it stamps calls and returns with the injected clock, leaves the
 * outcome of timed-out and still-pending operations unknown, and refuses misuse (ending an
 * operation twice, a get without output, a clock that runs backwards).
 */

import assert from "node:assert/strict";
import { HistoryRecorder, validateOperation } from "./history.ts";

function virtualClock(): { clock: () => number; advance: (ticks: number) => void } {
  let now = 0;
  return { clock: () => now, advance: (ticks) => (now += ticks) };
}

Deno.test("history: the recorder stamps calls and returns with the injected clock", () => {
  const time = virtualClock();
  const recorder = new HistoryRecorder(time.clock);
  time.advance(3);
  const write = recorder.begin(1, { kind: "put", key: "k", value: "v" });
  time.advance(2);
  const read = recorder.begin(2, { kind: "get", key: "k" });
  time.advance(4);
  recorder.end(write);
  time.advance(1);
  recorder.end(read, "v");
  assert.deepEqual(recorder.operations(), [
    { clientId: 1, kind: "put", key: "k", value: "v", call: 3, return: 9 },
    { clientId: 2, kind: "get", key: "k", output: "v", call: 5, return: 10 },
  ]);
});

Deno.test("history: timed-out and pending operations have an unknown outcome", () => {
  const time = virtualClock();
  const recorder = new HistoryRecorder(time.clock);
  const lost = recorder.begin(1, { kind: "append", key: "k", value: "x 1 0 y" });
  recorder.begin(2, { kind: "get", key: "k" });
  recorder.begin(3, { kind: "delete", key: "k" });
  time.advance(10);
  recorder.timeout(lost);
  const operations = recorder.operations();
  assert.deepEqual(operations, [
    { clientId: 1, kind: "append", key: "k", value: "x 1 0 y", call: 0, return: undefined },
    { clientId: 2, kind: "get", key: "k", call: 0, return: undefined },
    { clientId: 3, kind: "delete", key: "k", call: 0, return: undefined },
  ]);
  operations.forEach(validateOperation);
  assert.equal(recorder.size, 3);
});

Deno.test("history: a get needs an output and a write takes none", () => {
  const recorder = new HistoryRecorder(() => 0);
  const read = recorder.begin(1, { kind: "get", key: "k" });
  assert.throws(() => recorder.end(read), /a get needs output/);
  const write = recorder.begin(1, { kind: "put", key: "k", value: "v" });
  assert.throws(() => recorder.end(write, "v"), /a put takes no output/);
  recorder.end(read, "");
  assert.deepEqual(recorder.operations()[0], {
    clientId: 1,
    kind: "get",
    key: "k",
    output: "",
    call: 0,
    return: 0,
  });
});

Deno.test("history: an operation ends at most once", () => {
  const recorder = new HistoryRecorder(() => 0);
  const write = recorder.begin(1, { kind: "delete", key: "k" });
  recorder.end(write);
  assert.throws(() => recorder.end(write), /already returned/);
  assert.throws(() => recorder.timeout(write), /already returned/);
  const lost = recorder.begin(1, { kind: "delete", key: "k" });
  recorder.timeout(lost);
  assert.throws(() => recorder.end(lost), /already timedOut/);
});

Deno.test("history: a clock that runs backwards is refused", () => {
  const readings = [5, 4];
  const recorder = new HistoryRecorder(() => readings.shift() ?? 0);
  recorder.begin(1, { kind: "get", key: "k" });
  assert.throws(() => recorder.begin(2, { kind: "get", key: "k" }), /Clock went backwards/);
});
