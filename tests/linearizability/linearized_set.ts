/**
 * Memo of the search (Lowe, "Testing for linearizability", 2017, after Wing & Gong): a
 * configuration is the set of operations linearized so far plus the register state; two paths
 * that reach the same configuration have the same future, so the second is cut.
 *
 * The set is a Uint32Array bitset with a Zobrist hash (one random 32-bit word per operation,
 * XORed in and out), so adding or removing an operation updates the hash in O(1); equal hashes
 * are confirmed by comparing words. The search numbers known-outcome operations by call time
 * and places unknown-outcome ones after them, in their own words. Then every linearized set is
 * "all known operations below some word, a few words of concurrent ones, nothing above, and the
 * unknown words"; the memo stores only the words between the first word that is not full and
 * the last known word that is not empty, plus the unknown words. A key with 20,000 operations
 * and 15 clients thus stores a few words per configuration instead of 625.
 */

import { assert } from "../../src/util/assert.ts";
import { Prng } from "../../src/util/prng.ts";
import { VISITED_WORDS_MAX } from "./limits.ts";

/** Fixed so that a check is deterministic: the same history explores in the same order. */
const ZOBRIST_SEED = 0x5eed_11;

/** The operations linearized so far, as a bitset with an incremental hash. */
export class LinearizedSet {
  /** Bit b of word b >> 5 is set when the operation at bit position b is linearized. */
  readonly bits: Uint32Array;
  /** Words [0, knownWords) hold known-outcome operations; the rest unknown-outcome ones. */
  readonly knownWords: number;
  readonly #knownCount: number;
  readonly #keys: Int32Array;
  // Invariant: every known word below #low is full, and #low < knownWords => bits[#low] is
  // not full; every known word above #high is empty, and #high >= 0 => bits[#high] is not.
  #low = 0;
  #high = -1;
  #hash = 0;
  #size = 0;

