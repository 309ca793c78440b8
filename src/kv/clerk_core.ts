/**
 * The decisions of a clerk, pure: which server to ask, when to back off, when an answer is
 * final. The async {@link Clerk} and the simulator's clerk both drive this, so the retry
 * logic that tests prove is the logic users run.
 *
 * Leader finding (ARCHITECTURE.md): follow the leader hint, otherwise try servers round
 * robin; after a whole round without an answer, back off (capped exponential with jitter).
 */

import { assert } from "../util/assert.ts";
import type { Random } from "../util/prng.ts";
/**
 * The shape of any replicated service's answer that the retry logic understands: success,
 * or an error code, with a leader hint for `notLeader`.
 */
export type ServiceReply =
  | { readonly ok: true }
  | {
    readonly ok: false;
    readonly error: { readonly code: string; readonly leaderHint?: number | null };
  };

/** Error codes that mean "ask again later, here": the server is overloaded, not wrong. */
const RETRY_LATER: ReadonlySet<string> = new Set(["busy", "tooManySessions"]);

/**
 * Error codes that mean "this server is behind; another may not be": a group replica that has
 * not applied the config a shard pull needs answers notReady from its own applied state.
 */
const TRY_ANOTHER: ReadonlySet<string> = new Set(["notReady"]);

/** What the shell should do next. */
export type ClerkAction<Reply extends ServiceReply = ServiceReply> =
  | { readonly type: "send"; readonly server: number }
  | { readonly type: "sleep"; readonly ms: number }
  | { readonly type: "done"; readonly response: Reply };

/** Retry settings. */
export interface ClerkSettings {
  readonly servers: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  readonly random: Random;
}

/** Defaults: fast first retries (a leader change takes ~1 s), capped at one second. */
export const CLERK_BACKOFF_INITIAL_MS = 20;
export const CLERK_BACKOFF_MAX_MS = 1000;

/** The retry state of one operation. */
export class OperationAttempt<Reply extends ServiceReply = ServiceReply> {
  readonly #settings: ClerkSettings;
  #server: number;
  /** Servers asked since the last answer that named a leader or since the last back-off. */
  #failedInRound = 0;
  #backoffMs: number;

  /** Starts with `leaderGuess`, the server that answered the previous operation. */
  constructor(settings: ClerkSettings, leaderGuess: number) {
    assert(settings.servers >= 1, "A clerk needs at least one server");
    this.#settings = settings;
    this.#server = ((leaderGuess % settings.servers) + settings.servers) % settings.servers;
    this.#backoffMs = settings.backoffInitialMs;
  }

  /** The server asked last (the leader guess for the next operation once this one is done). */
  get server(): number {
    return this.#server;
  }

  first(): ClerkAction<Reply> {
    return { type: "send", server: this.#server };
  }

  /** The server answered. */
  onReply(response: Reply): ClerkAction<Reply> {
    if (response.ok) return { type: "done", response };
    const error = response.error;
    if (error.code === "notLeader") {
      const hint = error.leaderHint ?? null;
      // Node ids are 1-based positions among the group's servers.
      if (
        hint !== null && hint >= 1 && hint <= this.#settings.servers && hint - 1 !== this.#server
      ) {
        this.#server = hint - 1;
        return { type: "send", server: this.#server };
      }
      return this.#nextServer();
    }
    if (RETRY_LATER.has(error.code)) return this.#backoff();
    if (TRY_ANOTHER.has(error.code)) return this.#nextServer();
    return { type: "done", response }; // Final: retrying cannot change the answer.
  }

  /** The request or its answer was lost (timeout, connection refused, reset). */
  onFailure(): ClerkAction<Reply> {
    return this.#nextServer();
  }

  /** The back-off sleep ended: ask again. */
  afterSleep(): ClerkAction<Reply> {
    return { type: "send", server: this.#server };
  }

  #nextServer(): ClerkAction<Reply> {
    this.#server = (this.#server + 1) % this.#settings.servers;
    if (++this.#failedInRound >= this.#settings.servers) return this.#backoff();
    return { type: "send", server: this.#server };
  }

  #backoff(): ClerkAction<Reply> {
    this.#failedInRound = 0;
    const jittered = this.#backoffMs / 2 +
      this.#settings.random.int(Math.max(1, Math.floor(this.#backoffMs / 2)) + 1);
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#settings.backoffMaxMs);
    return { type: "sleep", ms: jittered };
  }
}
