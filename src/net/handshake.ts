/**
 * Mutual authentication when a connection opens: each side proves it knows the cluster
 * secret by answering the other side's fresh nonce with an HMAC-SHA256, bound to the
 * protocol version, the cluster name and its own role. Four frames, each a msgpack map:
 *
 *   connector → acceptor  hello      { protocol, version, cluster, role, nodeId, groupId, nonce }
 *   acceptor → connector  challenge  { version, cluster, role, nodeId, groupId, nonce, proof }
 *   connector → acceptor  answer     { proof }
 *   acceptor → connector  welcome    { ok: true }
 *
 * Any step may instead be a refusal `{ refused: code, reason }`, after which the sender
 * closes the connection. A proof is HMAC(secret, msgpack([label, version, cluster, role,
 * nodeId, groupId, the other side's nonce, its own nonce])); the label differs by direction,
 * so a proof can never be replayed back at the side that made it.
 */

import { Decoder, encode } from "@msgpack/msgpack";
import { assert } from "../util/assert.ts";
import type { NodeId } from "../raft/core/types.ts";
import { encodeFrame, FrameError } from "./frame.ts";
import type { FramedConnection } from "./framed_connection.ts";
import {
  checkChallenge,
  checkHello,
  HANDSHAKE_ERROR_CODES,
  HandshakeError,
  type HandshakeErrorCode,
  type HandshakeRole,
  PROTOCOL_NAME,
  PROTOCOL_VERSION,
  roleFields,
} from "./handshake_checks.ts";
import { HANDSHAKE_FRAME_BYTES_MAX, HANDSHAKE_TIMEOUT_MS, NONCE_BYTES } from "./limits.ts";
import { describe } from "./raft_codec.ts";

export {
  HandshakeError,
  type HandshakeErrorCode,
  type HandshakeRole,
  PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
} from "./handshake_checks.ts";

const CONNECT_LABEL = "shardkv/connect";
const ACCEPT_LABEL = "shardkv/accept";

/** The outcome of a handshake: who the other side is, or why the connection was closed. */
export type HandshakeResult =
  | { readonly ok: true; readonly remote: HandshakeRole }
  | { readonly ok: false; readonly error: HandshakeError };

/** Imports the cluster secret as an HMAC-SHA256 key (once per process and secret). */
export function importClusterKey(secret: string): Promise<CryptoKey> {
  assert(secret.length > 0, "the cluster secret is not empty");
  return crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

/** What the connecting side knows. */
export interface ConnectHandshakeOptions {
  readonly clusterName: string;
  readonly key: CryptoKey;
  readonly role: HandshakeRole;
  /** The peer we meant to reach: a different node or group answering is refused. */
  readonly expectedPeer?: { readonly nodeId: NodeId; readonly groupId: number };
  readonly timeoutMs?: number;
}

/** What the accepting side knows. */
export interface AcceptHandshakeOptions {
  readonly clusterName: string;
  readonly key: CryptoKey;
  readonly selfId: NodeId;
  readonly groupId: number;
  /** Node ids of `groupId` allowed to connect as peers. */
  readonly allowedPeers: ReadonlySet<NodeId>;
  readonly timeoutMs?: number;
}

// Handshake frames are tiny; the decoder refuses anything that could make it allocate much.
const decoder = new Decoder({
  maxStrLength: 1024,
  maxBinLength: 256,
  maxArrayLength: 0,
  maxMapLength: 16,
  maxExtLength: 0,
});

/** Runs the connecting side of the handshake on a fresh connection. */
export function connectHandshake(
  connection: FramedConnection,
  options: ConnectHandshakeOptions,
): Promise<HandshakeResult> {
  return withDeadline(connection, options.timeoutMs, async () => {
    const nonce = randomNonce();
    const hello = {
      protocol: PROTOCOL_NAME,
      version: PROTOCOL_VERSION,
      cluster: options.clusterName,
      ...roleFields(options.role),
      nonce,
    };
    if (!await send(connection, hello)) return closedError();
    const challenge = await receive(connection);
    if (challenge instanceof HandshakeError) return challenge;
    const server = checkChallenge(challenge, options);
    if (server instanceof HandshakeError) return refuse(connection, server);
    const serverNonce = challenge.nonce as Uint8Array;
    const expected = proofInput(ACCEPT_LABEL, options.clusterName, server, nonce, serverNonce);
    if (!await verifyProof(options.key, challenge.proof, expected)) {
      const reason = "the server failed to prove it knows the cluster secret (wrong secret?)";
      return refuse(connection, new HandshakeError("authentication", reason));
    }
    const input = proofInput(CONNECT_LABEL, options.clusterName, options.role, serverNonce, nonce);
    if (!await send(connection, { proof: await sign(options.key, input) })) return closedError();
    const welcome = await receive(connection);
    if (welcome instanceof HandshakeError) return welcome;
    if (welcome.ok !== true) {
      return refuse(connection, new HandshakeError("malformed", "expected a welcome"));
    }
    return { ok: true, remote: server };
  });
}

/** Runs the accepting side of the handshake on a fresh connection. */
export function acceptHandshake(
  connection: FramedConnection,
  options: AcceptHandshakeOptions,
): Promise<HandshakeResult> {
  return withDeadline(connection, options.timeoutMs, async () => {
    const hello = await receive(connection);
    if (hello instanceof HandshakeError) return hello;
    const client = checkHello(hello, options);
    if (client instanceof HandshakeError) return refuse(connection, client);
    const clientNonce = hello.nonce as Uint8Array;
    const nonce = randomNonce();
    const self: HandshakeRole = { kind: "peer", nodeId: options.selfId, groupId: options.groupId };
    const proof = await sign(
      options.key,
      proofInput(ACCEPT_LABEL, options.clusterName, self, clientNonce, nonce),
    );
    const challenge = {
      version: PROTOCOL_VERSION,
      cluster: options.clusterName,
      ...roleFields(self),
      nonce,
      proof,
    };
    if (!await send(connection, challenge)) return closedError();
    const answer = await receive(connection);
    if (answer instanceof HandshakeError) return answer;
    const expected = proofInput(CONNECT_LABEL, options.clusterName, client, nonce, clientNonce);
    if (!await verifyProof(options.key, answer.proof, expected)) {
      const reason = "the client failed to prove it knows the cluster secret (wrong secret?)";
      return refuse(connection, new HandshakeError("authentication", reason));
    }
    if (!await send(connection, { ok: true })) return closedError();
    return { ok: true, remote: client };
  });
}

function proofInput(
  label: string,
  clusterName: string,
  role: HandshakeRole,
  peerNonce: Uint8Array,
  ownNonce: Uint8Array,
): Uint8Array {
  const { role: kind, nodeId, groupId } = roleFields(role);
  return encode([label, PROTOCOL_VERSION, clusterName, kind, nodeId, groupId, peerNonce, ownNonce]);
}

async function sign(key: CryptoKey, input: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, input as Uint8Array<ArrayBuffer>));
}

