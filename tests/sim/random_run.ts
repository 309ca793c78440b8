/**
 * One randomized simulation, fully determined by its seed: a cluster of 3 or 5 replicas, a
 * random mix of faults (unreliable network, long reordering, crashes, partitions of every
 * shape including asymmetric links, snapshots of several cadences, slow disks, small snapshot
 * chunks), clients proposing throughout, safety checked after every event, and a liveness
 * phase at the end: heal everything, then a leader must be elected and a proposal committed on
 * every replica within a bounded time. Clients remember every value they saw committed; all
 * of them must be in the final log.
 */

import { Prng } from "../../src/util/prng.ts";
import { SimCluster } from "./cluster.ts";

/** Virtual time every replica gets to apply the final entry once the cluster is healed. */
const CATCH_UP_MS = 60_000;

/** Which faults a run injects. */
export interface FaultMix {
  readonly unreliable: boolean;
  readonly longReordering: boolean;
  /** Long reordering also holds back requests (harsher than the lab; safety only). */
  readonly reorderRequests: boolean;
  readonly crashes: boolean;
  readonly partitions: boolean;
  readonly asymmetric: boolean;
  readonly snapshotEvery: number | null;
  readonly snapshotChunkBytes: number;
  readonly fsyncMaxMs: number;
  /** Batching and window limits: tiny ones split batches and stress flow control. */
  readonly maxAppendEntries: number;
  readonly maxInflightAppends: number;
  /** Backpressure: bytes of uncommitted proposals a leader accepts before answering busy. */
  readonly maxUncommittedBytes: number;
  /** The protocol options users may turn off: safety must not depend on them. */
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
}

/** What a run did. */
export interface RunReport {
  readonly seed: number;
  readonly nodes: number;
  readonly mix: FaultMix;
  readonly virtualMs: number;
  readonly events: number;
  readonly proposals: number;
  readonly committed: number;
  readonly faults: number;
  readonly maxTerm: number;
  readonly reads: number;
}

/** Options of a run; everything not given is drawn from the seed. */
export interface RunOptions {
  readonly nodes?: number;
  readonly durationMs?: number;
  readonly log?: (line: string) => void;
}

/** Draws a fault mix from `random`. */
export function drawFaultMix(random: Prng): FaultMix {
  return {
    unreliable: random.chance(0.5),
    longReordering: random.chance(0.25),
    reorderRequests: random.chance(0.3),
    crashes: random.chance(0.6),
    partitions: random.chance(0.7),
    asymmetric: random.chance(0.3),
    snapshotEvery: random.pick([null, 5, 20, 100]),
    snapshotChunkBytes: random.pick([64, 1024, 1024 * 1024]),
    fsyncMaxMs: random.pick([0.5, 2, 20]),
    maxAppendEntries: random.pick([1, 3, 512]),
    maxInflightAppends: random.pick([1, 4, 64]),
    maxUncommittedBytes: random.pick([2048, 8192]),
    preVote: random.chance(0.75),
    checkQuorum: random.chance(0.75),
  };
}

