/**
 * Child output to tagged lines: chunks split lines (and UTF-8 characters) anywhere, the
 * last line may lack its newline, and one endless line must not be buffered without bound.
 */

import assert from "node:assert/strict";
import { linePrefix, LineSplitter, prefixLines, prefixWidth } from "./output_lines.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("supervisor lines: a line split across chunks comes out whole, once", () => {
  const splitter = new LineSplitter();
  assert.deepEqual(splitter.push(bytes("hel")), []);
  assert.deepEqual(splitter.push(bytes("lo\nwor")), ["hello"]);
  assert.deepEqual(splitter.push(bytes("ld\n\nnext")), ["world", ""]);
  assert.deepEqual(splitter.flush(), ["next"]);
});

Deno.test("supervisor lines: a UTF-8 character split between chunks is decoded", () => {
  const encoded = bytes("café ✓\n");
  const splitter = new LineSplitter();
  const lines = [];
  for (const byte of encoded) lines.push(...splitter.push(new Uint8Array([byte])));
  assert.deepEqual([...lines, ...splitter.flush()], ["café ✓"]);
});

Deno.test("supervisor lines: CRLF endings lose the CR; a final newline leaves nothing", () => {
  const splitter = new LineSplitter();
  assert.deepEqual(splitter.push(bytes("a\r\nb\r")), ["a"]);
  assert.deepEqual(splitter.push(bytes("\n")), ["b"]);
  assert.deepEqual(splitter.flush(), []);
});

Deno.test("supervisor lines: a line over the limit comes out in pieces of the limit", () => {
  const splitter = new LineSplitter(4);
  assert.deepEqual(splitter.push(bytes("abcdefghij")), ["abcd", "efgh"]);
  assert.deepEqual(splitter.push(bytes("k\nxy")), ["ijk"]);
  assert.deepEqual(splitter.flush(), ["xy"]);
  assert.throws(() => splitter.push(bytes("late")), /no chunk after flush/);
});

Deno.test("supervisor lines: tags are padded so that lines of different ids line up", () => {
  const width = prefixWidth(["local", "g1-1", "sm-10"]);
  assert.equal(width, 5);
  assert.equal(linePrefix("g1-1", width), "[g1-1]  ");
  assert.equal(linePrefix("sm-10", width), "[sm-10] ");
  assert.equal(linePrefix("longer-id", width), "[longer-id] ");
  assert.equal(prefixLines("[r1] ", ["a", "", "b"]), "[r1] a\n[r1] \n[r1] b\n");
  assert.equal(prefixLines("[r1] ", []), "");
});
