/**
 * Scans one segment's bytes into records and tells a torn tail from corruption.
 *
 * The rule. The driver has at most one write outstanding and each write is one record
 * followed by one fdatasync, so at a crash only the LAST record of the LAST segment can be
 * incomplete: its pages may reach the disk in any order, leaving a short file, zeros, or old
 * garbage in parts of it. Hence:
 * - a record that fails (short, impossible length, checksum mismatch) with no valid record
 *   anywhere after it, in the last segment, is a torn tail: it was never acknowledged, and
 *   the file is cut back to the end of the last good record;
 * - a failing record followed by any valid record (found by trying every later offset, as
 *   the failing record's own length cannot be trusted), or a failure in any segment but the
 *   last, or a record whose checksum holds but whose contents do not decode, is corruption
 *   of data that was acknowledged: start-up stops and names the file and offset.
 * A bit flip in the last record is indistinguishable from a torn write and is treated as one;
 * that record can only have been acknowledged if the disk corrupted it after the fact.
 */

import { DecodeError } from "./bytes.ts";
import { RECORD_BODY_BYTES_MIN, RECORD_BYTES_MAX, RECORD_FRAME_BYTES } from "./limits.ts";
import { decodeRecordBody, readFrame, type WalRecord } from "./record_codec.ts";

/** A record found at `[offset, end)` of a segment. */
export interface ScannedRecord {
  readonly offset: number;
  readonly end: number;
  readonly record: WalRecord;
}

/** The first record of a segment that could not be read, and what follows it. */
export interface Damage {
  readonly offset: number;
  readonly reason: string;
  /** True when the checksum held but the body did not decode (never a torn write). */
  readonly checksumHeld: boolean;
  /** Offset of the first valid record after the damage, or null when none follows. */
  readonly nextValidOffset: number | null;
}

/** The good records of a segment, and the damage that ended the scan, if any. */
export interface SegmentScan {
  readonly records: ScannedRecord[];
  /** End of the last good record: where a torn tail is cut. */
  readonly goodEnd: number;
  readonly damage: Damage | null;
}

/** How recovery must treat a scanned segment. */
export type ScanVerdict = "clean" | "tornTail" | "corrupt";

/** Reads records from the start of `bytes` until the end or the first damage. */
export function scanSegment(bytes: Uint8Array): SegmentScan {
  const records: ScannedRecord[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const frame = readFrame(bytes, offset);
    if (frame.status !== "ok") {
      const reason = frame.status === "partial"
        ? `record at ${offset} runs past the end of the file (${bytes.length} bytes)`
        : frame.status === "badLength"
        ? `record at ${offset} has an impossible length`
        : `record at ${offset} fails its checksum`;
      const nextValidOffset = findValidFrame(bytes, offset + 1);
      return {
        records,
        goodEnd: offset,
        damage: { offset, reason, checksumHeld: false, nextValidOffset },
      };
    }
    let record: WalRecord;
    try {
      record = decodeRecordBody(bytes, frame.bodyStart, frame.end);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      const reason =
        `record at ${offset} passes its checksum but does not decode: ${error.message}`;
      return {
        records,
        goodEnd: offset,
        damage: { offset, reason, checksumHeld: true, nextValidOffset: null },
      };
    }
    records.push({ offset, end: frame.end, record });
    offset = frame.end;
  }
  return { records, goodEnd: offset, damage: null };
}

/** Applies the torn-tail rule of the module comment to a scanned segment. */
export function judgeScan(scan: SegmentScan, isLastSegment: boolean): ScanVerdict {
  const damage = scan.damage;
  if (damage === null) return "clean";
  if (damage.checksumHeld || !isLastSegment || damage.nextValidOffset !== null) return "corrupt";
  return "tornTail";
}

/**
 * The first offset at or after `from` where a whole record with a valid checksum starts, or
 * null. Offsets whose length field is impossible are skipped without computing a checksum,
 * so the search costs little more than one pass over the bytes.
 */
export function findValidFrame(bytes: Uint8Array, from: number): number | null {
  const lastStart = bytes.length - RECORD_FRAME_BYTES - RECORD_BODY_BYTES_MIN;
  for (let offset = from; offset <= lastStart; offset++) {
    const length = (bytes[offset + 4]! | (bytes[offset + 5]! << 8) | (bytes[offset + 6]! << 16) |
      (bytes[offset + 7]! << 24)) >>> 0;
    if (length < RECORD_BODY_BYTES_MIN || length > RECORD_BYTES_MAX) continue;
    if (offset + RECORD_FRAME_BYTES + length > bytes.length) continue;
    if (readFrame(bytes, offset).status === "ok") return offset;
  }
  return null;
}
