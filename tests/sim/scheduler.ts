/**
 * The simulator's virtual clock: a priority queue of callbacks ordered by (time, insertion).
 * Nothing in a simulation reads the real clock, so a seed replays a run exactly.
 */

import { assert } from "../../src/util/assert.ts";

interface Event {
  readonly time: number;
  readonly sequence: number;
  readonly run: () => void;
}

/** A discrete-event scheduler with millisecond virtual time. */
export class Scheduler {
  #now = 0;
  #sequence = 0;
  #heap: Event[] = [];
  /** Called after every event (the safety checkers hook in here). */
  afterEvent: () => void = () => {};
  /** Events run so far (for reports). */
  eventsRun = 0;

  get now(): number {
    return this.#now;
  }

  /** Runs `run` after `delayMs` of virtual time (0 means "after the current event"). */
  at(delayMs: number, run: () => void): void {
    assert(delayMs >= 0 && Number.isFinite(delayMs), () => `Bad delay ${delayMs}`);
    this.#push({ time: this.#now + delayMs, sequence: this.#sequence++, run });
  }

  /** Runs every event up to virtual time `this.now + ms`. */
  runFor(ms: number): void {
    this.runUntil(this.#now + ms);
  }

  /** Runs events until `predicate()` holds (checked after each event) or `ms` pass; returns whether it held. */
  runUntilTrue(predicate: () => boolean, ms: number): boolean {
    const end = this.#now + ms;
    if (predicate()) return true;
    while (this.#heap.length > 0 && this.#heap[0]!.time <= end) {
      this.#runOne();
      if (predicate()) return true;
    }
    this.#now = end;
    return predicate();
  }

  /** Runs every event with time <= `time`, then sets the clock to `time`. */
  runUntil(time: number): void {
    while (this.#heap.length > 0 && this.#heap[0]!.time <= time) this.#runOne();
    this.#now = Math.max(this.#now, time);
  }

  #runOne(): void {
    const event = this.#pop();
    this.#now = event.time;
    this.eventsRun++;
    event.run();
    this.afterEvent();
  }

  #push(event: Event): void {
    const heap = this.#heap;
    heap.push(event);
    let k = heap.length - 1;
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (!before(heap[k]!, heap[parent]!)) break;
      [heap[k], heap[parent]] = [heap[parent]!, heap[k]!];
      k = parent;
    }
  }

  #pop(): Event {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let k = 0;
      for (;;) {
        const left = 2 * k + 1;
        const right = left + 1;
        let smallest = k;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === k) break;
        [heap[k], heap[smallest]] = [heap[smallest]!, heap[k]!];
        k = smallest;
      }
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.time < b.time || (a.time === b.time && a.sequence < b.sequence);
}
