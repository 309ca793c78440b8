/**
 * The admin HTTP endpoint of every process (Hono on `Deno.serve`): health, status, metrics,
 * and mutating calls that need the admin token. Bound to 127.0.0.1 unless configured.
 * Routes that only some processes have (the shard master's join / leave) are added by the
 * caller through `extend`.
 */

import { Hono } from "hono";
import type { Context } from "hono";

/** What the admin app serves. */
export interface AdminAppOptions {
  /** The JSON document of `GET /status`. */
  readonly status: () => unknown;
  /** The Prometheus text of `GET /metrics`. */
  readonly metrics: () => string;
  /** True when the process can serve (e.g. storage recovered, not shutting down). */
  readonly healthy: () => boolean;
  /** The admin token mutating calls must present as `Authorization: Bearer <token>`. */
  readonly adminToken: string;
  /** Adds process-specific routes; `requireToken` guards a handler. */
  readonly extend?: (app: Hono, requireToken: RequireToken) => void;
}

/** Wraps a handler so it answers 401 unless the request carries the admin token. */
export type RequireToken = (
  handler: (c: Context) => Response | Promise<Response>,
) => (c: Context) => Response | Promise<Response>;

/** Builds the Hono app. */
export function createAdminApp(options: AdminAppOptions): Hono {
  const app = new Hono();
  const requireToken: RequireToken = (handler) => (c) => {
    const header = c.req.header("authorization") ?? "";
    const presented = header.startsWith("Bearer ") ? header.slice("Bearer ".length) : "";
    if (!constantTimeEqual(presented, options.adminToken)) {
      return c.json({
        error: "unauthorized",
        message: "this call needs the admin token (Authorization: Bearer <admin_token>)",
      }, 401);
    }
    return handler(c);
  };
  app.get("/health", (c) => {
    const healthy = options.healthy();
    return c.json({ healthy }, healthy ? 200 : 503);
  });
  app.get("/status", (c) => c.json(options.status() as Record<string, unknown>));
  app.get(
    "/metrics",
    (c) =>
      c.text(options.metrics(), 200, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
      }),
  );
  options.extend?.(app, requireToken);
  app.notFound((c) =>
    c.json({ error: "notFound", message: `no route ${c.req.method} ${c.req.path}` }, 404)
  );
  app.onError((error, c) => c.json({ error: "internal", message: error.message }, 500));
  return app;
}

/** Compares two strings in time that does not depend on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  let difference = left.length ^ right.length;
  const length = Math.max(left.length, right.length);
  for (let k = 0; k < length; k++) difference |= (left[k] ?? 0) ^ (right[k] ?? 0);
  return difference === 0;
}

/** A running admin server. */
export interface AdminServer {
  readonly port: number;
  readonly hostname: string;
  shutdown(): Promise<void>;
}

/** Serves `app` on host:port (port 0 picks a free one). */
export function serveAdmin(app: Hono, hostname: string, port: number): Promise<AdminServer> {
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname,
      port,
      onListen: (address) => {
        resolve({
          port: address.port,
          hostname: address.hostname,
          shutdown: () => server.shutdown(),
        });
      },
    }, app.fetch);
  });
}
