/**
 * Leader election scenarios (Raft §5.2, thesis §3.10, §6.2, §9.6), rebuilt from the classic
 * lab's 3A tests (InitialElection, ReElection, ManyElections) and TestCount, plus the three
 * extensions this implementation adds: PreVote, CheckQuorum and leadership transfer. Each
 * scenario drives a deterministic {@link SimCluster} (production Raft code, virtual time,
 * simulated network) with the lab's helpers and thresholds: a leader within about 5 s of
 * virtual time, 2 s pauses, and the lab's RPC budgets. The safety checker runs after every
 * event, so a second leader in a term fails a test wherever it happens. Every scenario runs
 * under several fixed seeds; a failure names its seed and how to replay it.
 */

import assert from "node:assert/strict";
import { ELECTION_TIMEOUT_MS, SimCluster } from "./cluster.ts";
import { asNodeId } from "../../src/raft/core/types.ts";
import { appliedValues, leadersIn, note, scenario } from "./scenario_helpers.ts";

const FILE = "tests/sim/election_test.ts";
/** Virtual milliseconds per tick of the simulated nodes (the production default). */
const TICK_MS = 50;

scenario({ name: "raft: a leader is elected and terms agree (§5.2)", file: FILE }, (seed) => {
  const cluster = new SimCluster({ nodes: 3, seed });
  cluster.checkOneLeader();
  cluster.run(50);
  const term1 = cluster.checkTerms();
  assert.ok(term1 >= 1, `term is ${term1}, expected >= 1 after an election`);
  // With no failures the leader's heartbeats keep every follower from campaigning.
  cluster.run(2 * ELECTION_TIMEOUT_MS);
  const term2 = cluster.checkTerms();
  assert.equal(term2, term1, "the term changed although there were no failures");
  cluster.checkOneLeader();
});

scenario({
  name: "raft: a new leader is elected when the leader is lost, and a minority elects none (§5.2)",
  file: FILE,
}, (seed) => {
  const cluster = new SimCluster({ nodes: 3, seed });
  const leader1 = cluster.checkOneLeader();
  cluster.disconnect(leader1);
  const leader2 = cluster.checkOneLeader();
  assert.notEqual(leader2, leader1, "the disconnected leader is still reported as leader");
  const term2 = cluster.state(leader2).term;

  // The old leader rejoins: it learns of the newer term and must not disturb the new leader.
  cluster.connect(leader1);
  const afterRejoin = cluster.checkOneLeader();
  assert.equal(afterRejoin, leader2, "the rejoining old leader deposed the new leader");
  assert.equal(cluster.state(leader2).term, term2, "the rejoin changed the leader's term");

  // Two of three disconnected: the lone connected server cannot win a majority.
  cluster.disconnect(leader2);
  cluster.disconnect((leader2 + 1) % 3);
  cluster.run(2 * ELECTION_TIMEOUT_MS);
  cluster.checkNoLeader();

  // A majority again (one server back), then everybody.
  cluster.connect((leader2 + 1) % 3);
  cluster.checkOneLeader();
  cluster.connect(leader2);
  cluster.checkOneLeader();
});

scenario({
  name: "raft: a lone connected server does not become leader without a majority (§5.2)",
  file: FILE,
}, (seed) => {
  const cluster = new SimCluster({ nodes: 3, seed });
  const leader = cluster.checkOneLeader();
  const lone = (leader + 2) % 3;
  cluster.disconnect(leader);
  cluster.disconnect((leader + 1) % 3);
  // Checked at every event for 2 s, not only at the end (the lab samples once).
  const elected = cluster.runUntil(() => cluster.state(lone).isLeader, 2 * ELECTION_TIMEOUT_MS);
  assert.equal(elected, false, `server ${lone} became leader alone`);
  cluster.checkNoLeader();
});

scenario({
  name: "raft: a leader is elected after each of 9 rounds of 3 of 7 disconnected (§5.2)",
  file: FILE,
}, (seed) => {
  const servers = 7;
  const cluster = new SimCluster({ nodes: servers, seed });
  cluster.checkOneLeader();
  for (let round = 1; round < 10; round++) {
    // As in the lab, the three picks may coincide: at least four servers stay connected.
    const picks = [0, 1, 2].map(() => cluster.random.int(servers));
    for (const k of picks) cluster.disconnect(k);
    try {
      cluster.checkOneLeader();
    } catch (error) {
      throw new Error(`round ${round}, disconnected ${picks}: ${(error as Error).message}`);
    }
    for (const k of picks) cluster.connect(k);
  }
  cluster.checkOneLeader();
});

