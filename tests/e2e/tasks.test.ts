/**
 * `deno task start` must work both where Deno came from npm (node_modules/.bin
 * holds the npm `deno`, which a task saying `deno run …` would mis-run as a
 * JS file: denoland/deno#27114) and for a user with a system Deno and no
 * node_modules at all. It must also pass SIGTERM on to the server.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { ROOT, tempFile, waitFor } from "../helpers/harness.ts";

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

Deno.test({
  name: "npm start prints only the start line and logs (no warning box), and SIGTERM to npm stops the server",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const file = await tempFile("npm start");
    const t = await startTask(ROOT, "npm", {}, file, ["start", "--silent", "--"]);
    await stopAndCheck(t);
    const all = t.out.join("") + t.err.join("");
    assert(!/Warning|Ignored build scripts/.test(all), `output a user cannot act on:\n${all}`);
  },
});
