/**
 * Persistence scenarios of the classic Raft lab (3C), run on the deterministic simulator:
 * crash and restart of every server, of the leader and of a follower (Persist1), restarted
 * minorities that must not lose committed entries (Persist2, Persist3), the Figure 8 schedule
 * of leaders crashed right after they accept a command, on a reliable and on an unreliable,
 * reordering network (Figure8, Figure8Unreliable), agreement on an unreliable network
 * (UnreliableAgree), client churn under crashes and disconnections (ReliableChurn,
 * UnreliableChurn), and a voter that crashes right after voting (not a lab test). Each test
 * drives a {@link SimCluster} with the lab's helpers and thresholds (one() offers for 10 s and
 * waits 2 s; checkOneLeader ~5 s) in virtual time; a crash drops every write not yet fsynced.
 * The safety checker runs after every event (one leader per term, log matching, committed
 * entries never change and are durable on a majority, identical applies, leader completeness),
 * so a conflicting commit fails the test where it happens. Unlike the lab, a new leader appends
 * a no-op first, so indexes are the ones one() returns, not 1, 2, 3.
 */

import assert from "node:assert/strict";
import { ELECTION_TIMEOUT_MS, SimCluster } from "./cluster.ts";
import { note, scenario } from "./scenario_helpers.ts";
import { ChurnClients, oneConcurrently, randomValue } from "./scenario_helpers_persist.ts";

const FILE = "tests/sim/persistence_test.ts";

/** Every command value applied in `cluster`'s agreed log, in index order (no-ops left out). */
function committedValues(cluster: SimCluster, lastIndex: number): string[] {
  const values: string[] = [];
  for (let index = 1; index <= lastIndex; index++) {
    const value = cluster.wait(index, cluster.n, -1);
    if (typeof value === "string") values.push(value);
  }
  return values;
}

const PERSIST1 =
  "raft: committed entries survive a crash of every server, of the leader and of a follower (§5.4, Figure 2 persistence; lab Persist1)";
scenario({ name: PERSIST1, file: FILE, seeds: [1, 2, 3] }, (seed) => {
  const cluster = new SimCluster({ nodes: 3, seed });
  cluster.one("11", 3, true);
  for (let k = 0; k < 3; k++) cluster.restart(k);
  for (let k = 0; k < 3; k++) {
    cluster.disconnect(k);
    cluster.connect(k);
  }
  cluster.one("12", 3, true);

  const leader1 = cluster.checkOneLeader();
  cluster.disconnect(leader1);
  cluster.restart(leader1);
  cluster.connect(leader1);
  cluster.one("13", 3, true);

  const leader2 = cluster.checkOneLeader();
  cluster.disconnect(leader2);
  const index14 = cluster.one("14", 2, true);
  cluster.restart(leader2);
  cluster.connect(leader2);
  // The lab's wait(4, servers): the restarted leader2 must catch up before a follower goes.
  cluster.wait(index14, 3, -1);

  const follower = (cluster.checkOneLeader() + 1) % 3;
  cluster.disconnect(follower);
  cluster.one("15", 2, true);
  cluster.restart(follower);
  cluster.connect(follower);
  const last = cluster.one("16", 3, true);
  assert.deepEqual(committedValues(cluster, last), ["11", "12", "13", "14", "15", "16"]);
});

const PERSIST2 =
  "raft: a restarted majority, two of whom were partitioned away, elects a leader holding every committed entry (§5.4.1; lab Persist2)";
scenario({ name: PERSIST2, file: FILE, seeds: [11, 12, 13] }, (seed) => {
  const cluster = new SimCluster({ nodes: 5, seed });
  const expected: string[] = [];
  let next = 11;
  const one = (servers: number) => {
    const value = String(next++);
    expected.push(value);
    return cluster.one(value, servers, true);
  };
  for (let round = 0; round < 5; round++) {
    one(5);
    const leader1 = cluster.checkOneLeader();
    const at = (offset: number) => (leader1 + offset) % 5;
    cluster.disconnect(at(1));
    cluster.disconnect(at(2));
    one(3);
    cluster.disconnect(at(0));
    cluster.disconnect(at(3));
    cluster.disconnect(at(4));
    cluster.restart(at(1));
    cluster.restart(at(2));
    cluster.connect(at(1));
    cluster.connect(at(2));
    cluster.run(ELECTION_TIMEOUT_MS);
    cluster.restart(at(3));
    cluster.connect(at(3));
    one(3);
    cluster.connect(at(4));
    cluster.connect(at(0));
  }
  expected.push("1000");
  const last = cluster.one("1000", 5, true);
  assert.deepEqual(committedValues(cluster, last), expected);
});