/** Constant-time check of a proof (crypto.subtle.verify compares in constant time). */
function verifyProof(key: CryptoKey, proof: unknown, input: Uint8Array): Promise<boolean> {
  if (!(proof instanceof Uint8Array)) return Promise.resolve(false);
  return crypto.subtle.verify(
    "HMAC",
    key,
    proof as Uint8Array<ArrayBuffer>,
    input as Uint8Array<ArrayBuffer>,
  );
}

function randomNonce(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
}

async function send(
  connection: FramedConnection,
  value: Record<string, unknown>,
): Promise<boolean> {
  const frame = encodeFrame(encode(value), HANDSHAKE_FRAME_BYTES_MAX);
  assert(!(frame instanceof FrameError), "handshake frames are small");
  return await connection.writeAll(frame);
}

/** Reads one handshake map; a refusal from the other side becomes its HandshakeError. */
async function receive(
  connection: FramedConnection,
): Promise<Record<string, unknown> | HandshakeError> {
  const frame = await connection.readFrame();
  if (frame === null) {
    return new HandshakeError("closed", "the connection closed during the handshake");
  }
  if (frame instanceof FrameError) return new HandshakeError("malformed", frame.message);
  let value: unknown;
  try {
    value = decoder.decode(frame);
  } catch (error) {
    return new HandshakeError("malformed", `not msgpack: ${(error as Error).message}`);
  }
  if (
    typeof value !== "object" || value === null || Array.isArray(value) ||
    value instanceof Uint8Array
  ) {
    return new HandshakeError("malformed", `expected a map, got ${describe(value)}`);
  }
  const fields = value as Record<string, unknown>;
  if (fields.refused !== undefined) {
    const code = typeof fields.refused === "string" && HANDSHAKE_ERROR_CODES.has(fields.refused)
      ? fields.refused as HandshakeErrorCode
      : "malformed";
    const reason = typeof fields.reason === "string" ? fields.reason.slice(0, 200) : "no reason";
    return new HandshakeError(code, `refused by the other side: ${reason}`, true);
  }
  return fields;
}

/** Tells the other side why, then closes. */
async function refuse(
  connection: FramedConnection,
  error: HandshakeError,
): Promise<HandshakeResult> {
  await send(connection, { refused: error.code, reason: error.message });
  return { ok: false, error };
}

function closedError(): HandshakeError {
  return new HandshakeError("closed", "the connection closed during the handshake");
}

/** Runs `steps` under a deadline; on any failure (or the deadline) the connection is closed. */
async function withDeadline(
  connection: FramedConnection,
  timeoutMs: number = HANDSHAKE_TIMEOUT_MS,
  steps: () => Promise<HandshakeResult | HandshakeError>,
): Promise<HandshakeResult> {
  assert(timeoutMs > 0, "a handshake deadline is positive");
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    connection.close();
  }, timeoutMs);
  try {
    const outcome = await steps();
    if (timedOut) {
      connection.close();
      return {
        ok: false,
        error: new HandshakeError("timeout", `the handshake did not finish within ${timeoutMs} ms`),
      };
    }
    if (outcome instanceof HandshakeError) {
      connection.close();
      return { ok: false, error: outcome };
    }
    if (!outcome.ok) connection.close();
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}
