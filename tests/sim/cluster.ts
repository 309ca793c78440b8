/**
 * A simulated Raft cluster: N replicas, each the production driver ({@link RaftNode}) over
 * memory storage with a simulated fsync, connected by {@link SimNetwork}, on one virtual clock.
 * The helpers mirror the classic lab harness (checkOneLeader, one, nCommitted, wait, crash,
 * restart, disconnect) so that scenario tests read like the lab's, with the same thresholds.
 * Every event is followed by the {@link SafetyChecker}.
 */

import { assert } from "../../src/util/assert.ts";
import { Prng } from "../../src/util/prng.ts";
import { RaftNode, type ReadOutcome } from "../../src/raft/node.ts";
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import { RAFT_DEFAULTS, type RaftConfig } from "../../src/raft/core/raft_config.ts";
import { asIndex, asNodeId, type NodeId, type PersistedState } from "../../src/raft/core/types.ts";
import type { Message } from "../../src/raft/core/messages.ts";
import { Scheduler } from "./scheduler.ts";
import { SimNetwork } from "./network.ts";
import { SafetyChecker } from "./checker.ts";
import { encodeCommand, RecordingStateMachine } from "./state_machine.ts";
import { KvServer } from "../../src/kv/kv_server.ts";
import type { ServiceRaftOptions } from "../../src/server/replica_process.ts";

/** Settings of a simulated cluster. */
export interface SimOptions {
  readonly nodes: number;
  readonly seed: number;
  /** Virtual milliseconds per tick (the production default is 50). */
  readonly tickMs?: number;
  /** Take a snapshot every this many applied entries (null: never), as the lab's snapshot tests do. */
  readonly snapshotEvery?: number | null;
  /** Overrides of the Raft settings. */
  readonly raft?: Partial<Omit<RaftConfig, "id" | "voters" | "random">>;
  /** Most virtual milliseconds an fsync takes. */
  readonly fsyncMaxMs?: number;
  /** Run the KV service on every replica instead of the recording state machine. */
  readonly kv?: { readonly shardCount: number; readonly snapshotThresholdBytes: number };
  /**
   * Run this service on every replica instead (the shard master, a shard-aware group): called
   * on every start of replica k with the Raft pieces the service must use.
   */
  readonly service?: (k: number, raft: ServiceRaftOptions) => SimService;
  /**
   * The virtual clock to share with other clusters (a sharded world runs several Raft groups on
   * one clock); a fresh one by default.
   */
  readonly scheduler?: Scheduler;
}

/** A replicated service the simulator hosts (ticks, stops, and reports what it applied). */
export interface SimService {
  readonly node: RaftNode;
  readonly appliedIndex: number;
  tick(): void;
  stop(): void;
}

/** What a replica looks like while it runs. */
interface Replica {
  readonly node: RaftNode;
  /** The recording state machine (Raft-level simulations), or null in KV mode. */
  readonly stateMachine: RecordingStateMachine | null;
  /** The KV server (KV mode), or null. */
  readonly kv: KvServer | null;
  /** The hosted service (service mode), or null. */
  readonly service: SimService | null;
  /** Bumped on every crash, so timers of an old incarnation do nothing. */
  readonly generation: number;
}

/** The lab's "RaftElectionTimeout": the tester allows an election to take about a second. */
export const ELECTION_TIMEOUT_MS = 1000;

/** The last index a replica's state machine applied. */
function appliedOf(replica: Replica): number {
  if (replica.kv !== null) return replica.kv.appliedIndex;
  if (replica.service !== null) return replica.service.appliedIndex;
  return replica.stateMachine!.lastApplied;
}

/** A simulated cluster of `nodes` replicas, indexed 0..n-1 (node id = index + 1). */
export class SimCluster {
  readonly n: number;
  readonly seed: number;
  readonly scheduler: Scheduler;
  readonly random: Prng;
  readonly network: SimNetwork;
  readonly checker = new SafetyChecker();
  readonly storages: MemoryStorage[] = [];
  readonly replicas: (Replica | null)[] = [];
  readonly connected: boolean[] = [];
  readonly #options: SimOptions;
  readonly #tickMs: number;
  readonly #ids: NodeId[];
  #generation = 0;
  /** Called when a ReadIndex request on replica k may be served, or failed. */
  onRead: (k: number, context: number, outcome: ReadOutcome) => void = () => {};
  /** Indexes of nodes touched by the current event, for the checker. */
  #touched = new Set<number>();