scenario({
  name:
    "raft: an isolated server that rejoins does not depose a healthy leader (PreVote, thesis §9.6)",
  file: FILE,
}, (seed) => {
  const cluster = new SimCluster({ nodes: 3, seed });
  const leader = cluster.checkOneLeader();
  const term = cluster.state(leader).term;
  const isolated = (leader + 1) % 3;
  cluster.disconnect(isolated);
  // Ten seconds is five to ten election timeouts: without PreVote the isolated server would
  // have raised its term that many times, and its first message after rejoining would force
  // the leader to step down.
  const deposed = () => !cluster.state(leader).isLeader || cluster.state(leader).term !== term;
  assert.equal(cluster.runUntil(deposed, 10_000), false, "the leader lost office while isolated");
  assert.equal(cluster.state(isolated).term, term, "the isolated server raised its term");
  assert.equal(cluster.state(isolated).isLeader, false, "the isolated server claims leadership");

  cluster.connect(isolated);
  assert.equal(cluster.runUntil(deposed, 2 * ELECTION_TIMEOUT_MS), false, "rejoin deposed leader");
  assert.equal(cluster.checkOneLeader(), leader, "the leader changed after the rejoin");
  assert.equal(cluster.checkTerms(), term, "the term changed after the rejoin");
  // The rejoined server follows the leader again: an entry reaches all three.
  cluster.one("after-rejoin", 3, true);
});

scenario({
  name: "raft: a leader cut off from the majority steps down within two election timeouts " +
    "(CheckQuorum, thesis §6.2)",
  file: FILE,
}, (seed) => {
  const servers = 5;
  const cluster = new SimCluster({ nodes: servers, seed });
  const leader = cluster.checkOneLeader();
  const term = cluster.state(leader).term;
  const minority = [leader, (leader + 1) % servers];
  const majority = [2, 3, 4].map((offset) => (leader + offset) % servers);
  cluster.partition([minority, majority]);
  // The leader counts replies over whole election timeouts: replies of the last window before
  // the cut still count once, so it notices at the second boundary, up to one tick late.
  const stepped = cluster.runUntil(
    () => !cluster.state(leader).isLeader,
    2 * ELECTION_TIMEOUT_MS + TICK_MS,
  );
  assert.ok(stepped, `leader ${leader} still leads a minority after two election timeouts`);
  assert.deepEqual(leadersIn(cluster, minority), [], "the minority side has a leader");
  assert.equal(cluster.state(leader).term, term, "stepping down must not raise the term");

  // The majority side elects its own leader, in a later term.
  const leader2 = cluster.checkOneLeader();
  assert.ok(majority.includes(leader2), `leader ${leader2} is not on the majority side`);
  assert.ok(cluster.state(leader2).term > term, "the majority's leader must have a newer term");
  cluster.run(2 * ELECTION_TIMEOUT_MS);
  assert.deepEqual(leadersIn(cluster, minority), [], "the minority side elected a leader");

  cluster.connectAll();
  cluster.one("healed", servers, true);
});