/** Runs one seeded simulation; throws (with the seed in the message) on any violation. */
export function randomRun(seed: number, options: RunOptions = {}): RunReport {
  const random = new Prng(seed);
  const nodes = options.nodes ?? random.pick([3, 5]);
  const mix = drawFaultMix(random);
  const durationMs = options.durationMs ?? 20_000 + random.int(20_000);
  const log = options.log ?? (() => {});
  const cluster = new SimCluster({
    nodes,
    seed: random.nextUint32(),
    snapshotEvery: mix.snapshotEvery,
    fsyncMaxMs: mix.fsyncMaxMs,
    raft: {
      snapshotChunkBytes: mix.snapshotChunkBytes,
      maxAppendEntries: mix.maxAppendEntries,
      maxInflightAppends: mix.maxInflightAppends,
      maxUncommittedBytes: mix.maxUncommittedBytes,
      preVote: mix.preVote,
      checkQuorum: mix.checkQuorum,
    },
  });
  log(`seed ${seed}: ${nodes} nodes, ${durationMs} ms, mix ${JSON.stringify(mix)}`);
  const seen = new Map<number, string>();
  let proposals = 0;
  let faults = 0;
  let counter = 0;
  // ReadIndex: a read must observe every write any client could have seen acknowledged before
  // the read began, i.e. its read index must reach the highest index applied anywhere then.
  const readsStarted = new Map<number, { node: number; floor: number }>();
  let reads = 0;
  let nextRead = 1;
  cluster.onRead = (k, context, outcome) => {
    const started = readsStarted.get(context);
    if (started === undefined) throw new Error(`read ${context} answered twice or never asked`);
    readsStarted.delete(context);
    if (!outcome.ok) return;
    reads++;
    if (outcome.index < started.floor) {
      throw new Error(
        `stale read on node ${k}: read index ${outcome.index} is below ${started.floor}, applied before the read began`,
      );
    }
    const applied = cluster.replicas[k]?.node.core.applied ?? -1;
    if (applied < outcome.index) {
      throw new Error(
        `read served on node ${k} before applying its read index ${outcome.index} (applied ${applied})`,
      );
    }
  };
  try {
    cluster.setReliable(!mix.unreliable);
    cluster.network.faults.reorderRequests = mix.reorderRequests;
    while (cluster.now < durationMs) {
      // Clients: propose to a random node, then to the leader it names, as a clerk would.
      const burst = 1 + random.int(8);
      for (let b = 0; b < burst; b++) {
        const value = `s${seed}-${counter++}`;
        if (proposeLikeAClient(cluster, random.int(nodes), value)) proposals++;
      }
      if (random.chance(0.5)) {
        const context = nextRead++;
        let k = random.int(nodes);
        if (!cluster.state(k).isLeader) k = (cluster.node(k)?.status().leader ?? k + 1) - 1;
        readsStarted.set(context, { node: k, floor: cluster.maxApplied() });
        if (!cluster.readIndex(k, context)) readsStarted.delete(context);
      }
      cluster.run(random.int(200));
      noteCommitted(cluster, seen);
      if (random.chance(0.15)) {
        faults++;
        const what = injectFault(cluster, random, mix);
        log(`t=${cluster.now.toFixed(0)} ${what}`);
      }
    }
    log(`t=${cluster.now.toFixed(0)} heal everything; liveness phase`);
    cluster.healAll();
    const leader = cluster.checkOneLeader();
    // Liveness. First the backlog drains: a new leader may inherit many uncommitted entries
    // from earlier terms, and how fast they replicate depends on the configured windows (one
    // entry per round trip at the smallest), so this is bounded by CATCH_UP_MS. Then a fresh
    // proposal commits (a majority applies it) within the lab's 10 s, and every replica catches up.
    const drained = cluster.runUntil(() => {
      const core = cluster.node(leader)?.core;
      return core === undefined || core.role !== "leader" || core.commit === core.log.lastIndex();
    }, CATCH_UP_MS);
    if (!drained) {
      throw new Error(`the leader's backlog did not commit within ${CATCH_UP_MS} ms of healing`);
    }
    const quorum = Math.floor(nodes / 2) + 1;
    const index = cluster.one(`final-${seed}`, quorum, true);
    const caughtUp = cluster.runUntil(() => cluster.nCommitted(index).count === nodes, CATCH_UP_MS);
    if (!caughtUp) {
      throw new Error(
        `only ${
          cluster.nCommitted(index).count
        } of ${nodes} replicas applied index ${index} within ${CATCH_UP_MS} ms of healing`,
      );
    }
    noteCommitted(cluster, seen);
    for (const [at, value] of seen) {
      const { value: final } = cluster.nCommitted(at);
      if (final !== value) {
        throw new Error(
          `value ${value} seen committed at ${at} is not in the final log (${final})`,
        );
      }
    }
    let maxTerm = 0;
    for (let k = 0; k < nodes; k++) maxTerm = Math.max(maxTerm, cluster.state(k).term);
    return {
      seed,
      nodes,
      mix,
      virtualMs: Math.round(cluster.now),
      events: cluster.scheduler.eventsRun,
      proposals,
      committed: index,
      faults,
      maxTerm,
      reads,
    };
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new Error(
      `seed ${seed} failed at virtual ${
        cluster.now.toFixed(1)
      } ms: ${message}\n  replay: deno task sim --seed=${seed} --verbose`,
      { cause: error },
    );
  }
}

