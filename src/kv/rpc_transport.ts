/**
 * Clients' transport over the network: one pipelined {@link RpcClient} per server of a group,
 * opened on first use. Responses are validated (into the {@link KvResponse} union for the KV
 * clerk) before the caller sees them; anything else counts as a failed attempt.
 */

import type { PeerAddress } from "../net/peer_link.ts";
import { RpcClient } from "../net/rpc.ts";
import type { Logger } from "../util/logger.ts";
import type { GroupTransport, KvTransport } from "./clerk.ts";
import type { KvRequest, KvResponse } from "./protocol.ts";

/** How to reach a group. */
export interface RpcTransportOptions {
  readonly servers: readonly PeerAddress[];
  readonly clusterName: string;
  readonly secret: string;
  readonly logger: Logger;
}

/**
 * A {@link GroupTransport} over TCP RPC: one pipelined client per server, opened on first use,
 * every response validated by `parse` (null: not a response; counts as a failed attempt).
 */
export class RpcGroupTransport<Request, Response> implements GroupTransport<Request, Response> {
  readonly servers: number;
  readonly #options: RpcTransportOptions;
  readonly #parse: (body: unknown) => Response | null;
  readonly #clients: (RpcClient | null)[];

  constructor(options: RpcTransportOptions, parse: (body: unknown) => Response | null) {
    this.#options = options;
    this.#parse = parse;
    this.servers = options.servers.length;
    this.#clients = options.servers.map(() => null);
  }

  async call(
    server: number,
    request: Request,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<Response> {
    const body = await this.#client(server).call(request, options);
    const response = this.#parse(body);
    if (response === null) throw new Error(`server ${server} sent an invalid response`);
    return response;
  }

  async close(): Promise<void> {
    await Promise.all(this.#clients.map((client) => client?.close()));
  }

  #client(server: number): RpcClient {
    let client = this.#clients[server];
    if (client === null || client === undefined) {
      client = new RpcClient({
        address: this.#options.servers[server]!,
        clusterName: this.#options.clusterName,
        secret: this.#options.secret,
        logger: this.#options.logger,
      });
      this.#clients[server] = client;
    }
    return client;
  }
}

/** The KV clerk's transport. */
export class RpcKvTransport extends RpcGroupTransport<KvRequest, KvResponse>
  implements KvTransport {
  constructor(options: RpcTransportOptions) {
    super(options, parseResponse);
  }
}

const ERROR_CODES: ReadonlySet<string> = new Set([
  "notLeader",
  "busy",
  "wrongGroup",
  "badRequest",
  "tooManySessions",
  "staleRequest",
  "keyTooLarge",
  "valueTooLarge",
]);

/** Validates a response body; null when it is not one. */
export function parseResponse(body: unknown): KvResponse | null {
  if (typeof body !== "object" || body === null) return null;
  const fields = body as Record<string, unknown>;
  if (fields.ok === true) {
    if (fields.value !== undefined && typeof fields.value !== "string") return null;
    return fields.value === undefined ? { ok: true } : { ok: true, value: fields.value };
  }
  if (fields.ok !== false || typeof fields.error !== "object" || fields.error === null) return null;
  const error = fields.error as Record<string, unknown>;
  if (typeof error.code !== "string" || !ERROR_CODES.has(error.code)) return null;
  if (error.code === "notLeader") {
    const hint = error.leaderHint;
    if (hint !== null && !(typeof hint === "number" && Number.isSafeInteger(hint) && hint > 0)) {
      return null;
    }
  }
  return { ok: false, error: error as never };
}
