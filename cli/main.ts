/**
 * `tunstack`: the command-line entry point.
 *
 * ```sh
 * deno run --allow-ffi cli/main.ts up [flags]
 * ```
 *
 * @module
 */

import { INSPECT_HELP, runInspect } from "./inspect.ts";
import { runUp, UP_HELP } from "./up.ts";

const HELP = `tunstack: a userspace IPv4/IPv6 + TCP stack on a Linux TUN device

Usage: tunstack <command> [flags]

Commands:
  up        create the TUN device and run the stack (see tunstack up --help)
  tw        list TIME_WAIT entries of a running stack
  stats     print the counters of a running stack
  sysctl    read or set run-time settings of a running stack
  help      show this text

${INSPECT_HELP}
`;

async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  switch (cmd) {
    case "up":
      if (rest.includes("--help") || rest.includes("-h")) {
        console.log(UP_HELP);
        return 0;
      }
      return await runUp(rest);
    case "tw":
    case "stats":
    case "sysctl":
      if (rest.includes("--help") || rest.includes("-h")) {
        console.log(INSPECT_HELP);
        return 0;
      }
      return await runInspect(cmd, rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(HELP);
      return 0;
    default:
      console.error(`tunstack: unknown command: ${cmd} (try tunstack --help)`);
      return 2;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