/** Proposes at node k, following its leader hint once; true when a leader accepted. */
function proposeLikeAClient(cluster: SimCluster, k: number, value: string): boolean {
  if (cluster.propose(k, value).isLeader) return true;
  const hint = cluster.node(k)?.status().leader ?? null;
  return hint !== null && cluster.propose(hint - 1, value).isLeader;
}

function currentLeader(cluster: SimCluster): number | null {
  let best: number | null = null;
  let bestTerm = -1;
  for (let k = 0; k < cluster.n; k++) {
    const { term, isLeader } = cluster.state(k);
    if (isLeader && term > bestTerm) {
      best = k;
      bestTerm = term;
    }
  }
  return best;
}

/** Records each applied command, as the lab's churn clients do. */
function noteCommitted(cluster: SimCluster, seen: Map<number, string>): void {
  for (let k = 0; k < cluster.n; k++) {
    const replica = cluster.replicas[k];
    if (replica === null || replica === undefined) continue;
    const values = replica.stateMachine!.values;
    for (let index = Math.max(1, values.length - 50); index <= values.length; index++) {
      const value = values[index - 1];
      if (typeof value === "string") seen.set(index, value);
    }
  }
}

function injectFault(cluster: SimCluster, random: Prng, mix: FaultMix): string {
  const n = cluster.n;
  const choices: string[] = ["heal"];
  if (mix.partitions) choices.push("isolate", "split", "split");
  if (mix.asymmetric) choices.push("asymmetric");
  if (mix.crashes) {
    choices.push("crash", "crashLeader", "crashPair", "restart", "restart", "restart");
  }
  if (mix.partitions) choices.push("isolateLeader");
  if (mix.unreliable) choices.push("flaky");
  const choice = random.pick(choices);
  switch (choice) {
    case "heal":
      cluster.connectAll();
      return "heal partitions";
    case "isolate": {
      const k = random.int(n);
      cluster.disconnect(k);
      return `isolate ${k}`;
    }
    case "split": {
      const order = Array.from({ length: n }, (_, k) => k);
      for (let k = n - 1; k > 0; k--) {
        const j = random.int(k + 1);
        [order[k], order[j]] = [order[j]!, order[k]!];
      }
      const cut = 1 + random.int(n - 1);
      const groups = [order.slice(0, cut), order.slice(cut)];
      cluster.partition(groups);
      return `partition ${JSON.stringify(groups)}`;
    }
    case "asymmetric": {
      const from = random.int(n);
      const to = (from + 1 + random.int(n - 1)) % n;
      cluster.network.setLink(from, to, false);
      return `cut link ${from} -> ${to}`;
    }
    case "crash": {
      const k = random.int(n);
      cluster.crash(k);
      return `crash ${k}`;
    }
    case "crashLeader":
    case "crashPair": {
      const leader = currentLeader(cluster);
      if (leader === null) return `${choice}: no leader`;
      cluster.crash(leader);
      if (choice === "crashLeader") return `crash leader ${leader}`;
      const other = (leader + 1 + random.int(n - 1)) % n;
      cluster.crash(other);
      return `crash leader ${leader} and ${other}`;
    }
    case "isolateLeader": {
      const leader = currentLeader(cluster);
      if (leader === null) return "isolate leader: no leader";
      cluster.disconnect(leader);
      return `isolate leader ${leader}`;
    }
    case "restart": {
      const down = cluster.replicas.flatMap((replica, k) => (replica === null ? [k] : []));
      if (down.length === 0) return "restart: nothing down";
      const k = random.pick(down);
      cluster.start(k);
      return `restart ${k}`;
    }
    case "flaky": {
      const unreliable = random.chance(0.7);
      cluster.setReliable(!unreliable);
      cluster.setLongReordering(mix.longReordering && unreliable && random.chance(0.5));
      return `network ${unreliable ? "unreliable" : "reliable"}`;
    }
    default:
      throw new Error(`unknown fault ${choice}`);
  }
}
