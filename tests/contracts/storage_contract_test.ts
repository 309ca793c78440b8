/**
 * Runs the storage contract (storage_contract.ts) against every implementation: the memory
 * storage of the simulator, and the file storage of the node runtime with fsync on (small
 * segments, so that rollovers and segment deletion happen) and off.
 */

import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import type { Storage } from "../../src/raft/storage.ts";
import { FileStorage } from "../../src/raft/wal/mod.ts";
import { runStorageContract, type StorageHarness } from "./storage_contract.ts";

runStorageContract("MemoryStorage", () => {
  let storage: Storage = new MemoryStorage();
  const harness: StorageHarness = {
    get storage() {
      return storage;
    },
    reopen: () => {
      storage = new MemoryStorage(storage.load());
      return Promise.resolve(storage);
    },
    dispose: () => Promise.resolve(),
  };
  return Promise.resolve(harness);
});

for (const fsync of [true, false]) {
  runStorageContract(`FileStorage fsync=${fsync}`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "shardkv-contract-" });
    const options = { dir, segmentBytes: 2048, fsync };
    let storage = await FileStorage.open(options);
    const harness: StorageHarness = {
      get storage() {
        return storage;
      },
      reopen: async () => {
        await storage.close();
        storage = await FileStorage.open(options);
        return storage;
      },
      dispose: async () => {
        try {
          await storage.close();
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    };
    return harness;
  });
}
