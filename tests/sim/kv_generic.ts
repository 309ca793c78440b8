/**
 * The classic kvraft lab's GenericTest (kvraft/test_test.go, §2.2 of the lab catalogue),
 * rebuilt on the deterministic simulator. Three iterations; in each, fresh clerks run for 5 s
 * of virtual time. Without random keys, client c owns key "c": it first puts "", then either
 * appends "x c j y" (50 %) or gets, and a get must equal the client's own expected string
 * exactly. With random keys, each operation picks a key among the clients' keys: 50 % append,
 * about 5 % put, otherwise get, checked only by linearizability. With partitions, the servers
 * are split at random after 1 s and again every 1000–1199 ms; at the end the network heals for
 * 1 s. With crashes, every server is then crashed, the cluster waits 1 s and restarts all of
 * them. Then, as the lab does, each client's last operation must finish; a fresh clerk reads
 * every client's key and checkClntAppends holds; the Raft state stays within 8 × maxraftstate
 * (or no snapshot exists when maxraftstate = -1). After the last iteration the whole history
 * must be linearizable ("unknown" from the checker's budget passes, as in the lab, and is
 * printed). Clients' choices and the partitions come from the world's PRNG, so a seed replays.
 */

import type { SimClerk } from "./kv_clerk.ts";
import {
  appendElement,
  checkClntAppends,
  checkLinearizable,
  checkSizes,
  describe,
  type HistoryFigures,
  type KvWorld,
  makeKvWorld,
  maxSnapshotBytes,
  newClerk,
  perform,
  short,
} from "./kv_helpers.ts";
import type { Invocation } from "../linearizability/mod.ts";
import type { Prng } from "../../src/util/prng.ts";

/** The lab's GenericTest parameters, plus the seed. */
export interface GenericOptions {
  readonly seed: number;
  readonly clients: number;
  readonly servers: number;
  readonly unreliable: boolean;
  readonly crash: boolean;
  readonly partitions: boolean;
  /** The lab's maxraftstate in bytes; -1 disables snapshots. */
  readonly maxRaftStateBytes: number;
  readonly randomKeys: boolean;
  /** Iterations (the lab runs 3). */
  readonly iterations?: number;
}

/** What a GenericTest run measured. */
export interface GenericReport extends HistoryFigures {
  /** Operations the clients completed (the final check's gets excluded). */
  readonly opsCompleted: number;
  /** The largest Raft state any server persisted at the end of an iteration. */
  readonly maxRaftStateBytes: number;
  /** The largest snapshot any server persisted at the end of an iteration. */
  readonly maxSnapshotBytes: number;
  /** Virtual milliseconds the whole run took. */
  readonly virtualMs: number;
}

/** The figures of a report on one line, for `SIM_VERBOSE`. */
export function describeReport(report: GenericReport): string {
  return `${report.opsCompleted} ops completed, ${report.operations} operations checked ` +
    `(${report.unknownOutcome} unknown outcome) in ${report.checkerMs.toFixed(0)} ms: ` +
    `${report.verdict}; max Raft state ${report.maxRaftStateBytes} B, max snapshot ` +
    `${report.maxSnapshotBytes} B, ${(report.virtualMs / 1000).toFixed(1)} s virtual`;
}

/** The lab's timings: clients run 5 s; partitions start after 1 s; the election timeout. */
const CLIENTS_RUN_MS = 5_000;
const PARTITIONS_AFTER_MS = 1_000;
const ELECTION_TIMEOUT_MS = 1_000;
const REPARTITION_JITTER_MS = 200;
/** How long the clients' last operations may take to finish once the faults end. */
const LAST_OPERATIONS_WITHIN_MS = 20_000;

/** One client of an iteration: its clerk, its index c, and what it expects its key to hold. */
interface Client {
  readonly index: number;
  readonly clerk: SimClerk;
  readonly random: Prng;
  /** Appends (and, with random keys, puts) completed: the lab's j. */
  count: number;
  /** The value of key "c" as this client alone wrote it (without random keys). */
  expected: string;
  /** The operation in flight, for a message if it never finishes. */
  current: Invocation | null;
}

