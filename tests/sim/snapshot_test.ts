/**
 * Snapshot scenarios of the classic Raft lab (3D), run on the deterministic simulator with the
 * application snapshotting every 10 applied entries (the lab's SnapShotInterval): the five
 * snapcommon variants (basic, a disconnected or crashed follower that catches up by
 * InstallSnapshot, on a reliable or unreliable network), every server crashed after snapshots
 * (SnapshotAllCrash, SnapshotInit), and a chunked InstallSnapshot of hundreds of entries sent
 * in 64-byte chunks to a follower on a lossy, duplicating network and to one that crashes in
 * the middle of the transfer. Each test asserts the lab's bound (RaftStateSize, the persisted
 * hard state plus log, stays under 2000 bytes) and counts the InstallSnapshot chunks on the
 * wire by wrapping the simulated network's send. The safety checker runs after every event
 * and checks restored snapshots against what every other replica applied.
 */

import assert from "node:assert/strict";
import { SimCluster } from "./cluster.ts";
import type { Message } from "../../src/raft/core/messages.ts";
import { note, scenario } from "./scenario_helpers.ts";
import { randomValue } from "./scenario_helpers_persist.ts";

const FILE = "tests/sim/snapshot_test.ts";
/** The lab's SnapShotInterval. */
const SNAPSHOT_EVERY = 10;
/** The lab's MAXLOGSIZE: the most bytes of Raft state (hard state and log) any server persists. */
const RAFT_STATE_BYTES_MAX = 2000;

/** Chunks of InstallSnapshot seen on the wire (sent, before any loss), per receiving node. */
interface ChunkCounter {
  readonly sent: number[];
  /** "to:snapshotIndex:offset" of every chunk sent, to tell resends from new chunks. */
  readonly keys: string[];
}

/** Counts every InstallSnapshot chunk `cluster` sends from now on. */
function countChunks(cluster: SimCluster): ChunkCounter {
  const counter: ChunkCounter = { sent: Array.from({ length: cluster.n }, () => 0), keys: [] };
  const network = cluster.network;
  const send = network.send.bind(network);
  network.send = (messages: readonly Message[]) => {
    for (const message of messages) {
      if (message.type !== "installSnapshot") continue;
      counter.sent[message.to - 1]!++;
      counter.keys.push(`${message.to - 1}:${message.snapshotIndex}:${message.offset}`);
    }
    send(messages);
  };
  return counter;
}

type Fault = "none" | "disconnect" | "crash";

/**
 * The lab's snapcommon: 30 iterations; a victim (the leader's successor, or the leader itself
 * every third iteration) is disconnected or crashed, 5–14 commands go to the sender, and the
 * victim must catch up after it comes back. Returns the largest Raft state seen.
 */
function snapcommon(cluster: SimCluster, fault: Fault): number {
  let largest = 0;
  cluster.one(randomValue(cluster), 3, true);
  let leader = cluster.checkOneLeader();
  for (let iteration = 0; iteration < 30; iteration++) {
    const victim = iteration % 3 === 1 ? leader : (leader + 1) % 3;
    const sender = iteration % 3 === 1 ? (leader + 1) % 3 : leader;
    if (fault === "disconnect") cluster.disconnect(victim);
    if (fault === "crash") cluster.crash(victim);
    if (fault !== "none") cluster.one(randomValue(cluster), 2, true);
    const commands = SNAPSHOT_EVERY / 2 + cluster.random.int(SNAPSHOT_EVERY);
    for (let k = 0; k < commands; k++) cluster.propose(sender, randomValue(cluster));
    // Without a fault every follower catches up here, so Basic needs no InstallSnapshot.
    cluster.one(randomValue(cluster), fault === "none" ? 3 : 2, true);
    const bytes = cluster.maxRaftStateBytes();
    largest = Math.max(largest, bytes);
    assert.ok(
      bytes < RAFT_STATE_BYTES_MAX,
      `iteration ${iteration}: Raft state of ${bytes} bytes (max ${RAFT_STATE_BYTES_MAX})`,
    );
    if (fault === "disconnect") cluster.connect(victim);
    if (fault === "crash") cluster.start(victim);
    if (fault !== "none") {
      cluster.one(randomValue(cluster), 3, true);
      leader = cluster.checkOneLeader();
    }
  }
  return largest;
}

interface Variant {
  readonly name: string;
  readonly fault: Fault;
  readonly reliable: boolean;
  readonly seeds: readonly number[];
  /** Seeds that fail for a reason outside this test, run by an ignored twin until fixed. */
  readonly knownFailing?: { readonly seeds: readonly number[]; readonly why: string };
}

