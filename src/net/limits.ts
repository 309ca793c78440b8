/**
 * Hard limits of the network layer (STYLE.md #5). Every buffer, queue and map in
 * `src/net` checks one of these on insert, and relations between them (and with the Raft
 * core's limits, so that the largest message the core may produce fits in one frame) are
 * asserted when this module loads.
 */

import { assert } from "../util/assert.ts";
import {
  APPEND_BYTES_MAX,
  APPEND_ENTRIES_MAX,
  SNAPSHOT_CHUNK_BYTES_MAX,
} from "../raft/core/limits.ts";

const KIB = 1024;
const MIB = 1024 * KIB;

/** Bytes of the length prefix in front of every frame (u32, big-endian). */
export const FRAME_HEADER_BYTES = 4;
/** Largest frame body a connection accepts; a larger length prefix closes the connection before anything is allocated. */
export const FRAME_BYTES_MAX = 64 * MIB;
/** Largest frame body before a connection has authenticated (handshake messages are tiny). */
export const HANDSHAKE_FRAME_BYTES_MAX = 4 * KIB;
/** Bytes read from a socket at a time (one reused buffer per connection). */
export const READ_CHUNK_BYTES = 64 * KIB;

/** Most Raft messages in one batch frame. */
export const BATCH_MESSAGES_MAX = 16_384;
/** Most entries in one append message the decoder accepts. */
export const ENTRIES_PER_MESSAGE_MAX = 65_536;
/** A peer writer stops adding messages to a batch once its estimated size reaches this. */
export const BATCH_BYTES_TARGET = 4 * MIB;
/** Upper bound on the encoded size of a message's fixed fields (tag, header, counters, headers of arrays and bins). */
export const MESSAGE_OVERHEAD_BYTES = 128;
/** Upper bound on the encoded size of one entry's fixed fields: array header, type, term, index, bin header (1+1+9+9+5). */
export const ENTRY_OVERHEAD_BYTES = 32;
/** Largest single message (estimated) a transport sends; a larger one is dropped and logged. */
export const MESSAGE_BYTES_MAX = FRAME_BYTES_MAX - MESSAGE_OVERHEAD_BYTES;

/** Most messages queued for one peer; past it the oldest are dropped (Raft tolerates loss). */
export const PEER_QUEUE_MESSAGES_MAX = 16_384;
/** Most (estimated) bytes queued for one peer; past it the oldest messages are dropped. */
export const PEER_QUEUE_BYTES_MAX = 128 * MIB;
/** Bytes of frames waiting to be written on one RPC connection; past it the connection is closed. */
export const WRITE_QUEUE_BYTES_MAX = 2 * FRAME_BYTES_MAX;

/** Requests one client connection may have outstanding at the server; past it the server answers busy. */
export const RPC_INFLIGHT_MAX = 1024;
/** Calls one RpcClient may have outstanding; past it `call` fails with code "busy". */
export const RPC_CLIENT_PENDING_MAX = 65_536;
/** Default deadline of one RPC call, including connecting. */
export const RPC_TIMEOUT_MS_DEFAULT = 10_000;
/** Request ids are u32 and wrap around. */
export const RPC_REQUEST_ID_MAX = 0xffff_ffff;

/** A connection that has not finished its handshake within this time is closed. */
export const HANDSHAKE_TIMEOUT_MS = 5_000;
/** A TCP connect that has not completed within this time is abandoned. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** Bytes of the random nonce each side of a handshake sends. */
export const NONCE_BYTES = 32;
/** First reconnect delay after a failure; it doubles per consecutive failure. */
export const RECONNECT_DELAY_MIN_MS = 50;
/** Cap of the reconnect delay. */
export const RECONNECT_DELAY_MAX_MS = 2_000;
/** Connections one server holds at once; more are closed on accept. */
export const SERVER_CONNECTIONS_MAX = 4_096;

assert(HANDSHAKE_FRAME_BYTES_MAX < FRAME_BYTES_MAX, "handshake frames are a subset of frames");
assert(FRAME_BYTES_MAX <= 0xffff_ffff, "a frame length must fit the u32 prefix");
assert(READ_CHUNK_BYTES <= FRAME_BYTES_MAX, "a read chunk is at most one frame");
assert(BATCH_BYTES_TARGET <= MESSAGE_BYTES_MAX, "a batch target must fit in a frame");
// An entry's encoded overhead (at most 25 bytes) is close to the 24 bytes `entryBytes` charges
// for it, so an append the core limits to APPEND_BYTES_MAX encodes to under twice that.
assert(2 * APPEND_BYTES_MAX <= MESSAGE_BYTES_MAX, "the largest append must fit in one frame");
assert(APPEND_ENTRIES_MAX <= ENTRIES_PER_MESSAGE_MAX, "the largest append must decode");
assert(SNAPSHOT_CHUNK_BYTES_MAX <= MESSAGE_BYTES_MAX, "a snapshot chunk must fit in one frame");
assert(MESSAGE_BYTES_MAX <= PEER_QUEUE_BYTES_MAX, "a peer queue must hold the largest message");
assert(FRAME_BYTES_MAX <= WRITE_QUEUE_BYTES_MAX, "a write queue must hold the largest frame");
assert(RPC_INFLIGHT_MAX <= RPC_CLIENT_PENDING_MAX, "a client may fill a server's window");
assert(RECONNECT_DELAY_MIN_MS <= RECONNECT_DELAY_MAX_MS, "reconnect delays are ordered");
