/**
 * filewatch outside a checkout (docs/deployment.md#the-installed-command,
 * docs/deployment.md#one-executable):
 *
 * - the package `npm pack` makes, installed with npm into a temporary prefix
 *   and run as `filewatch` with nothing but Node.js on PATH: on Bun, its
 *   dependency, and with FILEWATCH_RUNTIME=deno on the Deno installed beside
 *   it (from a fresh, empty DENO_DIR: a first start);
 * - the same tarball through `npx`;
 * - `dist/filewatch` from `npm run build`, copied alone into an empty
 *   directory and run with an empty environment.
 *
 * Each gets the core cases: `--version`, `--help`, a bad flag (exit 2, one
 * line), the page, a WebSocket client that gets the content and a change,
 * `--workers 2`, SIGTERM (exit 0), and a stderr that holds log lines only.
 *
 * The tarball is packed and installed once per run, from npm's cache
 * (`--prefer-offline`) where it holds the packages.
 * @module
 */
import { basename, dirname } from "node:path";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { connect } from "../helpers/client.ts";
import { rawRequest, ROOT, RUNTIMES, type Server, startServer, tempFile, waitFor } from "../helpers/harness.ts";

const PKG = JSON.parse(await Deno.readTextFile(`${ROOT}package.json`));
const VERSION: string = PKG.version;
const DENO_VERSION: string = PKG.devDependencies.deno;
/** A line of filewatch's own text log (src/log.ts). */
const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARN|ERROR) /;

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; `must` throws with its output unless it exits 0. */
async function exec(cmd: string[], opts: { cwd?: string; must?: boolean } = {}): Promise<Output> {
  const out = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), cwd: opts.cwd, stdin: "null" }).output();
  const dec = new TextDecoder();
  const r = { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  if (opts.must && r.code !== 0) throw new Error(`${cmd.join(" ")} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r;
}

const TMP = await Deno.makeTempDir({ prefix: "filewatch-install-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(TMP, { recursive: true });
  } catch { /* already gone */ }
});

/**
 * The machine's TLS and proxy settings, which a clean environment keeps so
 * that Deno's first start can reach the npm registry (here through a
 * TLS-intercepting proxy whose CA these name). Nothing that finds a runtime.
 */
const NETWORK_ENV = Object.entries(Deno.env.toObject())
  .filter(([k]) =>
    /^(NODE_EXTRA_CA_CERTS|SSL_CERT_(FILE|DIR)|DENO_CERT|DENO_TLS_CA_STORE|(HTTPS?|NO|ALL)_PROXY)$/i.test(k)
  )
  .map(([k, v]) => `${k}=${v}`);

/** The directory that holds `node`: the one thing on PATH for the installed command. */
const NODE_DIR = dirname(
  Deno.realPathSync((await exec(["sh", "-c", "command -v node"], { must: true })).stdout.trim()),
);

interface Installed {
  tgz: string;
  /** The tarball's files, as `npm pack --json` lists them. */
  files: string[];
  prefix: string;
  bin: string;
}

let installing: Promise<Installed> | undefined;
/** `npm pack` and `npm install -g --prefix` once per run. */
function installed(): Promise<Installed> {
  return installing ??= (async () => {
    const packed = await exec(["npm", "pack", "--json", "--pack-destination", TMP], { cwd: ROOT, must: true });
    const [pack] = JSON.parse(packed.stdout);
    const tgz = `${TMP}/${pack.filename}`;
    const prefix = `${TMP}/prefix`;
    // --ignore-scripts: as npm 12 does for install scripts nobody approved. The command must work without
    // Bun's and Deno's (which only move their binary out of the per-platform package).
    await exec([
      "npm",
      "install",
      "-g",
      "--prefix",
      prefix,
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      "--ignore-scripts",
      tgz,
      `deno@${DENO_VERSION}`,
    ], { cwd: TMP, must: true });
    return { tgz, files: pack.files.map((f: { path: string }) => f.path), prefix, bin: `${prefix}/bin/filewatch` };
  })();
}

let building: Promise<string> | undefined;
/** `npm run build`, and dist/filewatch copied alone into an empty directory; returns the copy. */
function built(): Promise<string> {
  return building ??= (async () => {
    await exec(["npm", "run", "--silent", "build"], { cwd: ROOT, must: true });
    const dir = `${TMP}/empty`;
    await Deno.mkdir(dir);
    await Deno.copyFile(`${ROOT}dist/filewatch`, `${dir}/filewatch`);
    await Deno.chmod(`${dir}/filewatch`, 0o755);
    return `${dir}/filewatch`;
  })();
}

/** A way to run filewatch: the command line before filewatch's own arguments. */
interface Way {
  name: string;
  runtime: "deno" | "bun";
  command: () => Promise<string[]>;
}

/**
 * The installed command with only Node.js on PATH, and a HOME and DENO_DIR of its own that start empty: its
 * first command (`--version`, whose stderr must be empty) is a first start, which on Deno fetches the
 * server's npm packages.
 */
function installedWay(runtime: "deno" | "bun"): Way {
  let home: Promise<string> | undefined;
  return {
    name: `installed filewatch (${runtime === "bun" ? "Bun, its dependency" : "FILEWATCH_RUNTIME=deno"})`,
    runtime,
    async command() {
      const { prefix, bin } = await installed();
      const homeDir = await (home ??= Deno.makeTempDir({ dir: TMP, prefix: "home-" }));
      const path = `${prefix}/bin:${NODE_DIR}`;
      for (const dir of path.split(":")) {
        for (const rt of ["bun", "deno"]) {
          // The prefix's own bin/deno is the `deno` package's (installed beside filewatch).
          if (!(dir === `${prefix}/bin` && rt === "deno")) {
            assert(
              !exists(`${dir}/${rt}`),
              `${dir}/${rt} is on PATH: the test would not show the package brings ${rt}`,
            );
          }
        }
      }
      return [
        "env",
        "-i",
        `PATH=${path}`,
        `HOME=${homeDir}`,
        `DENO_DIR=${homeDir}/deno-dir`,
        ...NETWORK_ENV,
        ...(runtime === "deno" ? ["FILEWATCH_RUNTIME=deno"] : []),
        bin,
      ];
    },
  };
}

const binaryWay: Way = {
  name: "dist/filewatch alone in an empty directory, empty environment",
  runtime: "bun",
  async command() {
    return ["env", "-i", await built()];
  },
};

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function runTo(way: Way, args: string[]): Promise<Output> {
  return await exec([...await way.command(), ...args]);
}

async function start(way: Way, file: string, args: string[] = []): Promise<Server> {
  return await startServer(way.runtime, { file, args, command: await way.command() });
}

/**
 * Kills what a failed case may leave: the launcher runs the server in its own
 * process group, so killing the launcher alone would not reach the server or
 * a supervisor (whose workers end with it). Their pids are in the log.
 */
function killLeftovers(s: Server) {
  for (const line of s.stderr) {
    const pid = / INFO listening .*pid=(\d+)/.exec(line)?.[1];
    if (!pid) continue;
    try {
      Deno.kill(Number(pid), "SIGKILL");
    } catch { /* exited, as it should have */ }
  }
}

/**
 * Sends `signal` and waits for every process holding the output to exit, at
 * most `ms`: a server left running (a signal not passed on) fails the case
 * instead of hanging the run.
 */
async function stopWithin(s: Server, signal: Deno.Signal, ms = 15_000): Promise<Deno.CommandStatus> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      killLeftovers(s);
      reject(new Error(`still running ${ms} ms after ${signal}:\n${s.stderr.join("\n")}`));
    }, ms);
  });
  try {
    return await Promise.race([s.stop(signal), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every stderr line is one of filewatch's log lines: no download, permission or runtime noise. */
function assertOnlyLogLines(s: Server) {
  const other = s.stderr.filter((l) => l.trim() !== "" && !LOG_LINE.test(l));
  assertEquals(other, [], `stderr:\n${s.stderr.join("\n")}`);
}

/** The core cases: flags, the page, a WebSocket client that sees the content and a change, SIGTERM. */
async function coreCases(t: Deno.TestContext, way: Way) {
  await t.step("--version prints the package's version, and nothing on stderr on a first start", async () => {
    const r = await runTo(way, ["--version"]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stdout.split("\n")[0], `filewatch ${VERSION}`);
    assertEquals(r.stderr, "");
  });
  await t.step("--help prints the usage", async () => {
    const r = await runTo(way, ["--help"]);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /^usage: filewatch \[options\] FILE/m);
    assertMatch(r.stdout, /--workers/);
  });
  await t.step("a bad flag exits 2 with one line naming it", async () => {
    const r = await runTo(way, ["--no-such-flag", "x.log"]);
    assertEquals(r.code, 2, r.stderr);
    assertEquals(r.stdout, "");
    assertMatch(r.stderr.split("\n")[0]!, /^error: .*--no-such-flag/);
  });
  await t.step("serves the page and a WebSocket client gets the content and a change; SIGTERM exits 0", async () => {
    const marker = `first-${crypto.randomUUID()}`;
    const file = await tempFile(`${marker}\n`);
    const s = await start(way, file);
    try {
      assertEquals(s.stdout, [`filewatch: watching ${file} on ${s.url}`]);
      const page = await fetch(s.url);
      assertEquals(page.status, 200);
      assert((await page.text()).includes(marker), "the page holds the file's content");
      const c = connect(s.wsUrl);
      await c.opened;
      assert(String((await c.message(0)).data).includes(marker), "the first message is the content");
      const changed = `second-${crypto.randomUUID()}`;
      await Deno.writeTextFile(file, `${marker}\n${changed}\n`);
      await waitFor(() => c.messages.some((m) => String(m.data).includes(changed)), 10_000, "the change");
      c.close();
      // The line index and the search run in Web Workers started from module URLs: in dist/filewatch those URLs
      // point into the binary (scripts/build.mjs), so each way answers both routes.
      await waitFor(
        async () => {
          const r = await fetch(`${s.url}lines?end=1&count=1`);
          const body = await r.json() as { total: number | null; lines: { text: string }[] };
          return r.status === 200 && body.total === 2 && body.lines[0]?.text === changed;
        },
        15_000,
        "/lines from the line index's worker",
      );
      const found = await fetch(`${s.url}search?q=${encodeURIComponent(changed)}`);
      assertEquals(found.status, 200);
      const events = (await found.text()).trim().split("\n").map((l) => JSON.parse(l));
      assertEquals(events.filter((e) => "text" in e).map((e) => [e.n, e.text]), [[2, changed]]);
      // A search worker that failed to start or died ends the search with an `error` beside `done`.
      assertEquals(events.at(-1), { done: true, matches: 1, scanned: (await Deno.stat(file)).size });
      const status = await stopWithin(s, "SIGTERM");
      assertEquals(status.code, 0, s.stderr.join("\n"));
      assertMatch(s.stderr.join("\n"), /shutting down signal=SIGTERM/);
      assertOnlyLogLines(s);
    } finally {
      killLeftovers(s);
      await stopWithin(s, "SIGKILL").catch(() => {});
    }
  });
}

/** `--workers 2`: one start-up line, both workers answer, SIGTERM stops them all with exit 0. */
async function workersCase(t: Deno.TestContext, way: Way) {
  await t.step("--workers 2: one start-up line, both workers answer, SIGTERM exits 0", async () => {
    const file = await tempFile("workers\n");
    const s = await start(way, file, ["--workers", "2"]);
    try {
      const seen = new Set<string>();
      await waitFor(
        async () => {
          // A new connection each time: the kernel spreads them over the workers.
          const r = await rawRequest(s.port, `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
          const worker = /worker="(\d+)"/.exec(r.body)?.[1];
          if (worker) seen.add(worker);
          return seen.size === 2;
        },
        15_000,
        "/metrics from worker 0 and worker 1",
      );
      assertEquals(s.stdout, [`filewatch: watching ${file} on ${s.url}`]);
      const status = await stopWithin(s, "SIGTERM");
      assertEquals(status.code, 0, s.stderr.join("\n"));
      assertEquals(s.stderr.filter((l) => / INFO worker stopped .*code=0/.test(l)).length, 2, s.stderr.join("\n"));
      assertOnlyLogLines(s);
    } finally {
      killLeftovers(s);
      await stopWithin(s, "SIGKILL").catch(() => {});
    }
  });
}

