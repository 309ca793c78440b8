/**
 * A small, fast, seeded pseudo-random generator (xoshiro128**, with splitmix32 seeding).
 * The Raft core takes its election jitter from one of these so that the simulator can
 * replay a run exactly from its seed; production seeds it from the node id and clock.
 */

import { assert } from "./assert.ts";

/** The randomness a pure core may use: integers in [0, bound). */
export interface Random {
  /** A uniformly distributed integer in [0, bound); `bound` is a positive safe integer ≤ 2^32. */
  int(bound: number): number;
}

/** Seeded xoshiro128** generator. The same seed gives the same sequence on every machine. */
export class Prng implements Random {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), `PRNG seed must be a safe integer, got ${seed}`);
    // splitmix32 spreads any seed (including 0) over the four words of state.
    let x = (seed ^ Math.floor(seed / 0x1_0000_0000)) >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
    assert((this.#s0 | this.#s1 | this.#s2 | this.#s3) !== 0, "PRNG state must not be all zero");
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  int(bound: number): number {
    assert(
      Number.isSafeInteger(bound) && bound > 0 && bound <= 0x1_0000_0000,
      `PRNG bound must be in [1, 2^32], got ${bound}`,
    );
    // Multiply-shift keeps the bias below 2^-32 per draw, which is fine for jitter and tests.
    return Math.floor((this.nextUint32() / 0x1_0000_0000) * bound);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, "Cannot pick from an empty array");
    return items[this.int(items.length)] as T;
  }

  /** A new generator whose sequence depends only on this one's next draw (for sub-streams). */
  fork(): Prng {
    return new Prng(this.nextUint32() * 0x200000 + (this.nextUint32() & 0x1fffff));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