/** Runs the lab's GenericTest; throws on the first violation, else returns the figures. */
export function genericTest(options: GenericOptions): GenericReport {
  const world = makeKvWorld(options);
  let opsCompleted = 0;
  let maxRaftState = 0;
  let maxSnapshot = 0;
  for (let iteration = 0; iteration < (options.iterations ?? 3); iteration++) {
    const at = `iteration ${iteration}`;
    const clients = Array.from(
      { length: options.clients },
      (_, index): Client => ({
        index,
        clerk: newClerk(world),
        random: world.random.fork(),
        count: 0,
        expected: "",
        current: null,
      }),
    );
    const stop = { clients: false, partitioner: false };
    for (const client of clients) runClient(world, options, client, stop, at);
    if (options.partitions) {
      world.cluster.scheduler.at(PARTITIONS_AFTER_MS, () => partitioner(world, stop));
    }
    world.cluster.run(CLIENTS_RUN_MS);
    stop.clients = true;
    stop.partitioner = true;
    endFaults(world, options);
    awaitLastOperations(world, clients, at);
    opsCompleted += clients.reduce((sum, client) => sum + client.clerk.completed, 0);
    checkClients(world, options, clients, at);
    maxRaftState = Math.max(maxRaftState, world.cluster.maxRaftStateBytes());
    maxSnapshot = Math.max(maxSnapshot, maxSnapshotBytes(world.cluster));
    checkSizes(world, options.maxRaftStateBytes);
  }
  const figures = checkLinearizable(world);
  return {
    ...figures,
    opsCompleted,
    maxRaftStateBytes: maxRaftState,
    maxSnapshotBytes: maxSnapshot,
    virtualMs: world.cluster.now,
  };
}

/** The lab's client loop, in callbacks: one operation at a time until `stop.clients`. */
function runClient(
  world: KvWorld,
  options: GenericOptions,
  client: Client,
  stop: { clients: boolean },
  at: string,
): void {
  const ownKey = String(client.index);
  const issue = (invocation: Invocation, then: (output: string) => void) => {
    client.current = invocation;
    client.clerk.run(invocation, (output) => {
      client.current = null;
      if (output === null) {
        throw new Error(`${at}: client ${client.index}'s ${describe(invocation)} was refused`);
      }
      then(output);
    });
  };
  const loop = (): void => {
    if (stop.clients) return;
    const random = client.random;
    const key = options.randomKeys ? String(random.int(options.clients)) : ownKey;
    const element = appendElement(client.index, client.count);
    if (random.int(1000) < 500) {
      issue({ kind: "append", key, value: element }, () => {
        if (!options.randomKeys) client.expected += element;
        client.count++;
        loop();
      });
    } else if (options.randomKeys && random.int(1000) < 100) {
      issue({ kind: "put", key, value: element }, () => {
        client.count++;
        loop();
      });
    } else {
      issue({ kind: "get", key }, (value) => {
        if (!options.randomKeys && value !== client.expected) {
          throw new Error(
            `${at}: client ${client.index} read ${short(value)} from its own key at ` +
              `${world.cluster.now.toFixed(0)} ms, expected ${short(client.expected)}`,
          );
        }
        loop();
      });
    }
  };
  issue({ kind: "put", key: ownKey, value: "" }, () => loop());
}

/** The lab's partitioner: every server on a random side, re-drawn every 1000–1199 ms. */
function partitioner(world: KvWorld, stop: { partitioner: boolean }): void {
  if (stop.partitioner) return;
  const sides: [number[], number[]] = [[], []];
  for (let k = 0; k < world.cluster.n; k++) sides[world.random.int(2)]!.push(k);
  world.cluster.partition(sides);
  world.cluster.scheduler.at(
    ELECTION_TIMEOUT_MS + world.random.int(REPARTITION_JITTER_MS),
    () => partitioner(world, stop),
  );
}

/** The end of an iteration: heal and wait an election timeout; crash all, wait, restart all. */
function endFaults(world: KvWorld, options: GenericOptions): void {
  const cluster = world.cluster;
  if (options.partitions) {
    cluster.connectAll();
    cluster.run(ELECTION_TIMEOUT_MS);
  }
  if (options.crash) {
    for (let k = 0; k < cluster.n; k++) cluster.crash(k);
    cluster.run(ELECTION_TIMEOUT_MS);
    for (let k = 0; k < cluster.n; k++) cluster.start(k);
    cluster.connectAll();
  }
}

/** As the lab, waits for every client's last operation (it survived the faults) to finish. */
function awaitLastOperations(world: KvWorld, clients: readonly Client[], at: string): void {
  const idle = () => clients.every((client) => !client.clerk.busy);
  if (world.cluster.runUntil(idle, LAST_OPERATIONS_WITHIN_MS)) return;
  const hung = clients.filter((client) => client.clerk.busy).map((client) =>
    `client ${client.index} (id ${client.clerk.clientId}): ${
      client.current === null ? "?" : describe(client.current)
    }`
  );
  throw new Error(
    `${at}: last operations did not finish within ${LAST_OPERATIONS_WITHIN_MS} virtual ms ` +
      `after the faults ended: ${hung.join("; ")}`,
  );
}

/** A fresh clerk reads every client's key; without random keys checkClntAppends holds. */
function checkClients(
  world: KvWorld,
  options: GenericOptions,
  clients: readonly Client[],
  at: string,
): void {
  const checker = newClerk(world);
  for (const client of clients) {
    const value = perform(world, checker, { kind: "get", key: String(client.index) });
    if (options.randomKeys) continue;
    try {
      checkClntAppends(client.index, value, client.count);
    } catch (error) {
      throw new Error(`${at}: ${(error as Error).message}`, { cause: error });
    }
  }
}