const PERSIST3 =
  "raft: a restarted leader's persisted log lets it win the election and keep an entry only two servers held (§5.4.1, Figure 2; lab Persist3)";
scenario({ name: PERSIST3, file: FILE, seeds: [21, 22, 23, 24] }, (seed) => {
  const cluster = new SimCluster({ nodes: 3, seed });
  cluster.one("101", 3, true);
  const leader = cluster.checkOneLeader();
  const at = (offset: number) => (leader + offset) % 3;
  cluster.disconnect(at(2));
  cluster.one("102", 2, true);
  cluster.crash(at(0));
  cluster.crash(at(1));
  cluster.connect(at(2));
  cluster.start(at(0));
  cluster.connect(at(0));
  cluster.one("103", 2, true);
  cluster.start(at(1));
  cluster.connect(at(1));
  const last = cluster.one("104", 3, true);
  assert.deepEqual(committedValues(cluster, last), ["101", "102", "103", "104"]);
});

const VOTE =
  "raft: a server that crashes right after voting does not vote again in the same term, so one term never has two leaders (§5.2, Figure 2 votedFor is persistent)";
scenario({ name: VOTE, file: FILE, seeds: [81, 82, 83] }, (seed) => {
  const cluster = new SimCluster({ nodes: 3, seed });
  cluster.one("1", 3, true);
  const leader1 = cluster.checkOneLeader();
  const [a, b, c] = [leader1, (leader1 + 1) % 3, (leader1 + 2) % 3];
  // b is cut off; a and c elect a leader of a new term, and the voter crashes the moment that
  // leader learns it won, before the leader's first append reaches it.
  cluster.partition([[a], [b], [c]]);
  cluster.run(3 * ELECTION_TIMEOUT_MS);
  cluster.partition([[a, c], [b]]);
  const elected = () => [a, c].some((k) => cluster.state(k).isLeader);
  assert.ok(cluster.runUntil(elected, 10_000), "a and c elected no leader");
  const winner = cluster.state(a).isLeader ? a : c;
  const voter = winner === a ? c : a;
  const term = cluster.state(winner).term;
  cluster.crash(voter);
  // The restarted voter meets only b, whose log is as up to date as its own: had it forgotten
  // its vote, b could win the same term (the checker fails on two leaders in one term).
  cluster.partition([[winner], [b, voter]]);
  cluster.start(voter);
  cluster.run(5 * ELECTION_TIMEOUT_MS);
  const leader = cluster.checkOneLeader();
  assert.notEqual(cluster.state(leader).term, term, "b and the voter reused the winner's term");
  cluster.connectAll();
  cluster.one("2", 3, true);
});

/**
 * The lab's Figure 8 loop: propose on every live (and, unreliably, every) server; sleep 0–12 ms
 * or, one time in ten, 0–499 ms; then take out the server that last accepted.
 */
function figure8(cluster: SimCluster, unreliable: boolean): { term: number; last: number } {
  const random = cluster.random;
  const value = () => unreliable ? String(random.int(10_000)) : randomValue(cluster);
  cluster.one(value(), 1, true);
  let up = 5;
  const isUp = (k: number) => unreliable ? cluster.connected[k] : cluster.node(k) !== null;
  for (let iteration = 0; iteration < 1000; iteration++) {
    if (unreliable && iteration === 200) cluster.setLongReordering(true);
    let leader = -1;
    for (let k = 0; k < 5; k++) {
      if (cluster.propose(k, value()).isLeader && isUp(k)) leader = k;
    }
    cluster.run(random.int(1000) < 100 ? random.int(ELECTION_TIMEOUT_MS / 2) : random.int(13));
    if (leader !== -1 && (!unreliable || random.int(1000) < ELECTION_TIMEOUT_MS / 2)) {
      if (unreliable) cluster.disconnect(leader);
      else cluster.crash(leader);
      up--;
    }
    if (up < 3) {
      const k = random.int(5);
      if (!isUp(k)) {
        if (unreliable) cluster.connect(k);
        else cluster.start(k);
        up++;
      }
    }
  }
  for (let k = 0; k < 5; k++) {
    if (unreliable) cluster.connect(k);
    else if (cluster.node(k) === null) cluster.start(k);
  }
  const last = cluster.one(value(), 5, true);
  return { term: cluster.checkTerms(), last };
}

