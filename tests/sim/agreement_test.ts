/**
 * Log agreement scenarios (Raft §5.3, §5.4), rebuilt from the classic lab's 3B tests:
 * BasicAgree, RPCBytes, FailAgree, FollowerFailure, LeaderFailure, FailNoAgree,
 * ConcurrentStarts, Rejoin and Backup, with the lab's thresholds (2 s to commit, 10 s per
 * one(), the byte budget, fast log back-up). Each scenario drives a deterministic
 * {@link SimCluster} (production Raft code, virtual time, simulated network) through the
 * lab's helpers; the safety checker runs after every event. One difference from the lab is
 * deliberate: a new leader first appends a no-op entry of its term (§5.4.2, thesis §6.4), so
 * each leadership adds one index and the lab's index 1 is index 2 here after the first
 * leader's no-op. Every scenario runs under several fixed seeds; a failure names its seed
 * and how to replay it.
 */

import assert from "node:assert/strict";
import { ELECTION_TIMEOUT_MS, SimCluster } from "./cluster.ts";
import { RAFT_DEFAULTS } from "../../src/raft/core/raft_config.ts";
import {
  appliedAnywhere,
  appliedValues,
  note,
  randomString,
  rpcsReceivedBy,
  scenario,
} from "./scenario_helpers.ts";

const FILE = "tests/sim/agreement_test.ts";
/** Index of the first leader's no-op in a fresh cluster: its first command lands right after. */
const FIRST_NOOP_INDEX = 1;

scenario({
  name: "raft: the leader's commands commit at consecutive indexes and every server applies " +
    "them (§5.3)",
  file: FILE,
}, (seed) => {
  const servers = 3;
  const cluster = new SimCluster({ nodes: servers, seed });
  const leader = cluster.checkOneLeader();
  assert.equal(cluster.node(leader)!.status().lastIndex, FIRST_NOOP_INDEX, "one no-op so far");
  for (let i = 1; i <= 3; i++) {
    const index = FIRST_NOOP_INDEX + i;
    assert.equal(cluster.nCommitted(index).count, 0, `index ${index} committed before Start()`);
    const got = cluster.one(String(i * 100), servers, false);
    assert.equal(got, index, `one(${i * 100}) landed at ${got}, expected ${index}`);
  }
  assert.deepEqual(cluster.nCommitted(FIRST_NOOP_INDEX), { count: servers, value: null });
});

scenario({
  name: "raft: each entry is sent to each follower about once (lab RPCBytes, §5.3)",
  file: FILE,
}, (seed) => {
  const servers = 3;
  const cluster = new SimCluster({ nodes: servers, seed });
  assert.equal(cluster.one("99", servers, false), FIRST_NOOP_INDEX + 1);
  const before = cluster.network.bytesDelivered;
  let sent = 0;
  for (let i = 0; i < 10; i++) {
    const command = randomString(cluster.random, 5000);
    const index = cluster.one(command, servers, false);
    assert.equal(index, FIRST_NOOP_INDEX + 2 + i, `command ${i} landed at ${index}`);
    sent += command.length;
  }
  const got = cluster.network.bytesDelivered - before;
  // The lab's budget: every byte to every server once, plus 50,000 for headers and slack.
  const budget = servers * sent + 50_000;
  note(seed, `bytes for 10 x 5000-char commands: ${got} (budget ${budget})`);
  assert.ok(got <= budget, `${got} bytes delivered for ${sent} bytes of commands`);
});

scenario({
  name: "raft: agreement continues without a failed follower, which catches up on rejoining " +
    "(§5.3)",
  file: FILE,
}, (seed) => {
  const servers = 3;
  const cluster = new SimCluster({ nodes: servers, seed });
  const first = cluster.one("101", servers, false);
  const leader = cluster.checkOneLeader();
  cluster.disconnect((leader + 1) % servers);
  // PreVote keeps the cut-off follower from forcing an election: the leader and its indexes hold.
  const indexes = [first];
  for (const value of ["102", "103"]) indexes.push(cluster.one(value, servers - 1, false));
  cluster.run(ELECTION_TIMEOUT_MS);
  for (const value of ["104", "105"]) indexes.push(cluster.one(value, servers - 1, false));
  cluster.connect((leader + 1) % servers);
  indexes.push(cluster.one("106", servers, true));
  cluster.run(ELECTION_TIMEOUT_MS);
  indexes.push(cluster.one("107", servers, true));
  assert.deepEqual(indexes, indexes.map((_, i) => first + i), "indexes are not consecutive");
});

