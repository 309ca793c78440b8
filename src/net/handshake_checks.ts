/**
 * The vocabulary of the handshake (roles, error codes, protocol version) and the checks each
 * side applies to what the other sent, before any cryptography: protocol name and version,
 * cluster name, nonce size, and whether the claimed role is one this side accepts. See
 * `handshake.ts` for the exchange itself.
 */

import { isCounter, isNodeId, type NodeId } from "../raft/core/types.ts";
import { NONCE_BYTES } from "./limits.ts";
import { describe } from "./raft_codec.ts";

/** The protocol version this build speaks. */
export const PROTOCOL_VERSION = 1;
/** Versions an acceptor of this build accepts. */
export const SUPPORTED_PROTOCOL_VERSIONS: ReadonlySet<number> = new Set([1]);
/** The first field of every hello, so that a stray client of another protocol is told apart. */
export const PROTOCOL_NAME = "shardkv";

/** Who a side of a connection is: a Raft peer of a group, or a client. */
export type HandshakeRole =
  | { readonly kind: "peer"; readonly nodeId: NodeId; readonly groupId: number }
  | { readonly kind: "client" };

/** Why a handshake failed; the connection is closed in every case. */
export type HandshakeErrorCode =
  | "timeout"
  | "closed"
  | "malformed"
  | "version"
  | "cluster"
  | "unknownPeer"
  | "wrongPeer"
  | "authentication";

/** Every code, for checking a refusal received from the other side. */
export const HANDSHAKE_ERROR_CODES: ReadonlySet<string> = new Set(
  Object.keys(
    {
      timeout: true,
      closed: true,
      malformed: true,
      version: true,
      cluster: true,
      unknownPeer: true,
      wrongPeer: true,
      authentication: true,
    } satisfies Record<HandshakeErrorCode, true>,
  ),
);

/** A failed handshake: `remote` is true when the other side refused us (its reason). */
export class HandshakeError extends Error {
  override readonly name = "HandshakeError";
  constructor(readonly code: HandshakeErrorCode, message: string, readonly remote = false) {
    super(message);
  }
}

/** Checks a hello against what this acceptor allows; returns the connector's claimed role. */
export function checkHello(
  hello: Record<string, unknown>,
  options: {
    readonly clusterName: string;
    readonly groupId: number;
    readonly allowedPeers: ReadonlySet<NodeId>;
  },
): HandshakeRole | HandshakeError {
  if (hello.protocol !== PROTOCOL_NAME) {
    return new HandshakeError("malformed", `not a ${PROTOCOL_NAME} hello`);
  }
  if (typeof hello.version !== "number" || !SUPPORTED_PROTOCOL_VERSIONS.has(hello.version)) {
    const supported = [...SUPPORTED_PROTOCOL_VERSIONS].join(", ");
    return new HandshakeError(
      "version",
      `protocol version ${describe(hello.version)} is not supported (supported: ${supported})`,
    );
  }
  const common = checkCommon(hello, options.clusterName);
  if (common !== null) return common;
  const role = readRole(hello);
  if (role instanceof HandshakeError || role.kind === "client") return role;
  if (role.groupId !== options.groupId || !options.allowedPeers.has(role.nodeId)) {
    return new HandshakeError(
      "unknownPeer",
      `node ${role.nodeId} of group ${role.groupId} is not an allowed peer of group ${options.groupId}`,
    );
  }
  return role;
}

/** Checks a challenge against what the connector expects; returns the acceptor's role. */
export function checkChallenge(
  challenge: Record<string, unknown>,
  options: {
    readonly clusterName: string;
    readonly expectedPeer?: { readonly nodeId: NodeId; readonly groupId: number };
  },
): HandshakeRole | HandshakeError {
  if (challenge.version !== PROTOCOL_VERSION) {
    return new HandshakeError(
      "version",
      `the server chose unknown version ${describe(challenge.version)}`,
    );
  }
  const common = checkCommon(challenge, options.clusterName);
  if (common !== null) return common;
  if (!(challenge.proof instanceof Uint8Array)) {
    return new HandshakeError("malformed", "the challenge carries no proof");
  }
  const role = readRole(challenge);
  if (role instanceof HandshakeError) return role;
  const expected = options.expectedPeer;
  if (expected !== undefined) {
    if (
      role.kind !== "peer" || role.nodeId !== expected.nodeId || role.groupId !== expected.groupId
    ) {
      const found = role.kind === "peer"
        ? `node ${role.nodeId} of group ${role.groupId}`
        : "a client";
      return new HandshakeError(
        "wrongPeer",
        `expected node ${expected.nodeId} of group ${expected.groupId}, reached ${found}`,
      );
    }
  }
  return role;
}

/** Cluster name and nonce, which hello and challenge share. */
function checkCommon(fields: Record<string, unknown>, clusterName: string): HandshakeError | null {
  if (fields.cluster !== clusterName) {
    return new HandshakeError(
      "cluster",
      `cluster ${JSON.stringify(fields.cluster)} is not this cluster (${
        JSON.stringify(clusterName)
      })`,
    );
  }
  const nonce = fields.nonce;
  if (!(nonce instanceof Uint8Array) || nonce.byteLength !== NONCE_BYTES) {
    return new HandshakeError("malformed", `expected a ${NONCE_BYTES} byte nonce`);
  }
  return null;
}

function readRole(fields: Record<string, unknown>): HandshakeRole | HandshakeError {
  if (fields.role === "client") return { kind: "client" };
  if (fields.role !== "peer") {
    return new HandshakeError("malformed", `unknown role ${describe(fields.role)}`);
  }
  if (!isNodeId(fields.nodeId) || !isCounter(fields.groupId)) {
    return new HandshakeError("malformed", "a peer must name its node id and group id");
  }
  return { kind: "peer", nodeId: fields.nodeId, groupId: fields.groupId };
}

export function roleFields(role: HandshakeRole): { role: string; nodeId: number; groupId: number } {
  return role.kind === "peer"
    ? { role: "peer", nodeId: role.nodeId, groupId: role.groupId }
    : { role: "client", nodeId: 0, groupId: 0 };
}
