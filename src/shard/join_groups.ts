/**
 * Naming the groups of a join: by gid, as the cluster config file describes them (what
 * `shardkv clerk join GID...` and `POST /join {"gids": [...]}` do), or in full.
 */

import type { Config } from "../config/mod.ts";

/** The groups a join adds: named by gid from the config's [[groups]], or given in full. */
export function joinGroups(
  config: Config,
  body: Record<string, unknown>,
): [number, string[]][] | string {
  if (Array.isArray(body.gids)) {
    const groups: [number, string[]][] = [];
    for (const gid of body.gids) {
      const group = config.groups.find((candidate) => candidate.gid === gid);
      if (group === undefined) {
        return `group ${JSON.stringify(gid)} is not among the [[groups]] of the config file`;
      }
      groups.push([group.gid, group.replicas.map((replica) => replica.id)]);
    }
    return groups.length > 0 ? groups : '"gids" names no group';
  }
  if (typeof body.groups === "object" && body.groups !== null && !Array.isArray(body.groups)) {
    const groups: [number, string[]][] = [];
    for (const [gid, replicas] of Object.entries(body.groups)) {
      if (
        !/^[0-9]+$/.test(gid) || !Array.isArray(replicas) ||
        !replicas.every((id) => typeof id === "string")
      ) {
        return '"groups" must map gid strings to arrays of replica ids';
      }
      groups.push([Number(gid), replicas as string[]]);
    }
    return groups;
  }
  return 'give "gids" (groups of the config file) or "groups" ({"gid": ["replica-id", ...]})';
}
