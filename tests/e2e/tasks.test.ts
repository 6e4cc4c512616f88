/**
 * `deno task start` must work both where Deno came from npm (node_modules/.bin
 * holds the npm `deno`, which a task saying `deno run …` would mis-run as a
 * JS file: denoland/deno#27114) and for a user with a system Deno and no
 * node_modules at all. It must also pass SIGTERM on to the server. `npm start`
 * runs the same script (scripts/start.sh): quiet on a first start, and
 * `--workers` works through it.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { rawRequest, ROOT, tempFile, waitFor } from "../helpers/harness.ts";

const NPM_DENO = `${ROOT}node_modules/.bin/deno`;

async function startTask(
  cwd: string,
  deno: string,
  env: Record<string, string>,
  file: string,
  args = ["task", "start"],
) {
  const child = new Deno.Command(deno, {
    args: [...args, "--port", "0", file],
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const out: string[] = [];
  const err: string[] = [];
  const read = async (s: ReadableStream<Uint8Array>, into: string[]) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) into.push(chunk);
  };
  const reading = Promise.all([read(child.stdout, out), read(child.stderr, err)]);
  const url = await waitFor(
    () => /on (http:\S+\/)\n/.exec(out.join(""))?.[1],
    30_000,
    `task start (stderr: ${err.join("")})`,
  );
  return { child, url, out, err, reading };
}

async function stopAndCheck(t: Awaited<ReturnType<typeof startTask>>) {
  const res = await fetch(t.url + "healthz");
  assertEquals(await res.text(), "ok\n");
  t.child.kill("SIGTERM");
  const status = await t.child.status;
  await t.reading;
  assertEquals(status.code, 0, t.err.join(""));
  assertMatch(t.err.join(""), /shutting down signal=SIGTERM/);
  // The server itself is gone too (not orphaned behind the task runner).
  const gone = await fetch(t.url + "healthz").then(() => false, () => true);
  assert(gone, "server still answering after the task exited");
}

Deno.test({
  name: "deno task start works with the npm Deno in node_modules/.bin, and forwards SIGTERM",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const file = await tempFile("task");
    const t = await startTask(ROOT, NPM_DENO, {}, file);
    await stopAndCheck(t);
  },
});

Deno.test({
  name: "deno task start works for a system Deno in a checkout without node_modules",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "filewatch-sysdeno-" });
    // The project as a user would clone it: tracked and new files, no node_modules.
    const files = new TextDecoder().decode(
      (await new Deno.Command("git", { args: ["ls-files", "-co", "--exclude-standard"], cwd: ROOT }).output()).stdout,
    ).split("\n").filter((f) => f && !f.startsWith("node_modules/"));
    for (const f of files) {
      try {
        const data = await Deno.readFile(`${ROOT}${f}`);
        await Deno.mkdir(`${work}/${f}`.replace(/\/[^/]+$/, ""), { recursive: true });
        await Deno.writeFile(`${work}/${f}`, data);
      } catch { /* listed but deleted in the work tree */ }
    }
    const bin = `${work}/.system-bin`;
    await Deno.mkdir(bin);
    await Deno.copyFile(`${ROOT}node_modules/deno/deno`, `${bin}/deno`);
    await Deno.chmod(`${bin}/deno`, 0o755);
    const path = `${bin}:/usr/bin:/bin`;
    const file = await tempFile("system");
    const t = await startTask(work, `${bin}/deno`, { PATH: path }, file);
    await stopAndCheck(t);
    await Deno.remove(work, { recursive: true });
  },
});

/** A line of filewatch's own text log (src/log.ts). */
const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARN|ERROR) /;

Deno.test({
  name:
    "a first npm start (empty DENO_DIR) prints the start line on stdout and only log lines on stderr; SIGTERM to npm stops it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const file = await tempFile("npm start");
    // A first start: Deno's cache is empty, so hono and bcryptjs are fetched now (and nothing else).
    const denoDir = await Deno.makeTempDir({ prefix: "filewatch-denodir-" });
    const t = await startTask(ROOT, "npm", { DENO_DIR: denoDir }, file, ["start", "--silent", "--"]);
    await stopAndCheck(t);
    assertEquals(t.out.join(""), `filewatch: watching ${file} on ${t.url}\n`);
    const noise = t.err.join("").split("\n").filter((l) => l !== "" && !LOG_LINE.test(l));
    assertEquals(noise, [], `stderr holds more than log lines:\n${t.err.join("")}`);
    // Only the server's own npm packages were fetched (package.json's dependencies), none of the tests'
    // (playwright-core, axe-core, …), which deno.lock records too.
    const deps = Object.keys(JSON.parse(await Deno.readTextFile(`${ROOT}package.json`)).dependencies);
    const fetched = [...Deno.readDirSync(`${denoDir}/npm/registry.npmjs.org`)].map((e) => e.name).sort();
    assert(fetched.includes("hono"), `fetched ${fetched.join(" ")}`);
    assertEquals(fetched.filter((name) => !deps.includes(name)), [], "fetched but not the server's");
    await Deno.remove(denoDir, { recursive: true });
  },
});

Deno.test({
  name: "npm start -- --workers 2 runs two Deno workers (--allow-run for Deno itself only); SIGTERM stops all, exit 0",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const file = await tempFile("workers");
    const t = await startTask(ROOT, "npm", {}, file, ["start", "--silent", "--", "--workers", "2"]);
    const port = Number(new URL(t.url).port);
    const seen = new Set<string>();
    await waitFor(
      async () => {
        // A new connection each time: the kernel spreads them over the workers.
        const r = await rawRequest(port, `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
        const worker = /worker="(\d+)"/.exec(r.body)?.[1];
        if (worker) seen.add(worker);
        return seen.size === 2;
      },
      15_000,
      "/metrics from worker 0 and worker 1",
    );
    // Bounded: a supervisor that cannot signal its workers would wait for them for ever. Then it is
    // killed, and its workers follow (their stdin from it ends).
    const supervisor = Number(/ INFO listening .* workers=2 pid=(\d+)/.exec(t.err.join(""))?.[1]);
    const timer = setTimeout(() => {
      try {
        Deno.kill(supervisor, "SIGKILL");
      } catch { /* gone */ }
    }, 15_000);
    try {
      await stopAndCheck(t);
    } finally {
      clearTimeout(timer);
    }
    const err = t.err.join("");
    assertEquals(err.split("\n").filter((l) => / INFO worker stopped .*code=0/.test(l)).length, 2, err);
    const noise = err.split("\n").filter((l) => l !== "" && !LOG_LINE.test(l));
    assertEquals(noise, [], `stderr holds more than log lines:\n${err}`);
  },
});