Deno.test("the tarball holds what running needs and nothing of the tests", async () => {
  const { files } = await installed();
  for (const needed of ["package.json", "deno.json", "bin/filewatch.mjs", "src/deno.ts", "src/bun.ts"]) {
    assert(files.includes(needed), `${needed} is not in the tarball`);
  }
  assert(files.includes("src/client_bundle.ts"), "the page's script is not in the tarball");
  assertEquals(
    files.filter((f) => !/^(README\.md|package\.json|deno\.json|bin\/[\w-]+\.mjs|src\/.+\.(ts|json))$/.test(f)),
    [],
  );
  assertEquals(files.filter((f) => /(^|\/)(tests?|bench|fixtures?)\/|[._]test\.ts$/.test(f)), []);
});

for (const runtime of RUNTIMES) {
  const way = installedWay(runtime);
  Deno.test({
    name: `${way.name}: the core cases and --workers 2, with only Node.js on PATH`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async (t) => {
      await coreCases(t, way);
      await workersCase(t, way);
    },
  });
}

Deno.test({
  // npx and dist/filewatch run on Bun: with FILEWATCH_TEST_RUNTIMES=deno they are not this run's business.
  ignore: !RUNTIMES.includes("bun"),
  name: "npx filewatch-*.tgz: --version, then FILE is served; SIGTERM to npx stops the server cleanly",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { tgz } = await installed();
    const cache = (await exec(["npm", "config", "get", "cache"], { must: true })).stdout.trim();
    const marker = `npx-${crypto.randomUUID()}`;
    const file = await tempFile(`${marker}\n`);
    // As the docs say it: from the tarball's directory, `./` and all (an absolute path is taken for a command).
    const npx = [
      "sh",
      "-c",
      `cd "$1" && shift && exec npx --yes --prefer-offline "./$0" "$@"`,
      basename(tgz),
      dirname(tgz),
    ];
    let s: Server | undefined;
    try {
      // The first npx installs the package into npm's cache (seconds on a busy machine), the second reuses
      // it, so the server's start is timed alone.
      const version = await exec([...npx, "--version"]);
      assertEquals([version.code, version.stdout], [0, `filewatch ${VERSION}\n`], version.stderr);
      s = await startServer("bun", { file, command: npx });
      const page = await fetch(s.url);
      assertEquals(page.status, 200);
      assert((await page.text()).includes(marker), "the page holds the file's content");
      // npx passes SIGTERM to the `sh -c` it runs the command through, which dies of it (so npx ends
      // with 143 whatever the server does); the launcher sees its parent gone and stops the server.
      // `status` waits for every holder of the output pipes, the server included, to exit.
      await stopWithin(s, "SIGTERM");
      const log = s.stderr.join("\n");
      assertMatch(log, /shutting down signal=SIGTERM/);
      assertMatch(log, /INFO stopped clean=true/);
    } finally {
      if (s) {
        killLeftovers(s);
        await stopWithin(s, "SIGKILL").catch(() => {});
      }
      // npx installs into npm's cache (_npx/<hash>); the tarball's path is new each run, so its copy goes.
      for await (const e of Deno.readDir(`${cache}/_npx`)) {
        const manifest = await Deno.readTextFile(`${cache}/_npx/${e.name}/package.json`).catch(() => "");
        if (manifest.includes(TMP.replace(/^\//, ""))) {
          await Deno.remove(`${cache}/_npx/${e.name}`, { recursive: true });
        }
      }
    }
  },
});

Deno.test({
  ignore: !RUNTIMES.includes("bun"),
  name: `${binaryWay.name}: the core cases and --workers 2`,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await coreCases(t, binaryWay);
    await workersCase(t, binaryWay);
  },
});
