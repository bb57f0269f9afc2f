/**
 * `tunstack`: the command-line entry point.
 *
 * ```sh
 * deno run --allow-ffi cli/main.ts up [flags]
 * ```
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };
import { INSPECT_HELP, runInspect } from "./inspect.ts";
import { runUp, UP_HELP } from "./up.ts";

/** The version, from deno.json. */
export const VERSION: string = denoJson.version;

const HELP = `tunstack: a userspace IPv4/IPv6 + TCP stack on a Linux TUN device

Usage: tunstack <command> [flags]

Commands:
  up        create the TUN device and run the stack (see tunstack up --help)
  ss        list the connections of a running stack (-i: details)
  tw        list TIME_WAIT entries of a running stack
  stats     print the counters of a running stack
  sysctl    read or set run-time settings of a running stack
  help      show this text
  version   print the version (also --version)

${INSPECT_HELP}
`;

/**
 * Runs the CLI; resolves to the exit status (2 for a usage error).
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * await main(["--version"]); // 0, after printing "tunstack 0.3.0"
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  switch (cmd) {
    case "up":
      if (rest.includes("--help") || rest.includes("-h")) {
        console.log(UP_HELP);
        return 0;
      }
      return await runUp(rest);
    case "tw":
    case "ss":
    case "stats":
    case "sysctl":
      if (rest.includes("--help") || rest.includes("-h")) {
        console.log(INSPECT_HELP);
        return 0;
      }
      return await runInspect(cmd, rest);
    case "version":
    case "--version":
    case "-V":
      console.log(`tunstack ${VERSION}`);
      return 0;
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
