/**
 * The WAL record format. A record is a frame and a body:
 *
 *   frame: crc32c u32 | body length u32        (both little-endian; the CRC covers the
 *                                               length and the body, so a flipped length
 *                                               is caught like a flipped payload bit)
 *   body:  kind u8 | flags u8 | fields…        (integers are unsigned LEB128 varints)
 *
 * Two kinds. A `segmentHeader` opens every segment and restates the state the log had when
 * the segment was created (hard state, snapshot, next index), so that older segments can be
 * deleted without losing the term, the vote or the snapshot marker. A `batch` is one whole
 * {@link PersistBatch}: reset (a received snapshot), compaction, entries, hard state, each
 * present or not as its flag says. One batch is one record, so only the last record of the
 * WAL can ever be torn (see record_scan.ts).
 *
 * An entry costs type u8 + term + index + (command: data length + data); a 100-byte
 * command in a batch of one costs about 118 bytes on disk.
 */

import { assert, assertNever } from "../../util/assert.ts";
import {
  asIndex,
  asNodeId,
  asTerm,
  type Entry,
  type HardState,
  type Index,
  type SnapshotMeta,
} from "../core/types.ts";
import { ByteReader, ByteWriter, DecodeError, varintBytes } from "./bytes.ts";
import { crc32c } from "./crc32c.ts";
import {
  RECORD_BODY_BYTES_MIN,
  RECORD_BYTES_MAX,
  RECORD_ENTRIES_MAX,
  RECORD_FRAME_BYTES,
  WAL_ENTRY_BYTES_MAX,
} from "./limits.ts";

/** "SKVW" little-endian: marks a segment header, so a stray file is not taken for a segment. */
export const SEGMENT_MAGIC = 0x57564b53;
/** Version of the segment format; a newer one is refused rather than misread. */
export const SEGMENT_VERSION = 1;

/** The first record of every segment. */
export interface SegmentHeader {
  readonly kind: "segmentHeader";
  /** Position of the segment in the WAL: consecutive, starting at 1. */
  readonly sequence: number;
  /** The index the next appended entry would have had when the segment was created. */
  readonly firstIndex: Index;
  readonly hardState: HardState;
  readonly snapshot: SnapshotMeta | null;
}

/** One persisted batch, applied in this order: reset, compaction, entries, hard state. */
export interface BatchRecord {
  readonly kind: "batch";
  /** A snapshot from the leader was installed: the log restarts after it. */
  readonly reset: SnapshotMeta | null;
  /** A local snapshot was taken: entries up to its index are dropped. */
  readonly compaction: SnapshotMeta | null;
  /** Contiguous entries; the first replaces any stored entry at its index and after. */
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
}

/** Every record the WAL holds. */
export type WalRecord = SegmentHeader | BatchRecord;

const KIND_CODE = { segmentHeader: 1, batch: 2 } as const satisfies Record<
  WalRecord["kind"],
  number
>;
const ENTRY_CODE = { noop: 0, command: 1 } as const satisfies Record<Entry["type"], number>;

const HEADER_HAS_SNAPSHOT = 0x01;
const BATCH_HAS_HARD_STATE = 0x01;
const BATCH_HAS_RESET = 0x02;
const BATCH_HAS_COMPACTION = 0x04;
const BATCH_HAS_ENTRIES = 0x08;

/** Bytes `entry` takes inside a batch record. */
export function encodedEntryBytes(entry: Entry): number {
  const head = 1 + varintBytes(entry.term) + varintBytes(entry.index);
  return entry.type === "command"
    ? head + varintBytes(entry.data.byteLength) + entry.data.byteLength
    : head;
}

/** Bytes a hard state takes inside a record. */
export function encodedHardStateBytes(hardState: HardState): number {
  return varintBytes(hardState.term) + varintBytes(hardState.votedFor ?? 0) +
    varintBytes(hardState.commit);
}

function metaBytes(meta: SnapshotMeta): number {
  return varintBytes(meta.index) + varintBytes(meta.term);
}