scenario({
  name: "raft: a leader without followers accepts a command but cannot commit it (lab " +
    "FollowerFailure, §5.3)",
  file: FILE,
}, (seed) => {
  const servers = 3;
  const cluster = new SimCluster({ nodes: servers, seed });
  cluster.one("101", servers, false);
  const leader1 = cluster.checkOneLeader();
  cluster.disconnect((leader1 + 1) % servers);
  cluster.one("102", servers - 1, false);
  cluster.run(ELECTION_TIMEOUT_MS);
  const last = cluster.one("103", servers - 1, false);
  // The lab's index 3; one no-op before the three commands makes it 4.
  assert.equal(last, FIRST_NOOP_INDEX + 3, "101..103 are not right after the leader's no-op");

  const leader2 = cluster.checkOneLeader();
  cluster.disconnect((leader2 + 1) % servers);
  cluster.disconnect((leader2 + 2) % servers);
  const start = cluster.propose(leader2, "104");
  assert.ok(start.isLeader, "the leader rejected Start()");
  assert.equal(start.index, last + 1, "Start() did not append at the next index");
  cluster.run(2 * ELECTION_TIMEOUT_MS);
  assert.equal(cluster.nCommitted(start.index).count, 0, `${start.index} committed alone`);
});

scenario({
  name: "raft: after two leaders fail in turn, a command offered to all servers commits nowhere " +
    "(lab LeaderFailure, §5.3)",
  file: FILE,
}, (seed) => {
  const servers = 3;
  const cluster = new SimCluster({ nodes: servers, seed });
  cluster.one("101", servers, false);
  const leader1 = cluster.checkOneLeader();
  cluster.disconnect(leader1);
  cluster.one("102", servers - 1, false);
  cluster.run(ELECTION_TIMEOUT_MS);
  const last = cluster.one("103", servers - 1, false);

  const leader2 = cluster.checkOneLeader();
  cluster.disconnect(leader2);
  const starts = [0, 1, 2].map((k) => cluster.propose(k, "104"));
  cluster.run(2 * ELECTION_TIMEOUT_MS);
  // Nothing after 103 commits; and a stale leader's copy at a lower index commits nowhere either.
  assert.equal(cluster.nCommitted(last + 1).count, 0, `index ${last + 1} was committed`);
  for (const start of starts.filter((s) => s.isLeader)) {
    assert.notEqual(
      cluster.nCommitted(start.index).value,
      "104",
      `104 committed at ${start.index}`,
    );
  }
  assert.equal(appliedAnywhere(cluster, "104"), false, "104 was applied somewhere");
});

scenario({
  name: "raft: no command commits without a majority, and after healing a new leader " +
    "overwrites it (lab FailNoAgree, §5.3, §5.4.1)",
  file: FILE,
}, (seed) => {
  const servers = 5;
  const cluster = new SimCluster({ nodes: servers, seed });
  cluster.one("10", servers, false);
  const leader = cluster.checkOneLeader();
  for (let offset = 1; offset <= 3; offset++) cluster.disconnect((leader + offset) % servers);
  const start = cluster.propose(leader, "20");
  assert.ok(start.isLeader, "the leader rejected Start()");
  // The lab's index 2 (after the no-op: 3).
  assert.equal(start.index, FIRST_NOOP_INDEX + 2, "Start() did not append at the next index");
  cluster.run(2 * ELECTION_TIMEOUT_MS);
  assert.equal(cluster.nCommitted(start.index).count, 0, `${start.index} committed by a minority`);

  for (let offset = 1; offset <= 3; offset++) cluster.connect((leader + offset) % servers);
  const leader2 = cluster.checkOneLeader();
  const again = cluster.propose(leader2, "30");
  assert.ok(again.isLeader, "the new leader rejected Start()");
  // The lab allows 2 or 3: its new leader either overwrote 20 or kept it. Here the new leader
  // appends its no-op first, at the overwritten index or after 20, so 30 lands one later.
  const allowed = [start.index + 1, start.index + 2];
  assert.ok(allowed.includes(again.index), `Start(30) at ${again.index}, expected ${allowed}`);
  cluster.one("1000", servers, true);
});

