// Integration-test harness: a private network namespace per test, processes
// started inside it tracked by PID and ended by PID, and the namespace always
// deleted. Every command runs with a time limit.

const ROOT = new URL("../../", import.meta.url).pathname;
let counter = 0;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Whether this machine can run the root tests; on CI they must. */
export function integrationIgnored(): boolean {
  // Device files need --allow-all to stat from Deno; ask the shell instead.
  const tun = new Deno.Command("test", { args: ["-c", "/dev/net/tun"] }).outputSync().success;
  const ok = Deno.uid() === 0 && tun;
  if (!ok && Deno.env.get("CI") === "true") {
    throw new Error("Integration tests need root and /dev/net/tun on CI");
  }
  return !ok;
}

async function readAll(s: ReadableStream<Uint8Array>, sink: (t: string) => void) {
  const dec = new TextDecoder();
  for await (const chunk of s) sink(dec.decode(chunk, { stream: true }));
}

/** A process started inside a namespace, with its output collected. */
export class Proc {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly done: Promise<Deno.CommandStatus>;
  #ended = false;

  constructor(child: Deno.ChildProcess) {
    this.child = child;
    const out = readAll(child.stdout, (t) => this.stdout += t);
    const err = readAll(child.stderr, (t) => this.stderr += t);
    this.done = Promise.all([out, err]).then(() => child.status).then((s) => {
      this.#ended = true;
      return s;
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Whether the process has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Waits until `pattern` shows in stdout or stderr. */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (pattern.test(this.stdout) || pattern.test(this.stderr)) return;
      if (this.#ended) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(
      `Timed out waiting for ${pattern}: stdout=${this.stdout.slice(-2000)} stderr=${
        this.stderr.slice(-2000)
      }`,
    );
  }

  /** Sends `signal`, then SIGKILL if the process has not ended in `graceMs`. */
  async stop(signal: Deno.Signal = "SIGTERM", graceMs = 5000): Promise<Deno.CommandStatus> {
    if (!this.#ended) {
      try {
        this.child.kill(signal);
      } catch { /* already gone */ }
      const t = setTimeout(() => {
        try {
          this.child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, graceMs);
      const s = await this.done;
      clearTimeout(t);
      return s;
    }
    return await this.done;
  }
}

/** A private network namespace for one test. */
export class Netns {
  readonly name: string;
  #procs: Proc[] = [];

  private constructor(name: string) {
    this.name = name;
  }

  static async create(): Promise<Netns> {
    const name = `tunstack-t${Deno.pid}-${++counter}`;
    const ns = new Netns(name);
    await hostRun(["ip", "netns", "add", name]);
    await ns.run(["ip", "link", "set", "lo", "up"]);
    return ns;
  }

  #argv(cmd: string[]): string[] {
    return ["ip", "netns", "exec", this.name, ...cmd];
  }

  /** Runs a command to completion inside the namespace. */
  async run(cmd: string[], timeoutMs = 30_000, stdin?: Uint8Array): Promise<RunResult> {
    const p = this.spawn(cmd, stdin !== undefined);
    if (stdin !== undefined) {
      const w = p.child.stdin.getWriter();
      await w.write(stdin);
      await w.close();
    }
    const t = setTimeout(() => p.stop("SIGKILL"), timeoutMs);
    const s = await p.done;
    clearTimeout(t);
    return { code: s.code, stdout: p.stdout, stderr: p.stderr };
  }

  /** Runs and fails the test on a non-zero exit. */
  async ok(cmd: string[], timeoutMs = 30_000): Promise<string> {
    const r = await this.run(cmd, timeoutMs);
    if (r.code !== 0) {
      throw new Error(`${cmd.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
    }
    return r.stdout;
  }

  /** Starts a process inside the namespace; it is ended when the namespace closes. */
  spawn(cmd: string[], stdin = false): Proc {
    const argv = this.#argv(cmd);
    const child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdout: "piped",
      stderr: "piped",
      stdin: stdin ? "piped" : "null",
      cwd: ROOT,
    }).spawn();
    const p = new Proc(child);
    this.#procs.push(p);
    return p;
  }

  /** Control-socket directory of stacks started by this test. */
  controlDir = "";

  #perms(): string[] {
    const d = this.controlDir;
    return [`--allow-read=${d}`, `--allow-write=${d}`, `--allow-net=unix:${d}/tunstack0.sock`];
  }

  /** Starts `tunstack up` with extra flags and waits until it serves. */
  async startStack(flags: string[] = [], denoFlags: string[] = []): Promise<Proc> {
    const p = this.spawn([
      Deno.execPath(),
      "run",
      ...denoFlags,
      "--allow-ffi",
      ...this.#perms(),
      "cli/main.ts",
      "up",
      "--control-dir",
      this.controlDir,
      ...flags,
    ]);
    await p.waitFor(/control: |services: none/);
    return p;
  }

  /** Runs `tunstack <args>` against the stack of this namespace. */
  async tunstack(args: string[]): Promise<RunResult> {
    return await this.run([
      Deno.execPath(),
      "run",
      ...this.#perms(),
      "cli/main.ts",
      ...args,
      "--control-dir",
      this.controlDir,
    ]);
  }

  /** `tunstack <args> --json`, parsed. */
  async tunstackJson<T>(args: string[]): Promise<T> {
    const r = await this.tunstack([...args, "--json"]);
    if (r.code !== 0) throw new Error(`tunstack ${args.join(" ")}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  /** Starts tcpdump writing `file` and waits until it listens. */
  async capture(file: string, dev = "tunstack0", filter: string[] = []): Promise<Proc> {
    const p = this.spawn([
      "tcpdump",
      "-i",
      dev,
      "-n",
      "-U",
      "--immediate-mode",
      "-s",
      "256",
      "-w",
      file,
      ...filter,
    ]);
    await p.waitFor(/listening on/);
    return p;
  }

  /** Ends every process this namespace started, by PID, then deletes it. */
  async close(): Promise<void> {
    for (const p of this.#procs.reverse()) await p.stop("SIGTERM", 3000);
    await hostRun(["ip", "netns", "del", this.name]).catch(() => {});
  }
}

async function hostRun(cmd: string[]): Promise<void> {
  const r = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "null", stderr: "piped" })
    .output();
  if (r.code !== 0) {
    throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  }
}

/** Makes a temporary directory removed by the returned function. */
export async function tempDir(): Promise<[string, () => Promise<void>]> {
  const d = await Deno.makeTempDir({ prefix: "tunstack-test-" });
  return [d, () => Deno.remove(d, { recursive: true }).catch(() => {})];
}

/** Runs `body` with a fresh namespace that is always deleted. */
export async function withNetns(body: (ns: Netns, dir: string) => Promise<void>): Promise<void> {
  const ns = await Netns.create();
  const [dir, rm] = await tempDir();
  ns.controlDir = `${dir}/control`;
  try {
    await body(ns, dir);
  } finally {
    await ns.close();
    await rm();
  }
}
