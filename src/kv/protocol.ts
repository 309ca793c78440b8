/**
 * The client protocol of the KV service: requests a clerk sends over RPC and the responses it
 * gets. Plain msgpack maps (readable in captures; small next to the values they carry).
 * Every request is validated into the typed union before it is used.
 */

import type { NotLeader } from "../raft/core/types.ts";
import type { ServiceError } from "../service/replicated_service.ts";
import { checkSizes, type KvCommand, type KvError } from "./command.ts";

/** A client request. Writes carry the session tag that makes them exactly-once. */
export type KvRequest =
  | { readonly type: "get"; readonly key: string }
  | {
    readonly type: "put";
    readonly key: string;
    readonly value: string;
    readonly clientId: number;
    readonly seq: number;
  }
  | {
    readonly type: "append";
    readonly key: string;
    readonly value: string;
    readonly clientId: number;
    readonly seq: number;
  }
  | {
    readonly type: "delete";
    readonly key: string;
    readonly clientId: number;
    readonly seq: number;
  };

/** Every way a request can fail, all normal operation. */
export type KvResponseError =
  | KvError
  | NotLeader
  | { readonly code: "busy"; readonly message: string }
  | { readonly code: "wrongGroup"; readonly shard: number }
  | { readonly code: "badRequest"; readonly message: string };

/** The response to a request. */
export type KvResponse =
  | { readonly ok: true; readonly value?: string }
  | { readonly ok: false; readonly error: KvResponseError };

/** Validates an RPC body into a request, or says what is wrong with it. */
export function parseRequest(
  body: unknown,
): { ok: true; request: KvRequest } | { ok: false; message: string } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, message: "request must be a map" };
  }
  const fields = body as Record<string, unknown>;
  const { type, key } = fields;
  if (typeof key !== "string") return { ok: false, message: "key must be a string" };
  if (type === "get") return { ok: true, request: { type, key } };
  const { clientId, seq } = fields;
  if (!isPositiveSafe(clientId) || !isPositiveSafe(seq)) {
    return { ok: false, message: "clientId and seq must be positive safe integers" };
  }
  if (type === "delete") return { ok: true, request: { type, key, clientId, seq } };
  if (type === "put" || type === "append") {
    const { value } = fields;
    if (typeof value !== "string") return { ok: false, message: "value must be a string" };
    return { ok: true, request: { type, key, value, clientId, seq } };
  }
  return { ok: false, message: `unknown request type ${JSON.stringify(type)}` };
}

function isPositiveSafe(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/** A write request as the command it proposes, stamped with the leader's clock as log time. */
export function commandFromRequest(
  request: Exclude<KvRequest, { type: "get" }>,
  timeMs: number,
): KvCommand {
  const { key, clientId, seq } = request;
  return request.type === "delete"
    ? { type: "delete", key, clientId, seq, timeMs }
    : { type: request.type, key, value: request.value, clientId, seq, timeMs };
}

/** The two halves of serving a KV request: what differs between the plain and the sharded server. */
export interface KvRequestHandlers {
  /** A linearizable read of `key`. */
  read(key: string, respond: (response: KvResponse) => void): void;
  /** Proposes a write and answers once it applied. */
  write(command: KvCommand, respond: (response: KvResponse) => void): void;
}

/**
 * Serves one client request: sizes checked before anything is proposed, a get read, a write
 * stamped with `timeMs` (log time) and proposed. `respond` is called exactly once.
 */
export function serveKvRequest(
  request: KvRequest,
  timeMs: () => number,
  handlers: KvRequestHandlers,
  respond: (response: KvResponse) => void,
): void {
  const sizeError = checkSizes(
    request.key,
    request.type === "get" || request.type === "delete" ? null : request.value,
  );
  if (sizeError !== null) return respond({ ok: false, error: sizeError });
  if (request.type === "get") return handlers.read(request.key, respond);
  handlers.write(commandFromRequest(request, timeMs()), respond);
}

/** The client's view of a request the replicated-service shell could not answer. */
export function serviceFailure(error: ServiceError): KvResponse {
  switch (error.code) {
    case "notLeader":
    case "busy":
      return { ok: false, error };
    case "tooLarge":
      return {
        ok: false,
        error: { code: "valueTooLarge", bytes: error.bytes, maxBytes: error.maxBytes },
      };
  }
}