const FIGURE8 =
  "raft: a leader commits only entries of its own term by counting replicas, so leaders crashed at every turn never change a committed entry (§5.4.2, Figure 8; lab Figure8)";
scenario({ name: FIGURE8, file: FILE, seeds: [31, 32, 33, 34, 35] }, (seed) => {
  const { term, last } = figure8(new SimCluster({ nodes: 5, seed }), false);
  note(seed, `Figure 8 ended in term ${term} at index ${last}`);
});

const FIGURE8_UNRELIABLE =
  "raft: the Figure 8 rule holds on a lossy, long-reordering network where stale replies must be ignored (§5.4.2, Figure 8; lab Figure8Unreliable)";
function figure8Unreliable(seed: number): void {
  const cluster = new SimCluster({ nodes: 5, seed });
  cluster.setReliable(false);
  const { term, last } = figure8(cluster, true);
  note(seed, `Figure 8 (unreliable) ended in term ${term} at index ${last}`);
}
// Seeds 22, 33, 44, 58, 66, 114 and 134 once missed the 10 s bound while the simulated network
// held back requests as well as replies (a harsher rule than the lab's); they stay as regressions.
scenario({
  name: FIGURE8_UNRELIABLE,
  file: FILE,
  seeds: [41, 42, 43, 44, 45, 22, 33, 58, 66, 114, 134],
}, figure8Unreliable);

const UNRELIABLE_AGREE =
  "raft: servers agree on concurrent commands over a network that delays, drops and duplicates messages (§5.3; lab UnreliableAgree)";
scenario({ name: UNRELIABLE_AGREE, file: FILE, seeds: [51, 52] }, (seed) => {
  const cluster = new SimCluster({ nodes: 5, seed });
  cluster.setReliable(false);
  for (let iteration = 1; iteration < 50; iteration++) {
    const values = [0, 1, 2, 3].map((j) => String(100 * iteration + j));
    oneConcurrently(cluster, [...values, String(iteration)], 1);
  }
  cluster.setReliable(true);
  cluster.one("100", 5, true);
});

/**
 * The lab's internalChurn: three clients propose on every server while, 20 times 700 ms apart,
 * a random server is disconnected (20 %), restarted if down and connected (50 %), or crashed
 * (20 %). Then everything heals and every value a client saw committed must be in the log.
 */
function churn(cluster: SimCluster): { seen: number; last: number } {
  const random = cluster.random;
  const clients = new ChurnClients(cluster, 3);
  for (let round = 0; round < 20; round++) {
    if (random.int(1000) < 200) cluster.disconnect(random.int(5));
    if (random.int(1000) < 500) {
      const k = random.int(5);
      if (cluster.node(k) === null) cluster.start(k);
      cluster.connect(k);
    }
    if (random.int(1000) < 200) cluster.crash(random.int(5));
    cluster.run((ELECTION_TIMEOUT_MS * 7) / 10);
  }
  cluster.run(ELECTION_TIMEOUT_MS);
  cluster.healAll();
  clients.stop();
  cluster.run(ELECTION_TIMEOUT_MS);
  const last = cluster.one(randomValue(cluster), 5, true);
  const log = new Set(committedValues(cluster, last));
  for (const value of clients.seenCommitted) {
    assert.ok(log.has(value), `value ${value} was seen committed but is not in the final log`);
  }
  return { seen: clients.seenCommitted.length, last };
}

const RELIABLE_CHURN =
  "raft: every value a client saw committed survives crashes, restarts and disconnections (§5.4, Figure 2; lab ReliableChurn)";
scenario({ name: RELIABLE_CHURN, file: FILE, seeds: [61, 62, 63] }, (seed) => {
  const { seen, last } = churn(new SimCluster({ nodes: 5, seed }));
  note(seed, `clients saw ${seen} values committed; final log ends at ${last}`);
  assert.ok(seen > 0, "no client saw a value committed: the test proved nothing");
});

const UNRELIABLE_CHURN =
  "raft: every value a client saw committed survives churn on an unreliable network (§5.4, Figure 2; lab UnreliableChurn)";
scenario({ name: UNRELIABLE_CHURN, file: FILE, seeds: [71, 72, 73] }, (seed) => {
  const cluster = new SimCluster({ nodes: 5, seed });
  cluster.setReliable(false);
  // No "seen > 0" check here: some schedules (seed 42) leave no quorum long enough to commit.
  const { seen, last } = churn(cluster);
  note(seed, `clients saw ${seen} values committed; final log ends at ${last}`);
});
