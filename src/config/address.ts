/**
 * `host:port` addresses as written in the config file. Only the syntax is checked here:
 * names are not resolved, so `localhost:7101` and `127.0.0.1:7101` count as different.
 */

/** A TCP address from the config file. `host` has no brackets, even for IPv6. */
export interface Address {
  readonly host: string;
  readonly port: number;
}

/** The outcome of {@link parseAddress}: an address, or why the text is not one. */
export type AddressResult =
  | { readonly ok: true; readonly address: Address }
  | { readonly ok: false; readonly reason: string };

const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;
const PORT = /^[0-9]{1,5}$/;

/** Parses `host:port` or `[ipv6]:port`; the port must be in 1..65535. */
export function parseAddress(text: string): AddressResult {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") {
      return { ok: false, reason: 'an IPv6 address is written "[::1]:7101"' };
    }
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!IPV6.test(host) || !host.includes(":")) {
      return { ok: false, reason: `"${host}" is not an IPv6 address` };
    }
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) return { ok: false, reason: 'missing ":port"' };
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host === "") return { ok: false, reason: "missing host" };
    if (!HOSTNAME.test(host)) {
      return { ok: false, reason: `"${host}" is not a host name or IPv4 address` };
    }
  }
  if (!PORT.test(portText)) return { ok: false, reason: "the port must be a decimal number" };
  const port = Number(portText);
  if (port < 1 || port > 65_535) {
    return { ok: false, reason: `port ${port} is outside 1..65535` };
  }
  return { ok: true, address: { host, port } };
}

/** Formats an address the way the config file writes it (`[::1]:7101` for IPv6). */
export function formatAddress(address: Address): string {
  return address.host.includes(":")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}
