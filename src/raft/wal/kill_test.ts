/**
 * Nothing acknowledged is lost when the process dies: a child process appends batches with
 * fsync on and prints each index whose `done` it saw; the test SIGKILLs it mid-stream, reopens
 * the directory, and checks that every printed index is there with the right contents. Three
 * rounds continue the same WAL, so recovery after a kill is itself killed and recovered.
 */

import assert from "node:assert/strict";
import { FileStorage } from "./file_storage.ts";
import { withTempDir } from "./test_helpers.ts";

/** The child: appends batches forever; entry data is its index, padded so batches span pages. */
const CHILD = (module: string, dir: string) => `
  import { FileStorage } from ${JSON.stringify(module)};
  const storage = await FileStorage.open({ dir: ${
  JSON.stringify(dir)
}, segmentBytes: 64 * 1024, fsync: true });
  let index = storage.load().entries.at(-1)?.index ?? 0;
  for (let round = 0; ; round++) {
    const entries = [];
    for (let k = 0; k < 1 + (round % 17); k++) {
      index++;
      entries.push({ type: "command", term: 1, index, data: new TextEncoder().encode(String(index).padEnd(300, ".")) });
    }
    await new Promise((resolve, reject) => storage.write(
      { entries, hardState: { term: 1, votedFor: 1, commit: index }, received: null, compaction: null },
      (error) => error === null ? resolve() : reject(error),
    ));
    console.log("acked " + index);
  }
`;

Deno.test("kill -9: every index acknowledged before the kill is recovered intact", async () => {
  await withTempDir(async (dir) => {
    const module = new URL("./file_storage.ts", import.meta.url).href;
    let acked = 0;
    for (let round = 0; round < 3; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", CHILD(module, dir)],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      let lines = 0;
      try {
        while (lines < 150 + round * 50) {
          const { value, done } = await reader.read();
          assert.ok(!done, "the child exited on its own");
          buffer += value;
          const complete = buffer.split("\n");
          buffer = complete.pop()!;
          for (const line of complete) {
            acked = Number(line.slice("acked ".length));
            lines++;
          }
        }
      } finally {
        child.kill("SIGKILL");
        await child.status;
        reader.releaseLock();
        await child.stdout.cancel().catch(() => {});
      }
      const storage = await FileStorage.open({ dir, segmentBytes: 64 * 1024, fsync: true });
      const entries = storage.load().entries;
      await storage.close();
      assert.ok(
        entries.length >= acked,
        `round ${round}: ${entries.length} entries, ${acked} acked`,
      );
      entries.forEach((entry, k) => {
        assert.equal(entry.index, k + 1);
        assert.ok(entry.type === "command");
        assert.equal(new TextDecoder().decode(entry.data), String(k + 1).padEnd(300, "."));
      });
    }
  });
});