const variants: readonly Variant[] = [
  {
    name:
      "raft: the log is compacted into the application's snapshot and the Raft state stays small (§7; lab SnapshotBasic)",
    fault: "none",
    reliable: true,
    seeds: [101, 102, 103],
  },
  {
    name:
      "raft: a follower that was disconnected catches up by InstallSnapshot (§7; lab SnapshotInstall)",
    fault: "disconnect",
    reliable: true,
    seeds: [111, 112, 113],
  },
  {
    name:
      "raft: a disconnected follower catches up by InstallSnapshot on an unreliable network (§7; lab SnapshotInstallUnreliable)",
    fault: "disconnect",
    reliable: false,
    // 158 and 335 once needed 6-7 elections (13 s) with the leader cut off: a round needs four
    // messages (PreVote and vote, each way), and at 10 % loss a third of rounds failed, each
    // retry waiting a full 1-2 s timeout. Candidates now re-ask silent voters every heartbeat.
    seeds: [121, 122, 123, 158, 335],
  },
  {
    name:
      "raft: a crashed follower restarts from its snapshot and log and catches up (§7; lab SnapshotInstallCrash)",
    fault: "crash",
    reliable: true,
    seeds: [131, 132, 133],
  },
  {
    name:
      "raft: a crashed follower catches up from its snapshot on an unreliable network (§7; lab SnapshotInstallUnCrash)",
    fault: "crash",
    reliable: false,
    seeds: [141, 142, 143],
  },
];

/** One snapcommon run of `variant` under `seed`, with its size and InstallSnapshot checks. */
function snapshotScenario(variant: Variant, seed: number): void {
  const cluster = new SimCluster({ nodes: 3, seed, snapshotEvery: SNAPSHOT_EVERY });
  cluster.setReliable(variant.reliable);
  const chunks = countChunks(cluster);
  const largest = snapcommon(cluster, variant.fault);
  note(seed, `largest Raft state ${largest} B, snapshot chunks sent ${chunks.sent}`);
  if (variant.fault === "disconnect") {
    const total = chunks.sent.reduce((a, b) => a + b, 0);
    assert.ok(total > 0, "no InstallSnapshot was sent: the test proved nothing");
  }
}

for (const variant of variants) {
  const { name, seeds, knownFailing } = variant;
  scenario({ name, file: FILE, seeds }, (seed) => snapshotScenario(variant, seed));
  if (knownFailing === undefined) continue;
  scenario({
    name: `${name}, with seeds that fail because ${knownFailing.why}`,
    file: FILE,
    seeds: knownFailing.seeds,
    ignore: true,
  }, (seed) => snapshotScenario(variant, seed));
}

const ALL_CRASH =
  "raft: after every server crashes, indexes resume from snapshot plus log and never go backwards (§7, Figure 13; lab SnapshotAllCrash)";
scenario({ name: ALL_CRASH, file: FILE, seeds: [151, 152, 153] }, (seed) => {
  const cluster = new SimCluster({ nodes: 3, seed, snapshotEvery: SNAPSHOT_EVERY });
  cluster.one(randomValue(cluster), 3, true);
  for (let round = 0; round < 5; round++) {
    const commands = SNAPSHOT_EVERY / 2 + cluster.random.int(SNAPSHOT_EVERY);
    for (let k = 0; k < commands; k++) cluster.one(randomValue(cluster), 3, true);
    const index1 = cluster.one(randomValue(cluster), 3, true);
    for (let k = 0; k < 3; k++) cluster.crash(k);
    for (let k = 0; k < 3; k++) {
      cluster.start(k);
      cluster.connect(k);
    }
    const index2 = cluster.one(randomValue(cluster), 3, true);
    assert.ok(index2 >= index1 + 1, `round ${round}: index decreased from ${index1} to ${index2}`);
  }
  note(seed, `largest Raft state ${cluster.maxRaftStateBytes()} B`);
});

const INIT =
  "raft: a restarted server reloads its snapshot and persists it again with its Raft state (§7; lab SnapshotInit)";
scenario({ name: INIT, file: FILE, seeds: [161, 162, 163] }, (seed) => {
  const cluster = new SimCluster({ nodes: 3, seed, snapshotEvery: SNAPSHOT_EVERY });
  const crashAndRestartAll = () => {
    for (let k = 0; k < 3; k++) cluster.crash(k);
    for (let k = 0; k < 3; k++) {
      const snapshot = cluster.storages[k]!.load().snapshot;
      assert.ok(snapshot !== null, `node ${k} has no durable snapshot after the crash`);
      cluster.start(k);
      cluster.connect(k);
      // The restarted server's state machine starts from the snapshot, not from index 0.
      const applied = cluster.replicas[k]!.stateMachine!.lastApplied;
      assert.equal(applied, snapshot.meta.index, `node ${k} did not reload its snapshot`);
    }
  };
  cluster.one(randomValue(cluster), 3, true);
  for (let k = 0; k < SNAPSHOT_EVERY + 1; k++) cluster.one(randomValue(cluster), 3, true);
  crashAndRestartAll();
  cluster.one(randomValue(cluster), 3, true);
  crashAndRestartAll();
  cluster.one(randomValue(cluster), 3, true);
});

