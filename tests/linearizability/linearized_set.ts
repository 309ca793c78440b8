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

/** A stored configuration: words [low, high] of the known part, then the unknown words. */
interface VisitedEntry {
  readonly low: number;
  readonly high: number;
  readonly words: Uint32Array;
  readonly state: number;
}

/**
 * Every configuration the search has entered. `state` is any non-negative integer naming the
 * rest of the configuration (the search packs a register state id and a flag into it).
 *
 * Invariant: `#wordsStored` is the number of bitset words held, at most VISITED_WORDS_MAX.
 */
export class VisitedConfigurations {
  readonly #buckets = new Map<number, VisitedEntry[]>();
  #wordsStored = 0;
  #size = 0;

  /** Number of configurations stored. */
  get size(): number {
    return this.#size;
  }

  /** Stores (set, state) unless it is present; "full" once VISITED_WORDS_MAX would be passed. */
  add(set: LinearizedSet, state: number): VisitOutcome {
    assert(Number.isSafeInteger(state) && state >= 0, `VisitedConfigurations: bad state ${state}`);
    const key = (set.hash ^ Math.imul(state + 1, 0x9e3779b1)) | 0;
    const bucket = this.#buckets.get(key);
    if (bucket !== undefined) {
      for (const entry of bucket) {
        if (entry.state === state && sameSet(entry, set)) return "present";
      }
    }
    const words = compactWords(set);
    if (this.#wordsStored + words.length + 1 > VISITED_WORDS_MAX) return "full";
    this.#wordsStored += words.length + 1;
    this.#size++;
    const entry = { low: set.low, high: set.high, words, state };
    if (bucket === undefined) this.#buckets.set(key, [entry]);
    else bucket.push(entry);
    return "added";
  }
}

/** The stored form of `set`: known words [low, high], then the unknown words. */
function compactWords(set: LinearizedSet): Uint32Array {
  const knownLength = Math.max(0, set.high - set.low + 1);
  const unknownLength = set.bits.length - set.knownWords;
  const words = new Uint32Array(knownLength + unknownLength);
  if (knownLength > 0) words.set(set.bits.subarray(set.low, set.high + 1), 0);
  if (unknownLength > 0) words.set(set.bits.subarray(set.knownWords), knownLength);
  return words;
}

function sameSet(entry: VisitedEntry, set: LinearizedSet): boolean {
  if (entry.low !== set.low || entry.high !== set.high) return false;
  const bits = set.bits;
  const words = entry.words;
  const knownLength = Math.max(0, set.high - set.low + 1);
  for (let word = 0; word < knownLength; word++) {
    if (words[word] !== bits[set.low + word]) return false;
  }
  for (let word = knownLength; word < words.length; word++) {
    if (words[word] !== bits[set.knownWords + word - knownLength]) return false;
  }
  return true;
}