scenario({
  name: "raft: commands proposed at the same instant all commit in one term (lab " +
    "ConcurrentStarts, §5.3)",
  file: FILE,
}, (seed) => {
  const servers = 3;
  const cluster = new SimCluster({ nodes: servers, seed });
  let success = false;
  for (let attempt = 0; attempt < 5 && !success; attempt++) {
    if (attempt > 0) cluster.run(3000);
    success = concurrentStarts(cluster, servers);
  }
  assert.ok(success, "term changed too often");
});

/** One try of ConcurrentStarts: false when the term changed (the lab retries). */
function concurrentStarts(cluster: SimCluster, servers: number): boolean {
  const leader = cluster.checkOneLeader();
  const first = cluster.propose(leader, "1");
  if (!first.isLeader) return false;
  // No virtual time passes between these calls: they are as concurrent as a simulation allows.
  const starts = [0, 1, 2, 3, 4].map((i) => cluster.propose(leader, String(100 + i)));
  const accepted = starts.filter((s) => s.isLeader && s.term === first.term);
  for (let k = 0; k < servers; k++) if (cluster.state(k).term !== first.term) return false;
  const committed: unknown[] = [];
  for (const { index } of accepted) {
    const value = cluster.wait(index, servers, first.term);
    if (value === -1) return false;
    committed.push(value);
  }
  for (let i = 0; i < 5; i++) {
    assert.ok(committed.includes(String(100 + i)), `${100 + i} missing from ${committed}`);
  }
  return true;
}

scenario({
  name: "raft: a stale leader's uncommitted entries are overwritten when it rejoins " +
    "(lab Rejoin, §5.3, §5.4.1)",
  file: FILE,
}, (seed) => {
  const servers = 3;
  const cluster = new SimCluster({ nodes: servers, seed });
  cluster.one("101", servers, true);
  const leader1 = cluster.checkOneLeader();
  cluster.disconnect(leader1);
  for (const value of ["102", "103", "104"]) cluster.propose(leader1, value);
  cluster.one("103", 2, true); // The new leader of the other two.
  const leader2 = cluster.checkOneLeader();
  cluster.disconnect(leader2);
  cluster.connect(leader1); // The old leader and the follower form a majority.
  cluster.one("104", 2, true);
  cluster.connect(leader2);
  const last = cluster.one("105", servers, true);

  for (let index = 1; index <= last; index++) {
    assert.equal(cluster.nCommitted(index).count, servers, `index ${index} is not everywhere`);
  }
  assert.equal(appliedAnywhere(cluster, "102"), false, "the stale leader's 102 was applied");
  for (const value of ["103", "104"]) {
    const copies = appliedValues(cluster, leader1).filter((v) => v === value).length;
    assert.equal(copies, 1, `${value} applied ${copies} times: a stale copy survived`);
  }
});

scenario({
  name: "raft: a leader repairs 50 divergent entries in a few round trips (lab Backup, §5.3 " +
    "fast back-up)",
  file: FILE,
  // Seed 94: the final one() is first offered to leader2, still a leader of its old term.
  seeds: [1, 2, 3, 94],
}, (seed) => backup(seed));

/** Divergent entries each partition writes (the lab's 50). */
const BACKUP_ENTRIES = 50;

/**
 * Note B of the reference: two rounds of 50 uncommitted entries on a minority, then a
 * majority that must overwrite them. Every one() must finish within its 10 s (cluster.one
 * fails past that). Beyond the lab, it counts the RPCs the repaired nodes receive while the
 * repair happens (see `repairRpcs`).
 */
