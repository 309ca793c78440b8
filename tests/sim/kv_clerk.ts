/**
 * A clerk inside the simulator: the production retry logic ({@link OperationAttempt}) driven
 * by virtual-time events, talking to the replicas' KV servers over a client network with the
 * lab's semantics (kvraft harness): requests and replies each lost 10 % of the time on an
 * unreliable network, 0–26 ms delays, a disconnected or crashed server failing the call
 * within 0–100 ms, and a per-clerk set of servers it can reach (for partition tests).
 * Every operation is recorded for the linearizability checker.
 */

import { type ClerkAction, OperationAttempt, type ServiceReply } from "../../src/kv/clerk_core.ts";
import type { Scheduler } from "./scheduler.ts";
import type { KvRequest, KvResponse } from "../../src/kv/protocol.ts";
import type { Prng } from "../../src/util/prng.ts";
import type { HistoryRecorder, Invocation } from "../linearizability/mod.ts";
import type { SimCluster } from "./cluster.ts";

/** The outcome of one operation: the value for a get, "" for a write; null if refused for good. */
export type ClerkDone = (output: string | null) => void;

/** A simulated client with one operation at a time, as the lab's clerks. */
export class SimClerk {
  readonly clientId: number;
  /** Servers this clerk can reach (all by default). */
  reachable: Set<number>;
  /** Operations completed. */
  completed = 0;
  readonly #cluster: SimCluster;
  readonly #recorder: HistoryRecorder;
  readonly #random: Prng;
  readonly #attemptTimeoutMs: number;
  #seq = 0;
  #leaderGuess = 0;
  #busy = false;

  constructor(
    cluster: SimCluster,
    clientId: number,
    recorder: HistoryRecorder,
    random: Prng,
    attemptTimeoutMs = 500,
  ) {
    this.#cluster = cluster;
    this.clientId = clientId;
    this.#recorder = recorder;
    this.#random = random;
    this.#attemptTimeoutMs = attemptTimeoutMs;
    this.reachable = new Set(Array.from({ length: cluster.n }, (_, k) => k));
    this.#leaderGuess = random.int(cluster.n);
  }

  get busy(): boolean {
    return this.#busy;
  }

  /** Runs one operation; `done` is called when it completes (never, if it cannot). */
  run(invocation: Invocation, done: ClerkDone): void {
    if (this.#busy) throw new Error(`clerk ${this.clientId} already has an operation in flight`);
    this.#busy = true;
    const request = kvRequestOf(invocation, this.clientId, () => ++this.#seq);
    const handle = this.#recorder.begin(this.clientId, invocation);
    const attempt = new OperationAttempt<KvResponse>({
      servers: this.#cluster.n,
      backoffInitialMs: 20,
      backoffMaxMs: 200,
      random: this.#random,
    }, this.#leaderGuess);
    driveAttempt(
      this.#cluster.scheduler,
      attempt,
      this.#attemptTimeoutMs,
      (server, onReply, onFailure) => this.#send(server, request, onReply, onFailure),
      (response) => {
        this.#leaderGuess = attempt.server;
        this.#busy = false;
        if (response.ok) {
          this.completed++;
          const value = invocation.kind === "get" ? response.value ?? "" : "";
          if (invocation.kind === "get") this.#recorder.end(handle, value);
          else this.#recorder.end(handle);
          done(value);
        } else {
          this.#recorder.timeout(handle); // Refused for good: treat its effect as unknown.
          done(null);
        }
      },
    );
  }

  #send(
    server: number,
    request: KvRequest,
    onReply: (response: KvResponse) => void,
    onFailure: () => void,
  ): void {
    const cluster = this.#cluster;
    const scheduler = cluster.scheduler;
    const unreliable = cluster.network.faults.unreliable;
    const fail = () => scheduler.at(this.#random.int(100), onFailure);
    if (!this.reachable.has(server)) return fail();
    if (unreliable && this.#random.chance(0.1)) return; // Request lost: the attempt times out.
    scheduler.at(unreliable ? this.#random.int(27) : this.#random.float(), () => {
      const kv = cluster.replicas[server]?.kv ?? null;
      if (kv === null || !this.reachable.has(server)) return fail();
      const generation = cluster.replicas[server]!.generation;
      kv.submit(request, (response) => {
        // The server may have crashed while the request waited: a dead server sends nothing.
        if (cluster.replicas[server]?.generation !== generation) return;
        if (!this.reachable.has(server)) return;
        if (unreliable && this.#random.chance(0.1)) return; // Reply lost.
        scheduler.at(
          unreliable ? this.#random.int(27) : this.#random.float(),
          () => onReply(response),
        );
      });
    });
  }
}

/** The request of `invocation` for client `clientId`; writes take the next sequence number. */
export function kvRequestOf(
  invocation: Invocation,
  clientId: number,
  nextSeq: () => number,
): KvRequest {
  switch (invocation.kind) {
    case "get":
      return { type: "get", key: invocation.key };
    case "put":
    case "append":
      return {
        type: invocation.kind,
        key: invocation.key,
        value: invocation.value,
        clientId,
        seq: nextSeq(),
      };
    case "delete":
      return { type: "delete", key: invocation.key, clientId, seq: nextSeq() };
  }
}

/**
 * Drives one operation's retry logic ({@link OperationAttempt}) on the virtual clock: each
 * attempt goes out through `send` and fails after `attemptTimeoutMs` without an answer;
 * back-offs sleep; a late answer to an abandoned attempt is ignored. `done` gets the final
 * answer, unless `stopped()` turned true first (the caller gave up).
 */
export function driveAttempt<Reply extends ServiceReply>(
  scheduler: Scheduler,
  attempt: OperationAttempt<Reply>,
  attemptTimeoutMs: number,
  send: (server: number, onReply: (response: Reply) => void, onFailure: () => void) => void,
  done: (response: Reply) => void,
  stopped: () => boolean = () => false,
): void {
  let token = 0;
  const step = (action: ClerkAction<Reply>): void => {
    if (stopped()) return;
    switch (action.type) {
      case "done":
        return done(action.response);
      case "sleep":
        scheduler.at(action.ms, () => step(attempt.afterSleep()));
        return;
      case "send": {
        const mine = ++token;
        const settle = (next: () => ClerkAction<Reply>) => {
          if (token !== mine || stopped()) return;
          token++;
          step(next());
        };
        send(
          action.server,
          (response) => settle(() => attempt.onReply(response)),
          () => settle(() => attempt.onFailure()),
        );
        scheduler.at(attemptTimeoutMs, () => settle(() => attempt.onFailure()));
        return;
      }
    }
  };
  step(attempt.first());
}