scenario({
  name: "raft: leadership moves to the chosen server within an election timeout and keeps " +
    "every entry (thesis §3.10)",
  file: FILE,
  // Seed 778: the third server's vote elects the target before the old leader hears of it.
  seeds: [1, 2, 3, 778],
}, (seed) => {
  const servers = 3;
  const cluster = new SimCluster({ nodes: servers, seed });
  const leader = cluster.checkOneLeader();
  const committed = ["a", "b", "c"].map((value) => ({ value, index: cluster.one(value, 3, true) }));
  // Entries proposed at the moment of the transfer: the leader catches the target up first.
  const proposed = ["d", "e"].map((value) => ({
    value,
    index: cluster.propose(leader, value).index,
  }));
  const term = cluster.state(leader).term;
  const to = (leader + 1) % servers;

  const result = cluster.node(leader)!.transferLeadership(asNodeId(to + 1));
  assert.ok(result.ok, `transferLeadership was refused: ${JSON.stringify(result)}`);
  const moved = cluster.runUntil(() => cluster.state(to).isLeader, ELECTION_TIMEOUT_MS);
  assert.ok(moved, `server ${to} did not become leader within an election timeout`);
  // TimeoutNow makes the target campaign at once, skipping PreVote: exactly one new term.
  assert.equal(cluster.state(to).term, term + 1, "the transfer took more than one election");

  // Nothing is lost: every entry keeps its index and reaches every server.
  const next = cluster.one("after-transfer", servers, true);
  // The old leader steps down once a message of the new term reaches it, which may come just
  // after the target wins (the third server's vote can arrive first): check it only now.
  assert.equal(cluster.state(leader).isLeader, false, "the old leader did not step down");
  assert.equal(cluster.checkOneLeader(), to, "leadership moved on from the chosen server");
  for (const { value, index } of [...committed, ...proposed]) {
    assert.ok(index > 0 && index < next, `entry ${value} at ${index} is not before ${next}`);
    for (let k = 0; k < servers; k++) {
      assert.equal(appliedValues(cluster, k)[index - 1], value, `server ${k}, index ${index}`);
    }
  }
});

/** Commands in TestCount's agreement burst that are waited for (the lab's `iters`). */
const COUNT_ITERATIONS = 10;

scenario({
  name: "raft: an election, an agreement and an idle second cost few RPCs (lab TestCount, §5.3)",
  file: FILE,
}, (seed) => {
  const servers = 3;
  const cluster = new SimCluster({ nodes: servers, seed });
  cluster.checkOneLeader();
  const electionRpcs = cluster.network.totalRpcs();
  note(seed, `RPCs to elect the first leader: ${electionRpcs}`);
  assert.ok(electionRpcs >= 1 && electionRpcs <= 30, `${electionRpcs} RPCs to elect a leader`);

  let burstEnd = -1;
  for (let attempt = 0; attempt < 5 && burstEnd < 0; attempt++) {
    if (attempt > 0) cluster.run(3000); // Give the cluster time to settle, as the lab does.
    burstEnd = countAgreementBurst(cluster, seed, servers);
  }
  assert.ok(burstEnd >= 0, "term changed too often");

  cluster.run(ELECTION_TIMEOUT_MS);
  const idleRpcs = cluster.network.totalRpcs() - burstEnd;
  note(seed, `RPCs in one idle second: ${idleRpcs}`);
  assert.ok(idleRpcs <= 3 * 20, `${idleRpcs} RPCs in one idle second (at most 60)`);
});

/**
 * One try of TestCount's burst: Start(1) and 11 more back to back on the leader, then wait
 * for 10 of them. Returns the RPC total at the end, or -1 when the term changed (retry).
 */
function countAgreementBurst(cluster: SimCluster, seed: number, servers: number): number {
  const leader = cluster.checkOneLeader();
  const before = cluster.network.totalRpcs();
  const first = cluster.propose(leader, "1");
  if (!first.isLeader) return -1;
  const term = first.term;
  const commands: string[] = [];
  for (let i = 1; i < COUNT_ITERATIONS + 2; i++) {
    const command = `count-${i}-${cluster.random.int(1_000_000)}`;
    commands.push(command);
    const result = cluster.propose(leader, command);
    if (!result.isLeader || result.term !== term) return -1;
    assert.equal(result.index, first.index + i, "Start() did not append at the next index");
  }
  for (let i = 1; i <= COUNT_ITERATIONS; i++) {
    const value = cluster.wait(first.index + i, servers, term);
    if (value === -1) return -1;
    assert.equal(value, commands[i - 1], `wrong command committed at ${first.index + i}`);
  }
  for (let k = 0; k < servers; k++) if (cluster.state(k).term !== term) return -1;
  const after = cluster.network.totalRpcs();
  const bound = (COUNT_ITERATIONS + 1 + 3) * 3;
  note(seed, `RPCs for the agreement burst: ${after - before} (bound ${bound})`);
  assert.ok(after - before <= bound, `${after - before} RPCs for ${COUNT_ITERATIONS} entries`);
  return after;
}