function bodyBytes(record: WalRecord): number {
  switch (record.kind) {
    case "segmentHeader":
      return 2 + 4 + 1 + varintBytes(record.sequence) + varintBytes(record.firstIndex) +
        encodedHardStateBytes(record.hardState) +
        (record.snapshot === null ? 0 : metaBytes(record.snapshot));
    case "batch": {
      let bytes = 2;
      if (record.reset !== null) bytes += metaBytes(record.reset);
      if (record.compaction !== null) bytes += metaBytes(record.compaction);
      if (record.entries.length > 0) bytes += varintBytes(record.entries.length);
      for (const entry of record.entries) bytes += encodedEntryBytes(entry);
      if (record.hardState !== null) bytes += encodedHardStateBytes(record.hardState);
      return bytes;
    }
    default:
      return assertNever(record, "WAL record");
  }
}

/** Encodes `record` with its frame, ready to append. */
export function encodeRecord(record: WalRecord): Uint8Array {
  const length = bodyBytes(record);
  assert(
    length <= RECORD_BYTES_MAX - RECORD_FRAME_BYTES,
    () => `Cannot encode a WAL record of ${length} bytes: the limit is ${RECORD_BYTES_MAX}`,
  );
  const writer = new ByteWriter(new Uint8Array(RECORD_FRAME_BYTES + length), 4);
  writer.u32(length);
  writer.u8(KIND_CODE[record.kind]);
  switch (record.kind) {
    case "segmentHeader":
      writer.u8(record.snapshot === null ? 0 : HEADER_HAS_SNAPSHOT);
      writer.u32(SEGMENT_MAGIC);
      writer.u8(SEGMENT_VERSION);
      writer.varint(record.sequence);
      writer.varint(record.firstIndex);
      writeHardState(writer, record.hardState);
      if (record.snapshot !== null) writeMeta(writer, record.snapshot);
      break;
    case "batch":
      writeBatch(writer, record);
      break;
    default:
      assertNever(record, "WAL record");
  }
  assert(writer.offset === writer.bytes.length, "WAL record size was miscounted");
  new DataView(writer.bytes.buffer).setUint32(0, crc32c(writer.bytes, 4), true);
  return writer.bytes;
}

function writeBatch(writer: ByteWriter, record: BatchRecord): void {
  const flags = (record.hardState === null ? 0 : BATCH_HAS_HARD_STATE) |
    (record.reset === null ? 0 : BATCH_HAS_RESET) |
    (record.compaction === null ? 0 : BATCH_HAS_COMPACTION) |
    (record.entries.length === 0 ? 0 : BATCH_HAS_ENTRIES);
  writer.u8(flags);
  if (record.reset !== null) writeMeta(writer, record.reset);
  if (record.compaction !== null) writeMeta(writer, record.compaction);
  if (record.entries.length > 0) writer.varint(record.entries.length);
  const first = record.entries[0]?.index ?? 0;
  record.entries.forEach((entry, k) => {
    assert(entry.index === first + k, () => `Batch entries are not contiguous at ${entry.index}`);
    writer.u8(ENTRY_CODE[entry.type]);
    writer.varint(entry.term);
    writer.varint(entry.index);
    if (entry.type === "command") {
      writer.varint(entry.data.byteLength);
      writer.raw(entry.data);
    }
  });
  if (record.hardState !== null) writeHardState(writer, record.hardState);
}

function writeHardState(writer: ByteWriter, hardState: HardState): void {
  writer.varint(hardState.term);
  writer.varint(hardState.votedFor ?? 0); // Node ids are positive: 0 stands for "no vote".
  writer.varint(hardState.commit);
}

function writeMeta(writer: ByteWriter, meta: SnapshotMeta): void {
  writer.varint(meta.index);
  writer.varint(meta.term);
}

/** What is found at an offset of a segment: a record whose checksum holds, or why not. */
export type FrameRead =
  | { readonly status: "ok"; readonly bodyStart: number; readonly end: number }
  | { readonly status: "partial" | "badLength" | "badChecksum" };

/** Reads the frame at `offset` and checks its length and checksum (not the body's contents). */
export function readFrame(bytes: Uint8Array, offset: number): FrameRead {
  if (bytes.length - offset < RECORD_FRAME_BYTES) return { status: "partial" };
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, RECORD_FRAME_BYTES);
  const length = view.getUint32(4, true);
  if (length < RECORD_BODY_BYTES_MIN || length > RECORD_BYTES_MAX - RECORD_FRAME_BYTES) {
    return { status: "badLength" };
  }
  const end = offset + RECORD_FRAME_BYTES + length;
  if (end > bytes.length) return { status: "partial" };
  const kind = bytes[offset + RECORD_FRAME_BYTES];
  if (kind !== KIND_CODE.batch && kind !== KIND_CODE.segmentHeader) {
    return { status: "badChecksum" };
  }
  if (crc32c(bytes, offset + 4, end) !== view.getUint32(0, true)) return { status: "badChecksum" };
  return { status: "ok", bodyStart: offset + RECORD_FRAME_BYTES, end };
}