/** Fills a 3-node cluster with `entries` commands while `victim` is disconnected. */
function leaveBehind(cluster: SimCluster, victim: number, entries: number): void {
  cluster.disconnect(victim);
  for (let batch = 0; batch < entries / 50; batch++) {
    for (let k = 0; k < 49; k++) {
      for (let node = 0; node < 3; node++) cluster.propose(node, randomValue(cluster));
    }
    cluster.one(randomValue(cluster), 2, true);
  }
}

/** True once `victim` has applied everything the leader committed. */
function caughtUp(cluster: SimCluster, victim: number): boolean {
  const node = cluster.node(victim);
  if (node === null) return false;
  const commits = [0, 1, 2].map((k) => cluster.node(k)?.status().commit ?? 0);
  return node.status().applied >= Math.max(...commits);
}

/** The leader no longer holds the entries after the victim's log: only a snapshot can help. */
function assertCompactedPast(cluster: SimCluster, leader: number, victim: number): void {
  const compacted = cluster.node(leader)!.status().snapshotIndex;
  const behind = cluster.node(victim)!.status().lastIndex;
  assert.ok(compacted > behind, `leader compacted to ${compacted}, victim holds up to ${behind}`);
}

const CHUNKED =
  "raft: a snapshot of hundreds of entries reaches a lagging follower in many small chunks despite loss, duplication and a crash mid-transfer (§7, Figure 13 offset/done)";
scenario({ name: CHUNKED, file: FILE, seeds: [171, 172, 173] }, (seed) => {
  const cluster = new SimCluster({
    nodes: 3,
    seed,
    snapshotEvery: SNAPSHOT_EVERY,
    raft: { snapshotChunkBytes: 64 },
  });
  cluster.network.faults.duplicateRate = 0.1;
  const chunks = countChunks(cluster);
  cluster.one(randomValue(cluster), 3, true);
  const leader = cluster.checkOneLeader();
  const victim = (leader + 1) % 3;

  // 1. A disconnected follower catches up by a multi-chunk snapshot on an unreliable network.
  leaveBehind(cluster, victim, 300);
  const snapshotBytes = cluster.storages[leader]!.snapshotBytes();
  assert.ok(snapshotBytes > 20 * 64, `the snapshot has only ${snapshotBytes} bytes`);
  assertCompactedPast(cluster, leader, victim);
  cluster.setReliable(false);
  cluster.connect(victim);
  assert.ok(cluster.runUntil(() => caughtUp(cluster, victim), 60_000), "victim never caught up");
  const toVictim = chunks.keys.filter((key) => key.startsWith(`${victim}:`));
  assert.ok(toVictim.length >= snapshotBytes / 64, `only ${toVictim.length} chunks`);
  assert.ok(toVictim.length > new Set(toVictim).size, "no chunk was resent: nothing was lost");
  cluster.one(randomValue(cluster), 3, true);

  // 2. A follower that crashes in the middle of a transfer starts over after its restart.
  const leader2 = cluster.checkOneLeader();
  const victim2 = (leader2 + 1) % 3;
  leaveBehind(cluster, victim2, 300);
  assertCompactedPast(cluster, leader2, victim2);
  cluster.connect(victim2);
  const midTransfer = () => (cluster.node(victim2)?.core.receiver.receivedBytes ?? 0) > 10 * 64;
  assert.ok(cluster.runUntil(midTransfer, 30_000), "the transfer never got under way");
  cluster.crash(victim2);
  cluster.run(500);
  const restartedAt = chunks.keys.length;
  cluster.start(victim2);
  assert.ok(cluster.runUntil(() => caughtUp(cluster, victim2), 60_000), "never caught up");
  const resent = chunks.keys.slice(restartedAt).filter((key) => key.startsWith(`${victim2}:`));
  assert.ok(resent.some((key) => key.endsWith(":0")), "the transfer did not start over");
  cluster.setReliable(true);
  cluster.one(randomValue(cluster), 3, true);
  note(
    seed,
    `snapshot ${snapshotBytes} B in ${toVictim.length} chunks (${
      new Set(toVictim).size
    } distinct); ` +
      `${resent.length} chunks after the mid-transfer restart`,
  );
});
