/**
 * The help text of `shardkv` and of each subcommand: usage, flags and an example. Kept
 * apart from the parsing so that the text reads like a man page.
 */

import { VERSION } from "../version.ts";

/** The subcommands, in the order the help lists them. */
export const COMMAND_NAMES = ["node", "shardmaster", "clerk", "local", "status"] as const;
/** One subcommand's name. */
export type CommandName = typeof COMMAND_NAMES[number];

/** The top-level help: what shardkv is, its commands, global flags and exit codes. */
export function mainUsage(): string {
  return `shardkv ${VERSION}: a sharded, Raft-replicated key-value store

Usage:
  shardkv <command> [flags]
  shardkv help [command]
  shardkv --version

Commands:
${COMMAND_NAMES.map((name) => `  ${name.padEnd(12)} ${COMMAND_HELP[name].summary}`).join("\n")}

Flags:
  -h, --help   Print this help; 'shardkv <command> --help' prints a command's flags.
  --version    Print the version.

Exit codes: 0 success, 1 failure, 2 bad command line or invalid configuration.
Every process reads the same cluster configuration file; cluster.example.toml (a sharded
cluster) documents every key, cluster.single.toml is one group without sharding.
`;
}

/** The help of one subcommand. */
export function commandUsage(name: CommandName): string {
  const help = COMMAND_HELP[name];
  return `shardkv ${name}: ${help.summary}

Usage:
  ${help.usage}

${help.body}`;
}

interface CommandHelp {
  readonly summary: string;
  readonly usage: string;
  readonly body: string;
}

const CONFIG_FLAG = "  --config FILE      The cluster configuration (TOML). Required.";
const HELP_FLAG = "  -h, --help         Print this help.";

const COMMAND_HELP = {
  node: {
    summary: "run one replica of a replica group",
    usage: "shardkv node --config FILE --id REPLICA",
    body: `Runs the replica REPLICA of its group from FILE: Raft, the KV state machine and,
with a [shardmaster] section, the shard ownership logic. Its data lives in
<storage.data_dir>/<REPLICA>.

Flags:
${CONFIG_FLAG}
  --id REPLICA       The id of a replica in one of the [[groups]]. Required.
  --log-format F     auto, json or text; overrides [log] format (local uses text on a terminal).
${HELP_FLAG}

Example:
  shardkv node --config cluster.toml --id r1
`,
  },
  shardmaster: {
    summary: "run one replica of the shard master group",
    usage: "shardkv shardmaster --config FILE --id REPLICA",
    body: `Runs the replica REPLICA of the shard master, which decides which group serves
which shard. FILE must have a [shardmaster] section.

Flags:
${CONFIG_FLAG}
  --id REPLICA       The id of a replica in [shardmaster]. Required.
${HELP_FLAG}

Example:
  shardkv shardmaster --config cluster.toml --id sm1
`,
  },
  clerk: {
    summary: "a client: get, put, append, delete; join, leave, move, query",
    usage: "shardkv clerk --config FILE [--timeout-ms MS] OPERATION\n" +
      "  shardkv clerk --config FILE [--timeout-ms MS] --stdin",
    body: `Runs one operation against the cluster in FILE and prints its result, or with
--stdin reads operations from standard input, one per line, and prints one result line
for each (one client session for all of them).

Operations on keys:
  get KEY              Print the value of KEY (empty if absent).
  put KEY VALUE        Set KEY to VALUE.
  append KEY VALUE     Append VALUE to the value of KEY.
  delete KEY           Remove KEY.
Operations on the shard master (need a [shardmaster] section):
  join GID...          Add replica groups; shards are rebalanced onto them.
  leave GID...         Remove replica groups; their shards move to the others.
  move SHARD GID       Assign SHARD to group GID.
  query [NUM]          Print configuration NUM (default: the latest).

With --stdin, each line is a JSON object: "op" names the operation, its arguments
are fields, and an optional "id" (any JSON value) is echoed in the result line:
  {"op":"get","key":"k"}            {"op":"put","key":"k","value":"v"}
  {"op":"delete","key":"k"}         {"op":"append","key":"k","value":"v"}
  {"op":"join","gids":[1,2]}        {"op":"leave","gids":[3]}
  {"op":"move","shard":4,"gid":3}   {"op":"query"}   {"op":"query","num":1}
Each result line is {"ok":true,...} with "value" for a get, "num" (the config made)
for join, leave and move, "config" for a query; or {"ok":false,"error":CODE,
"message":...}, plus "outcome":"unknown" after a timeout. Exit 1 if any line failed.

Flags:
${CONFIG_FLAG}
  --timeout-ms MS    Give up after MS milliseconds (default 10000). A write that
                     times out may or may not have happened.
  --stdin            Read operations from standard input instead of the command line.
${HELP_FLAG}

Put '--' before a value that starts with '-'.

Examples:
  shardkv clerk --config cluster.toml put greeting hello
  shardkv clerk --config cluster.toml get greeting
  shardkv clerk --config cluster.toml join 2 3
  shardkv clerk --config cluster.toml put -- offset -5
  echo '{"op":"query"}' | shardkv clerk --config cluster.toml --stdin
`,
  },
  local: {
    summary: "start every process of a config file on this host",
    usage: "shardkv local --config FILE [--no-restart]",
    body: `Starts every replica of every group (and of the shard master) in FILE as a
child process on this host and supervises them: the demo and development setup. Each
output line is tagged with its replica id; a table shows every admin endpoint. Data
directories (<storage.data_dir>/<REPLICA>) are created. A process that exits is reported
and restarted after 1 s, 2 s, 4 s ... up to 30 s (back to 1 s after a minute of running).
Ctrl-C or SIGTERM stops every process (SIGTERM, then SIGKILL after 5 s) and exits 0.

Flags:
${CONFIG_FLAG}
  --no-restart       Leave a process that exits down; exit 1 once all have exited.
${HELP_FLAG}

Examples:
  shardkv local --config cluster.example.toml    # the sharded demo: 12 processes
  shardkv local --config cluster.single.toml     # one group of 3, no sharding
`,
  },
  status: {
    summary: "print a cluster-wide status table",
    usage: "shardkv status --config FILE [--json]",
    body: `Asks GET /status of the admin endpoint of every process in FILE (every replica
of every group and of the shard master), all at once with a 1 s timeout each, and prints
one table: replica, kind, group, role, term, leader (a replica id), commit and applied
index; in a sharded cluster also the shard configuration number and the shard states
(runs such as 0-3:serving 4:pulling). A process that did not answer shows the role
"unreachable" (or "error" for an answer that is not a status document) and the reason
in NOTE. Under the table, one line per group: its leader, term and replicas reachable.

Flags:
${CONFIG_FLAG}
  --json             Print a JSON array instead, one object per process:
                     {id, kind, group, admin, status, error}, status being the
                     GET /status document or null when the process did not answer.
${HELP_FLAG}

Exit codes: 0 every process answered, 1 some did not, 2 bad command line or config.

Examples:
  shardkv status --config cluster.toml
  shardkv status --config cluster.toml --json
`,
  },
} satisfies Record<CommandName, CommandHelp>;
