/**
 * Child output, line by line. Pipes deliver bytes in arbitrary chunks: a line (or a UTF-8
 * character) may be split across chunks, and the last line may have no newline. The
 * {@link LineSplitter} turns chunks back into whole lines; {@link linePrefix} makes the
 * `[g1-1]   ` tag the supervisor puts in front of each of them.
 */

import { assert } from "../util/assert.ts";
import { LINE_CHARS_MAX } from "./limits.ts";

/** Splits a byte stream into text lines. Pure: no I/O, feed it chunks. */
export class LineSplitter {
  readonly #decoder = new TextDecoder();
  readonly #lineCharsMax: number;
  #partial = "";
  #finished = false;

  constructor(lineCharsMax: number = LINE_CHARS_MAX) {
    assert(Number.isSafeInteger(lineCharsMax) && lineCharsMax >= 1, "line limit is positive");
    this.#lineCharsMax = lineCharsMax;
  }

  /**
   * Adds a chunk; returns the lines it completes, without "\n" (nor a "\r" before it). A
   * line longer than the limit comes out in pieces of the limit, so that a child that
   * never prints a newline cannot make the reader buffer without bound.
   */
  push(chunk: Uint8Array): string[] {
    assert(!this.#finished, "no chunk after flush()");
    const text = this.#partial + this.#decoder.decode(chunk, { stream: true });
    const pieces = text.split("\n");
    this.#partial = pieces.pop() ?? "";
    const lines = pieces.map(stripCarriageReturn);
    while (this.#partial.length > this.#lineCharsMax) {
      lines.push(this.#partial.slice(0, this.#lineCharsMax));
      this.#partial = this.#partial.slice(this.#lineCharsMax);
    }
    return lines;
  }

  /** Ends the stream: returns the last line if it had no newline (at most one line). */
  flush(): string[] {
    assert(!this.#finished, "flush() is called once");
    this.#finished = true;
    const rest = this.#partial + this.#decoder.decode();
    this.#partial = "";
    return rest === "" ? [] : [stripCarriageReturn(rest)];
  }
}

/** `[id]` padded so that the tags of ids up to `width` characters line up, plus a space. */
export function linePrefix(id: string, width: number): string {
  return `[${id}]`.padEnd(Math.max(width, id.length) + 2) + " ";
}

/** The width that lines up the tags of every id in `ids`. */
export function prefixWidth(ids: readonly string[]): number {
  return ids.reduce((width, id) => Math.max(width, id.length), 0);
}

/** `lines` each with `prefix` in front and a newline after, as one string to write. */
export function prefixLines(prefix: string, lines: readonly string[]): string {
  return lines.map((line) => `${prefix}${line}\n`).join("");
}

function stripCarriageReturn(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