  constructor(options: SimOptions) {
    assert(options.nodes >= 1 && options.nodes <= 9, "1..9 nodes");
    this.n = options.nodes;
    this.seed = options.seed;
    this.#options = options;
    this.#tickMs = options.tickMs ?? 50;
    this.scheduler = options.scheduler ?? new Scheduler();
    this.random = new Prng(options.seed);
    this.#ids = Array.from({ length: this.n }, (_, k) => asNodeId(k + 1));
    this.network = new SimNetwork(
      this.n,
      this.scheduler,
      this.random.fork(),
      (to, message) => this.#deliver(to, message),
    );
    // On a shared clock every cluster checks its own replicas after each event.
    const before = this.scheduler.afterEvent;
    this.scheduler.afterEvent = options.scheduler === undefined ? () => this.#afterEvent() : () => {
      before();
      this.#afterEvent();
    };
    this.checker.quorum = Math.floor(this.n / 2) + 1;
    this.checker.durableCopies = (index, term) =>
      this.storages.filter((storage) => {
        const durable = storage.durableTerm(index);
        return durable === term || durable === -1;
      }).length;
    for (let k = 0; k < this.n; k++) {
      this.storages.push(this.#newStorage(k, undefined));
      this.replicas.push(null);
      this.connected.push(true);
    }
    for (let k = 0; k < this.n; k++) this.start(k);
  }

  // ------------------------------------------------------------ lifecycle and faults