function backup(seed: number): void {
  const servers = 5;
  const cluster = new SimCluster({ nodes: servers, seed });
  let counter = 0;
  const value = () => `backup-${counter++}-${cluster.random.int(1_000_000)}`;
  cluster.one(value(), servers, true);

  // Leader1 and one follower get 50 entries that cannot commit.
  const leader1 = cluster.checkOneLeader();
  for (let offset = 2; offset <= 4; offset++) cluster.disconnect((leader1 + offset) % servers);
  for (let i = 0; i < BACKUP_ENTRIES; i++) cluster.propose(leader1, value());
  cluster.run(ELECTION_TIMEOUT_MS / 2);

  // The other three commit 50 entries of their own.
  cluster.disconnect(leader1);
  cluster.disconnect((leader1 + 1) % servers);
  for (let offset = 2; offset <= 4; offset++) cluster.connect((leader1 + offset) % servers);
  for (let i = 0; i < BACKUP_ENTRIES; i++) cluster.one(value(), 3, true);

  // Leader2 and one follower get 50 more entries that cannot commit.
  const leader2 = cluster.checkOneLeader();
  let other = (leader1 + 2) % servers;
  if (leader2 === other) other = (leader2 + 1) % servers;
  cluster.disconnect(other);
  for (let i = 0; i < BACKUP_ENTRIES; i++) cluster.propose(leader2, value());
  cluster.run(ELECTION_TIMEOUT_MS / 2);

  // Leader1, its follower and `other`: `other` leads and overwrites 50 entries on the two.
  for (let k = 0; k < servers; k++) cluster.disconnect(k);
  const stale1 = [leader1, (leader1 + 1) % servers];
  for (const k of [...stale1, other]) cluster.connect(k);
  repairPhase(cluster, seed, stale1, () => cluster.one(value(), 3, true), "first");
  for (let i = 1; i < BACKUP_ENTRIES; i++) cluster.one(value(), 3, true);

  // Everyone: leader2 and its follower hold 50 stale entries of their own to overwrite.
  const stale2 = [0, 1, 2, 3, 4].filter((k) => !stale1.includes(k) && k !== other);
  for (let k = 0; k < servers; k++) cluster.connect(k);
  repairPhase(cluster, seed, stale2, () => cluster.one(value(), servers, true), "second");
}

/** Virtual milliseconds per tick (SimCluster's default). */
const TICK_MS = 50;
/** Virtual milliseconds between a leader's heartbeats. */
const HEARTBEAT_MS = RAFT_DEFAULTS.heartbeatTicks * TICK_MS;

/**
 * Runs `oneCall` (the first one() after a repair starts: it needs the repaired nodes to apply,
 * so the repair happens inside it) and bounds the RPCs the repaired nodes receive meanwhile.
 *
 * The bound: backing up one entry per round trip would cost each repaired node at least one
 * rejected append per divergent entry, 50 each, 100 for the two. Backing up a term per round
 * trip (the conflict-term hint) needs about three appends per node, plus a few pre-vote and
 * vote requests. Heartbeats come on top whatever the back-up strategy, one per node per
 * heartbeat interval, and the call may last seconds (one() can first offer the command to a
 * stale leader that has not yet heard of the new term, and then waits 2 s before retrying), so
 * they are allowed for the virtual time the call took. Fifty more than that is far above what
 * fast back-up needs and half of what entry-by-entry back-up would take. (Only the first repair
 * needs back-up: in the second, the leader's next index for the two, set when it was elected
 * while they were away, already points just past where their logs diverge.)
 */
function repairPhase(
  cluster: SimCluster,
  seed: number,
  repaired: readonly number[],
  oneCall: () => number,
  label: string,
): void {
  const before = rpcsReceivedBy(cluster, repaired);
  const start = cluster.now;
  oneCall();
  const received = rpcsReceivedBy(cluster, repaired) - before;
  const heartbeats = repaired.length * Math.ceil((cluster.now - start) / HEARTBEAT_MS);
  const bound = BACKUP_ENTRIES + heartbeats;
  note(seed, `${label} repair: nodes ${repaired} received ${received} RPCs (bound ${bound})`);
  assert.ok(received < bound, `${label} repair: ${received} RPCs to ${repaired} (< ${bound})`);
}
