import { genericTest } from "./kv_generic.ts";
const configs: [string, number, number, boolean, boolean, boolean, number, boolean][] = [
  ["basic", 1, 5, false, false, false, -1, false],
  ["concurrent", 5, 5, false, false, false, -1, false],
  ["unreliable", 5, 5, true, false, false, -1, false],
  ["manypart1", 1, 5, false, false, true, -1, false],
  ["manypartN", 5, 5, false, false, true, -1, false],
  ["persist1", 1, 5, false, true, false, -1, false],
  ["persistConc", 5, 5, false, true, false, -1, false],
  ["persistPartUnrel", 5, 5, true, true, true, -1, false],
  ["persistPartUnrelLin", 15, 7, true, true, true, -1, true],
  ["snapRecover", 1, 5, false, true, false, 1000, false],
  ["snapRecoverMany", 20, 5, false, true, false, 1000, false],
  ["snapUnrel", 5, 5, true, false, false, 1000, false],
  ["snapUnrelRecover", 5, 5, true, true, false, 1000, false],
  ["snapURCP", 5, 5, true, true, true, 1000, false],
  ["snapURCPLin", 15, 7, true, true, true, 1000, true],
];
const seeds = (Deno.env.get("SEEDS") ?? "1").split(",").map(Number);
for (const [name, clients, servers, unreliable, crash, partitions, max, randomKeys] of configs) {
  for (const seed of seeds) {
    const t0 = performance.now();
    try {
      const r = genericTest({ seed, clients, servers, unreliable, crash, partitions, maxRaftStateBytes: max, randomKeys });
      console.log(name, seed, JSON.stringify(r), (performance.now() - t0).toFixed(0), "ms wall");
    } catch (e) {
      console.log(name, seed, "FAIL", (e as Error).message, (performance.now() - t0).toFixed(0), "ms wall");
    }
  }
}