  /** Starts replica k from what its storage holds. */
  start(k: number): void {
    assert(this.replicas[k] === null, () => `node ${k} is already running`);
    const generation = ++this.#generation;
    const config: RaftConfig = {
      ...RAFT_DEFAULTS,
      ...this.#options.raft,
      id: this.#ids[k]!,
      voters: this.#ids,
      random: this.random.fork(),
    };
    const storage = this.storages[k]!;
    const transport = { send: (messages: readonly Message[]) => this.network.send(messages) };
    const kvOptions = this.#options.kv;
    let replica: Replica;
    if (this.#options.service !== undefined) {
      const service = this.#options.service(k, { config, storage, transport });
      replica = { node: service.node, stateMachine: null, kv: null, service, generation };
    } else if (kvOptions === undefined) {
      const stateMachine = new RecordingStateMachine(k, this.checker);
      const node = new RaftNode({
        config,
        storage,
        transport,
        stateMachine,
        onRead: (context, outcome) => this.onRead(k, context, outcome),
      });
      replica = { node, stateMachine, kv: null, service: null, generation };
    } else {
      const kv = new KvServer({
        raft: { config, storage, transport },
        shardCount: kvOptions.shardCount,
        snapshotThresholdBytes: kvOptions.snapshotThresholdBytes,
        now: () => Math.floor(this.now),
      });
      replica = { node: kv.node, stateMachine: null, kv, service: null, generation };
    }
    this.replicas[k] = replica;
    this.checker.onRestart(k);
    // Each replica's clock starts at a random phase, as real processes do.
    const phase = this.random.float() * this.#tickMs;
    const tick = () => {
      if (this.replicas[k]?.generation !== generation) return;
      this.#touched.add(k);
      if (replica.kv !== null) replica.kv.tick();
      else if (replica.service !== null) replica.service.tick();
      else replica.node.tick();
      this.#maybeSnapshot(k);
      this.scheduler.at(this.#tickMs, tick);
    };
    this.scheduler.at(phase, tick);
  }

  /** Crashes replica k: it stops, and its storage keeps only what was durable. */
  crash(k: number): void {
    const replica = this.replicas[k];
    if (replica === null || replica === undefined) return;
    if (replica.kv !== null) replica.kv.stop();
    else if (replica.service !== null) replica.service.stop();
    else replica.node.stop();
    this.replicas[k] = null;
    const durable = this.storages[k]!;
    durable.crash();
    // A fresh storage object: a zombie write of the old incarnation cannot reach the new one.
    this.storages[k] = this.#newStorage(k, durable.load());
  }

  /** Crash-and-restart, as the lab's "restart" (the node keeps its connectivity). */
  restart(k: number): void {
    this.crash(k);
    this.start(k);
  }

  /** Cuts every link to and from k. */
  disconnect(k: number): void {
    this.connected[k] = false;
    for (let other = 0; other < this.n; other++) {
      this.network.setLink(k, other, false);
      this.network.setLink(other, k, false);
    }
  }

  /** Restores links between k and every other connected node. */
  connect(k: number): void {
    this.connected[k] = true;
    for (let other = 0; other < this.n; other++) {
      if (other === k || !this.connected[other]) continue;
      this.network.setLink(k, other, true);
      this.network.setLink(other, k, true);
    }
  }

  /** Splits the nodes into groups that talk only among themselves. */
  partition(groups: readonly (readonly number[])[]): void {
    const side = new Map<number, number>();
    groups.forEach((group, g) => group.forEach((k) => side.set(k, g)));
    for (let a = 0; a < this.n; a++) {
      this.connected[a] = true;
      for (let b = 0; b < this.n; b++) this.network.setLink(a, b, side.get(a) === side.get(b));
    }
  }

  /** Heals every link. */
  connectAll(): void {
    for (let k = 0; k < this.n; k++) this.connected[k] = true;
    for (let a = 0; a < this.n; a++) {
      for (let b = 0; b < this.n; b++) this.network.setLink(a, b, true);
    }
  }

  setReliable(reliable: boolean): void {
    this.network.faults.unreliable = !reliable;
  }

  setLongReordering(on: boolean): void {
    this.network.faults.longReordering = on;
  }

  // ------------------------------------------------------------ time

  /** Advances virtual time by `ms`. */
  run(ms: number): void {
    this.scheduler.runFor(ms);
  }

  /** Runs until `predicate` holds, at most `ms`; returns whether it held. */
  runUntil(predicate: () => boolean, ms: number): boolean {
    return this.scheduler.runUntilTrue(predicate, ms);
  }

  get now(): number {
    return this.scheduler.now;
  }

  // ------------------------------------------------------------ lab helpers

  /** The running replica k's node, or null. */
  node(k: number): RaftNode | null {
    return this.replicas[k]?.node ?? null;
  }

  /** The lab's Start(): proposes on node k. */
  propose(k: number, value: string): { index: number; term: number; isLeader: boolean } {
    const node = this.node(k);
    if (node === null) return { index: -1, term: -1, isLeader: false };
    this.#touched.add(k);
    const result = node.propose(encodeCommand(value));
    this.#afterEvent();
    const status = node.status();
    return result.ok
      ? { index: result.index, term: result.term, isLeader: true }
      : { index: -1, term: status.term, isLeader: false };
  }

  /** Starts a linearizable read on node k; true when it was accepted (k leads). */
  readIndex(k: number, context: number): boolean {
    const node = this.node(k);
    if (node === null) return false;
    this.#touched.add(k);
    const result = node.readIndex(context);
    this.#afterEvent();
    return result.ok;
  }

  /** The highest index any running replica has applied: a client may have been answered for it. */
  maxApplied(): number {
    let max = 0;
    for (const replica of this.replicas) {
      if (replica !== null && replica !== undefined) {
        max = Math.max(max, appliedOf(replica));
      }
    }
    return max;
  }

  /** (term, isLeader) of node k, as the lab's GetState(). */
  state(k: number): { term: number; isLeader: boolean } {
    const node = this.node(k);
    if (node === null) return { term: -1, isLeader: false };
    const status = node.status();
    return { term: status.term, isLeader: status.role === "leader" };
  }

  /** Leaders among the connected, running nodes, by term. */
  leaders(): Map<number, number[]> {
    const byTerm = new Map<number, number[]>();
    for (let k = 0; k < this.n; k++) {
      if (!this.connected[k]) continue;
      const { term, isLeader } = this.state(k);
      if (isLeader) byTerm.set(term, [...(byTerm.get(term) ?? []), k]);
    }
    return byTerm;
  }

  /** The lab's checkOneLeader: up to 10 rounds of ~500 ms; fails on two leaders in one term. */
  checkOneLeader(): number {
    for (let round = 0; round < 10; round++) {
      this.run(450 + this.random.int(100));
      const byTerm = this.leaders();
      let best = -1;
      let bestTerm = -1;
      for (const [term, nodes] of byTerm) {
        if (nodes.length > 1) throw new Error(`term ${term} has ${nodes.length} (>1) leaders`);
        if (term > bestTerm) {
          bestTerm = term;
          best = nodes[0]!;
        }
      }
      if (best >= 0) return best;
    }
    throw new Error("expected one leader, got none");
  }

  /** The lab's checkNoLeader: no connected node believes it leads. */
  checkNoLeader(): void {
    for (let k = 0; k < this.n; k++) {
      if (this.connected[k] && this.state(k).isLeader) {
        throw new Error(`expected no leader among connected servers, but ${k} claims to be leader`);
      }
    }
  }

  /** The lab's checkTerms: every connected node has the same term. */
  checkTerms(): number {
    let term = -1;
    for (let k = 0; k < this.n; k++) {
      if (!this.connected[k] || this.node(k) === null) continue;
      const t = this.state(k).term;
      if (term === -1) term = t;
      else if (t !== term) throw new Error(`servers disagree on term: ${term} and ${t}`);
    }
    return term;
  }

  /** The lab's nCommitted: how many running nodes applied `index`, and the value. */
  nCommitted(index: number): { count: number; value: string | null | undefined } {
    let count = 0;
    let value: string | null | undefined;
    for (let k = 0; k < this.n; k++) {
      const replica = this.replicas[k];
      if (replica === null || replica === undefined) continue;
      if (appliedOf(replica) < index) continue;
      const v = replica.stateMachine?.values[index - 1];
      if (count > 0 && v !== value) {
        throw new Error(`committed values do not match: index ${index}, ${value}, ${v}`);
      }
      value = v;
      count++;
    }
    return { count, value };
  }

  /**
   * The lab's one(): offers `value` to connected nodes in turn for up to 10 s until one accepts,
   * then waits up to 2 s for `expected` nodes to apply it at that index. Returns the index.
   */
  one(value: string, expected: number, retry: boolean): number {
    const deadline = this.now + 10_000;
    let starter = 0;
    while (this.now < deadline) {
      let index = -1;
      for (let attempt = 0; attempt < this.n; attempt++) {
        starter = (starter + 1) % this.n;
        if (!this.connected[starter] || this.node(starter) === null) continue;
        const result = this.propose(starter, value);
        if (result.isLeader) {
          index = result.index;
          break;
        }
      }
      if (index !== -1) {
        const applied = this.runUntil(() => {
          const { count, value: v } = this.nCommitted(index);
          return count >= expected && v === value;
        }, 2000);
        if (applied) return index;
        if (!retry) throw new Error(`one(${value}) failed to reach agreement`);
      } else {
        this.run(50);
      }
    }
    throw new Error(`one(${value}) failed to reach agreement in 10 s`);
  }

  /** The lab's wait(): waits for `n` nodes to commit `index`, giving up (-1) if a term passes `startTerm`. */
  wait(index: number, n: number, startTerm: number): string | null | undefined | -1 {
    let pause = 10;
    for (let iteration = 0; iteration < 30; iteration++) {
      if (this.nCommitted(index).count >= n) break;
      this.run(pause);
      if (pause < 1000) pause *= 2;
      if (startTerm > -1) {
        for (let k = 0; k < this.n; k++) if (this.state(k).term > startTerm) return -1;
      }
    }
    const { count, value } = this.nCommitted(index);
    if (count < n) throw new Error(`only ${count} decided for index ${index}; wanted ${n}`);
    return value;
  }

  /** Most Raft-state bytes any replica persists (the lab's RaftStateSize). */
  maxRaftStateBytes(): number {
    return Math.max(...this.storages.map((storage) => storage.raftStateBytes()));
  }

  /** Heals everything and restarts crashed nodes: the liveness phase starts from here. */
  healAll(): void {
    this.setReliable(true);
    this.setLongReordering(false);
    this.connectAll();
    for (let k = 0; k < this.n; k++) if (this.replicas[k] === null) this.start(k);
  }

  // ------------------------------------------------------------ internals

  #newStorage(k: number, state: PersistedState | undefined): MemoryStorage {
    const maxMs = this.#options.fsyncMaxMs ?? 2;
    const schedule = (callback: () => void) =>
      this.scheduler.at(this.random.float() * maxMs, () => {
        this.#touched.add(k);
        callback();
      });
    return new MemoryStorage(state, schedule);
  }