  /** Operations 0..knownCount-1 have a known outcome; the next unknownCount ones do not. */
  constructor(knownCount: number, unknownCount: number) {
    assert(knownCount >= 0 && unknownCount >= 0, "LinearizedSet: negative size");
    this.#knownCount = knownCount;
    this.knownWords = Math.ceil(knownCount / 32);
    this.bits = new Uint32Array(this.knownWords + Math.ceil(unknownCount / 32));
    this.#keys = new Int32Array(knownCount + unknownCount);
    const random = new Prng(ZOBRIST_SEED);
    for (let index = 0; index < this.#keys.length; index++) this.#keys[index] = random.nextUint32();
  }

  /** Hash of the set; equal sets have equal hashes. */
  get hash(): number {
    return this.#hash;
  }

  /** Number of operations in the set. */
  get size(): number {
    return this.#size;
  }

  /** First known word that is not full (knownWords if none). */
  get low(): number {
    return this.#low;
  }

  /** Last known word that is not empty (-1 if none). */
  get high(): number {
    return this.#high;
  }

  /** Adds operation `index`, which must not be in the set. */
  add(index: number): void {
    const position = this.#position(index);
    const word = position >>> 5;
    const mask = 1 << (position & 31);
    assert((this.bits[word]! & mask) === 0, `LinearizedSet: ${index} already added`);
    this.bits[word]! |= mask;
    this.#hash ^= this.#keys[index]!;
    this.#size++;
    if (word >= this.knownWords) return;
    if (word > this.#high) this.#high = word;
    while (this.#low < this.knownWords && this.bits[this.#low] === 0xffff_ffff) this.#low++;
  }

  /** Removes operation `index`, which must be in the set. */
  remove(index: number): void {
    const position = this.#position(index);
    const word = position >>> 5;
    const mask = 1 << (position & 31);
    assert((this.bits[word]! & mask) !== 0, `LinearizedSet: ${index} not in the set`);
    this.bits[word]! &= ~mask;
    this.#hash ^= this.#keys[index]!;
    this.#size--;
    if (word >= this.knownWords) return;
    if (word < this.#low) this.#low = word;
    while (this.#high >= 0 && this.bits[this.#high] === 0) this.#high--;
  }

  #position(index: number): number {
    assert(index >= 0 && index < this.#keys.length, `LinearizedSet: no operation ${index}`);
    return index < this.#knownCount ? index : this.knownWords * 32 + index - this.#knownCount;
  }
}

/** What {@link VisitedConfigurations.add} found. */
export type VisitOutcome = "added" | "present" | "full";

/**
 * Words of memory one stored configuration costs besides its bitset words: five integers in
 * the entry arrays and about four for its slot in the bucket Map.
 */
const ENTRY_OVERHEAD_WORDS = 9;

// V8 refuses a Map past 2^24 entries; the word limit must stop the memo before that.
assert(VISITED_WORDS_MAX / ENTRY_OVERHEAD_WORDS < 1 << 24, "VISITED_WORDS_MAX exceeds a Map");

/**
 * Every configuration the search has entered. `state` is any non-negative 31-bit integer naming
 * the rest of the configuration (the search packs a register state id and a flag into it).
 * Entries live in flat typed arrays, chained per hash bucket, with their words in one pool:
 * millions of small objects would cost more memory than the words themselves.
 *
 * Invariant: the words of entry i are `#pool[#offset[i], #offset[i + 1])`, and
 * `#pool used + entries * ENTRY_OVERHEAD_WORDS <= VISITED_WORDS_MAX`.
 */
export class VisitedConfigurations {
  readonly #heads = new Map<number, number>();
  #chain = new Int32Array(1024);
  #state = new Int32Array(1024);
  #low = new Int32Array(1024);
  #high = new Int32Array(1024);
  #offset = new Int32Array(1025);
  #pool = new Uint32Array(4096);
  #size = 0;

  /** Number of configurations stored. */
  get size(): number {
    return this.#size;
  }

  /** Stores (set, state) unless it is present; "full" once VISITED_WORDS_MAX would be passed. */
  add(set: LinearizedSet, state: number): VisitOutcome {
    assert(state >= 0 && state <= 0x7fff_ffff, `VisitedConfigurations: bad state ${state}`);
    const key = (set.hash ^ Math.imul(state + 1, 0x9e3779b1)) | 0;
    const head = this.#heads.get(key) ?? -1;
    for (let entry = head; entry !== -1; entry = this.#chain[entry]!) {
      if (this.#state[entry] === state && this.#sameSet(entry, set)) return "present";
    }
    const knownLength = Math.max(0, set.high - set.low + 1);
    const length = knownLength + set.bits.length - set.knownWords;
    const used = this.#offset[this.#size]!;
    if (used + length + (this.#size + 1) * ENTRY_OVERHEAD_WORDS > VISITED_WORDS_MAX) return "full";
    this.#reserve(this.#size + 1, used + length);
    const entry = this.#size;
    if (knownLength > 0) this.#pool.set(set.bits.subarray(set.low, set.high + 1), used);
    this.#pool.set(set.bits.subarray(set.knownWords), used + knownLength);
    this.#offset[entry + 1] = used + length;
    this.#state[entry] = state;
    this.#low[entry] = set.low;
    this.#high[entry] = set.high;
    this.#chain[entry] = head;
    this.#heads.set(key, entry);
    this.#size++;
    return "added";
  }

  #sameSet(entry: number, set: LinearizedSet): boolean {
    if (this.#low[entry] !== set.low || this.#high[entry] !== set.high) return false;
    const bits = set.bits;
    const pool = this.#pool;
    const start = this.#offset[entry]!;
    const knownLength = Math.max(0, set.high - set.low + 1);
    for (let word = 0; word < knownLength; word++) {
      if (pool[start + word] !== bits[set.low + word]) return false;
    }
    const unknownStart = start + knownLength;
    for (let word = set.knownWords; word < bits.length; word++) {
      if (pool[unknownStart + word - set.knownWords] !== bits[word]) return false;
    }
    return true;
  }

  /** Grows the arrays (doubling) to hold `entries` entries and `words` pool words. */
  #reserve(entries: number, words: number): void {
    if (entries > this.#chain.length) {
      const capacity = this.#chain.length * 2;
      this.#chain = grown(this.#chain, capacity);
      this.#state = grown(this.#state, capacity);
      this.#low = grown(this.#low, capacity);
      this.#high = grown(this.#high, capacity);
      this.#offset = grown(this.#offset, capacity + 1);
    }
    if (words > this.#pool.length) {
      const pool = new Uint32Array(Math.max(words, this.#pool.length * 2));
      pool.set(this.#pool);
      this.#pool = pool;
    }
  }
}

function grown(array: Int32Array, capacity: number): Int32Array<ArrayBuffer> {
  const larger = new Int32Array(capacity);
  larger.set(array);
  return larger;
}
