/**
 * Limits of the shard master (STYLE.md #5). Relations between them are asserted at load time.
 *
 * The history of configs has no count cap, on purpose: the lab's Query(num) must answer for
 * every config ever made (ARCHITECTURE.md, Sharding; classic-lab-tests.md §3.1), and a cap
 * would either forget history or refuse every later Join / Leave / Move, wedging the cluster.
 * What bounds it instead: one config is made per accepted admin command (an operator action,
 * not client traffic), and each config is O(shards + groups × replicas), at most
 * CONFIG_BYTES_MAX. A typical cluster (10 shards, 3 groups of 3 replicas with 20-byte ids)
 * spends ~250 snapshot bytes per config: 10 000 admin commands cost ~2.5 MB.
 * Known debt: a cluster that churns configs for years would want the prefix that no group
 * still needs compacted (groups apply configs in order, so each needs only those after its
 * own), which changes what Query(old num) can answer.
 */

import { assert } from "../util/assert.ts";
import { ENTRY_BYTES_MAX, VOTERS_MAX } from "../raft/core/limits.ts";
import { CLIENT_SESSIONS_MAX, SHARDS_MAX } from "../kv/limits.ts";

export { SHARDS_MAX };

/**
 * Most replica groups one config may hold. Groups beyond the shard count hold no shard (the
 * lab allows it: 15 groups over 10 shards), so more than SHARDS_MAX would only be idle.
 */
export const GROUPS_MAX = SHARDS_MAX;

/** Most replicas one group may list: they are the group's Raft voters. */
export const REPLICAS_PER_GROUP_MAX = VOTERS_MAX;

/** Longest replica id, in UTF-8 bytes: a name or a host:port, never a document. */
export const REPLICA_ID_BYTES_MAX = 256;

/**
 * Most client sessions the shard master remembers (exactly-once Join / Leave / Move). Its
 * clients are group replicas and admin clerks, far fewer than KV clients, but the table's
 * eviction rules are the KV ones, so the same bound is safe.
 */
export const MASTER_SESSIONS_MAX = CLIENT_SESSIONS_MAX;

/**
 * Upper bound on one config's msgpack size: 9 bytes per shard entry, and per group a 9-byte
 * gid, an array header, and its replica ids with their string headers.
 */
export const CONFIG_BYTES_MAX = 16 + SHARDS_MAX * 9 +
  GROUPS_MAX * (16 + REPLICAS_PER_GROUP_MAX * (REPLICA_ID_BYTES_MAX + 5));

// A Join of GROUPS_MAX full groups at once must fit in one Raft entry (it is one command).
assert(CONFIG_BYTES_MAX + 64 <= ENTRY_BYTES_MAX, "a largest Join must fit in one Raft entry");
assert(REPLICAS_PER_GROUP_MAX >= 1, "a group has at least one replica");
assert(GROUPS_MAX >= 1 && SHARDS_MAX >= 1, "a cluster has room for a group and a shard");
assert(MASTER_SESSIONS_MAX >= 1, "the shard master keeps at least one session");