/** Decodes the body `bytes[start, end)` of a record whose checksum held; throws DecodeError. */
export function decodeRecordBody(bytes: Uint8Array, start: number, end: number): WalRecord {
  const reader = new ByteReader(bytes, start, end);
  const kind = reader.u8();
  const flags = reader.u8();
  let record: WalRecord;
  if (kind === KIND_CODE.segmentHeader) record = readSegmentHeader(reader, flags);
  else if (kind === KIND_CODE.batch) record = readBatch(reader, flags);
  else throw new DecodeError(`unknown record kind ${kind}`);
  if (reader.remaining !== 0) throw new DecodeError(`${reader.remaining} bytes after the record`);
  return record;
}

function readSegmentHeader(reader: ByteReader, flags: number): SegmentHeader {
  if ((flags & ~HEADER_HAS_SNAPSHOT) !== 0) throw new DecodeError(`unknown header flags ${flags}`);
  const magic = reader.u32();
  if (magic !== SEGMENT_MAGIC) throw new DecodeError(`bad segment magic ${magic.toString(16)}`);
  const version = reader.u8();
  if (version !== SEGMENT_VERSION) throw new DecodeError(`unsupported segment version ${version}`);
  const sequence = reader.varint();
  if (sequence < 1) throw new DecodeError("segment sequence 0");
  const firstIndex = reader.varint();
  if (firstIndex < 1) throw new DecodeError("segment first index 0");
  const hardState = readHardState(reader);
  const snapshot = flags & HEADER_HAS_SNAPSHOT ? readMeta(reader) : null;
  return { kind: "segmentHeader", sequence, firstIndex: asIndex(firstIndex), hardState, snapshot };
}

function readBatch(reader: ByteReader, flags: number): BatchRecord {
  const known = BATCH_HAS_HARD_STATE | BATCH_HAS_RESET | BATCH_HAS_COMPACTION | BATCH_HAS_ENTRIES;
  if ((flags & ~known) !== 0) throw new DecodeError(`unknown batch flags ${flags}`);
  const reset = flags & BATCH_HAS_RESET ? readMeta(reader) : null;
  const compaction = flags & BATCH_HAS_COMPACTION ? readMeta(reader) : null;
  const entries: Entry[] = [];
  if (flags & BATCH_HAS_ENTRIES) {
    const count = reader.varint();
    if (count < 1 || count > RECORD_ENTRIES_MAX) throw new DecodeError(`entry count ${count}`);
    for (let k = 0; k < count; k++) {
      const entry = readEntry(reader);
      const previous = entries[k - 1];
      if (previous !== undefined && entry.index !== previous.index + 1) {
        throw new DecodeError(`entry ${entry.index} does not follow ${previous.index}`);
      }
      entries.push(entry);
    }
  }
  const hardState = flags & BATCH_HAS_HARD_STATE ? readHardState(reader) : null;
  return { kind: "batch", reset, compaction, entries, hardState };
}

function readEntry(reader: ByteReader): Entry {
  const type = reader.u8();
  const term = asTerm(reader.varint());
  const index = reader.varint();
  if (index < 1) throw new DecodeError("entry index 0");
  if (type === ENTRY_CODE.noop) return { type: "noop", term, index: asIndex(index) };
  if (type !== ENTRY_CODE.command) throw new DecodeError(`unknown entry type ${type}`);
  const length = reader.varint();
  if (length > WAL_ENTRY_BYTES_MAX) throw new DecodeError(`entry of ${length} bytes`);
  return { type: "command", term, index: asIndex(index), data: reader.copy(length) };
}

function readHardState(reader: ByteReader): HardState {
  const term = asTerm(reader.varint());
  const vote = reader.varint();
  const commit = asIndex(reader.varint());
  return { term, votedFor: vote === 0 ? null : asNodeId(vote), commit };
}

function readMeta(reader: ByteReader): SnapshotMeta {
  const index = reader.varint();
  if (index < 1) throw new DecodeError("snapshot index 0");
  return { index: asIndex(index), term: asTerm(reader.varint()) };
}