  #deliver(to: number, message: Message): void {
    const replica = this.replicas[to];
    if (replica === null || replica === undefined) return;
    this.#touched.add(to);
    replica.node.receive(message);
    this.#maybeSnapshot(to);
  }

  #maybeSnapshot(k: number): void {
    const every = this.#options.snapshotEvery ?? null;
    const replica = this.replicas[k];
    if (every === null || replica === null || replica === undefined) return;
    const applied = replica.node.core.applied;
    if (
      applied - replica.node.core.log.snapshotIndex >= every &&
      appliedOf(replica) === applied
    ) {
      replica.node.compact(asIndex(applied), replica.stateMachine!.snapshot());
    }
  }

  #afterEvent(): void {
    if (this.#touched.size === 0) {
      // An event outside this cluster's own timers (a client's request, or another cluster's
      // event on a shared clock). Alone on its clock, check every running replica; sharing
      // it, skip: replicas are checked at their next own event (a tick at the latest).
      if (this.#options.scheduler !== undefined) return;
      for (let k = 0; k < this.n; k++) this.#checkReplica(k);
      return;
    }
    for (const k of this.#touched) this.#checkReplica(k);
    this.#touched.clear();
  }

  #checkReplica(k: number): void {
    const replica = this.replicas[k];
    if (replica === null || replica === undefined) return;
    this.checker.checkNode(k, replica.node.core);
  }
}
