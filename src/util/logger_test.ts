/** Tests of the structured logger: levels, JSON and text formats, child fields. */

import assert from "node:assert/strict";
import { createLogger, memoryLogger } from "./logger.ts";

const fixedNow = () => new Date("2026-01-02T03:04:05.678Z");

Deno.test("logger: JSON lines carry time, level, message and fields, and respect the level", () => {
  const lines: string[] = [];
  const logger = createLogger({
    level: "info",
    format: "json",
    write: (line) => lines.push(line),
    now: fixedNow,
  });
  logger.debug("hidden");
  logger.child({ node: "a" }).warn("peer refused", { peer: 3 });
  assert.equal(lines.length, 1);
  assert.deepEqual(JSON.parse(lines[0]!), {
    time: "2026-01-02T03:04:05.678Z",
    level: "warn",
    msg: "peer refused",
    node: "a",
    peer: 3,
  });
});

Deno.test("logger: text lines are readable", () => {
  const lines: string[] = [];
  const logger = createLogger({
    level: "debug",
    format: "text",
    write: (line) => lines.push(line),
    now: fixedNow,
  });
  logger.info("started", { port: 7101, role: "node" });
  assert.equal(lines[0], "03:04:05.678 INFO  started port=7101 role=node");
});

Deno.test("logger: the memory logger records lines for assertions", () => {
  const { logger, lines } = memoryLogger("info");
  logger.child({ component: "net" }).error("bad frame", { bytes: 9 });
  logger.debug("ignored");
  assert.deepEqual(lines, [{
    level: "error",
    message: "bad frame",
    fields: { component: "net", bytes: 9 },
  }]);
});
