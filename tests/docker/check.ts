/**
 * The container test: builds the project's Dockerfile on stand-in base images
 * and checks what a user of `docker run` sees. Started by tests/docker/run.sh
 * once a Docker engine is up; prints one line per check and a last line
 * `docker: N passed, N failed`, and exits 1 if any check failed.
 *
 * No image registry is reachable from the test machines, so the official
 * Deno and Bun images cannot be pulled. Stand-ins are built instead: a Debian
 * bookworm rootfs from debootstrap (`docker import`), plus the runtime binary
 * from node_modules at the path the official image uses
 * (standin-deno.Dockerfile, standin-bun.Dockerfile). They are tagged by a hash
 * of their recipe and kept, so later runs reuse them.
 *
 * Environment:
 *   FILEWATCH_DOCKER_VARIANTS  "deno,bun" (default) or a subset
 *   FILEWATCH_DOCKER_LOG_DIR   where build logs go (default: a temp dir)
 *
 * @module
 */
import bcrypt from "bcryptjs";
import { certificate } from "../helpers/access.ts";
import { rawRequest } from "../helpers/harness.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const HERE = `${ROOT}/tests/docker`;
const LOG_DIR = Deno.env.get("FILEWATCH_DOCKER_LOG_DIR") ??
  await Deno.makeTempDir({ prefix: "filewatch-docker-" });

/** Debian suite of the stand-in rootfs: the official images are bookworm-based. */
const SUITE = "bookworm";
/** Paths trimmed from the rootfs so it is about as big as debian:bookworm-slim. */
const ROOTFS_TRIM = [
  "var/cache/apt/archives",
  "var/lib/apt/lists",
  "usr/share/doc",
  "usr/share/man",
  "usr/share/info",
  "usr/share/locale",
];
/** Label on every image this test builds, so it can prune what it leaves. */
const LABEL = "org.filewatch.test=1";
/** What the Dockerfile's image may add on top of its base (sources + hono). */
const MAX_ADDED_MB = 25;
/** `docker stop`'s grace period; the server must be gone well before it. */
const STOP_GRACE_S = 10;
/** How long a change on the host may take to reach a client (poll is 1s). */
const CHANGE_WAIT_MS = 15_000;

type Variant = "deno" | "bun";
const VARIANTS = (Deno.env.get("FILEWATCH_DOCKER_VARIANTS") ?? "deno,bun")
  .split(",").map((s) => s.trim()).filter(Boolean) as Variant[];

// ---------------------------------------------------------------- reporting --

let passed = 0;
let failed = 0;

async function check(name: string, fn: () => Promise<string | void>) {
  const started = performance.now();
  try {
    const detail = await fn();
    passed++;
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`ok   ${name}${detail ? ` — ${detail}` : ""} (${secs}s)`);
    return true;
  } catch (err) {
    failed++;
    const msg = err instanceof Error ? err.message : String(err);
    console.log(`FAIL ${name}\n     ${msg.replaceAll("\n", "\n     ")}`);
    return false;
  }
}

/** Records checks that could not run because what they need failed earlier. */
function notRun(names: string[], why: string) {
  for (const name of names) {
    failed++;
    console.log(`FAIL ${name}\n     not run: ${why}`);
  }
}

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

// ------------------------------------------------------------------ helpers --

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs a command to completion; never throws for a non-zero exit. */
async function run(
  cmd: string[],
  opts: { timeoutMs?: number; stdin?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    // The legacy builder: the engine here (Debian's docker.io) has no buildx,
    // and it resolves FROM images from the local store without a registry.
    env: { DOCKER_BUILDKIT: "0", ...opts.env },
    signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000),
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const r = await child.output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** Runs a command and returns its stdout; throws with its output on failure. */
async function must(
  cmd: string[],
  opts: Parameters<typeof run>[1] = {},
): Promise<string> {
  const r = await run(cmd, opts);
  if (r.code !== 0) {
    const tail = (r.out + r.err).trim().split("\n").slice(-15).join("\n");
    throw new Error(`${cmd.slice(0, 3).join(" ")} … exited ${r.code}:\n${tail}`);
  }
  return r.out;
}

async function imageExists(tag: string) {
  return (await run(["docker", "image", "inspect", tag])).code === 0;
}

async function sha256(...parts: (string | Uint8Array)[]) {
  const enc = new TextEncoder();
  const chunks = parts.map((p) => typeof p === "string" ? enc.encode(p) : p);
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) all.set(c, at), at += c.length;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")
    .slice(0, 12);
}

async function sleep(ms: number) {
  await new Promise((r) => setTimeout(r, ms));
}

/** Thrown by a probe to stop waiting at once (the awaited thing cannot happen). */
class Fatal extends Error {}

/**
 * Polls `probe` until it returns a value (not undefined) or time runs out;
 * other errors than {@link Fatal} count as "not yet".
 */
async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(250);
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? ` (last error: ${last})` : ""}`,
  );
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

async function imageSize(tag: string) {
  return Number((await must(["docker", "image", "inspect", "-f", "{{.Size}}", tag])).trim());
}

async function inspect(tag: string, format: string) {
  return (await must(["docker", "inspect", "-f", format, tag])).trim();
}

// --------------------------------------------------------------- stand-ins --

/** The Debian mirror apt on this machine uses; debootstrap's default otherwise. */
async function debianMirror(): Promise<string | undefined> {
  const files = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"];
  for (const f of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(f);
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      const m = line.match(/^URIs:\s*(\S+)/) ?? line.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/);
      if (m && !m[1]!.includes("security")) return m[1];
    }
  }
  return undefined;
}

/** A minimal Debian image from debootstrap, cached under a recipe-hash tag. */
async function rootfsImage(): Promise<string> {
  const recipe = `debootstrap --variant=minbase ${SUITE}; trim ${ROOTFS_TRIM.join(" ")}`;
  const tag = `filewatch-standin/debian:${SUITE}-${await sha256(recipe)}`;
  if (await imageExists(tag)) return tag;

  const dir = await Deno.makeTempDir({ prefix: "filewatch-rootfs-" });
  try {
    const mirror = await debianMirror();
    const log = `${LOG_DIR}/debootstrap.log`;
    const r = await run(
      ["debootstrap", "--variant=minbase", SUITE, dir, ...(mirror ? [mirror] : [])],
      { timeoutMs: 600_000 },
    );
    await Deno.writeTextFile(log, r.out + r.err);
    if (r.code !== 0) throw new Error(`debootstrap failed (${r.code}), see ${log}`);
    for (const p of ROOTFS_TRIM) {
      await run(["find", `${dir}/${p}`, "-mindepth", "1", "-delete"]);
    }
    await must([
      "sh",
      "-c",
      `tar -C "$1" -c . | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' --change "LABEL $3" - "$2"`,
      "sh",
      dir,
      tag,
      LABEL,
    ], { timeoutMs: 300_000 });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return tag;
}

const BINARIES: Record<Variant, { bin: string; file: string }> = {
  deno: { bin: `${ROOT}/node_modules/.bin/deno`, file: "deno" },
  bun: { bin: `${ROOT}/node_modules/.bin/bun`, file: "bun" },
};

/** The stand-in for the official Deno or Bun image, on top of the rootfs. */
async function standinImage(variant: Variant, rootfs: string): Promise<string> {
  const { bin, file } = BINARIES[variant];
  const version = (await must([bin, "--version"])).match(/\d+\.\d+\.\d+/)?.[0];
  assert(version, `cannot tell the version of ${bin}`);
  const dockerfile = await Deno.readFile(`${HERE}/standin-${variant}.Dockerfile`);
  // The machine's CA bundle: the npm registry is reached through a
  // TLS-intercepting proxy here (see the stand-in Dockerfiles).
  const ca = await Deno.readFile("/etc/ssl/certs/ca-certificates.crt")
    .catch(() => new Uint8Array());
  const tag = `filewatch-standin/${variant}:${version}-${await sha256(rootfs, version, dockerfile, ca)}`;
  if (await imageExists(tag)) return tag;

  const ctx = await Deno.makeTempDir({ prefix: `filewatch-standin-${variant}-` });
  try {
    await Deno.copyFile(await Deno.realPath(bin), `${ctx}/${file}`);
    await Deno.writeFile(`${ctx}/host-ca.pem`, ca);
    await must([
      "docker",
      "build",
      "-q",
      "--label",
      LABEL,
      "-f",
      `${HERE}/standin-${variant}.Dockerfile`,
      "--build-arg",
      `ROOTFS_IMAGE=${rootfs}`,
      "-t",
      tag,
      ctx,
    ], { timeoutMs: 300_000 });
  } finally {
    await Deno.remove(ctx, { recursive: true }).catch(() => {});
  }
  return tag;
}

/** Removes stand-ins of earlier recipes so they do not pile up. */
async function pruneStandins(keep: string[]) {
  const out = await run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"]);
  const stale = out.out.split("\n").filter((t) => t.startsWith("filewatch-standin/") && !keep.includes(t));
  if (stale.length) await run(["docker", "rmi", ...stale]);
}

// ------------------------------------------------------------ the clients --

/** A WebSocket client that records every message and how it was closed. */
class Client {
  readonly messages: string[] = [];
  closeCode: number | undefined;
  readonly opened: Promise<void>;
  readonly closed: Promise<number>;
  private ws: WebSocket;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => reject(new Error(`WebSocket ${url} failed to open`));
    });
    this.closed = new Promise((resolve) => {
      this.ws.onclose = (e) => {
        this.closeCode = e.code;
        resolve(e.code);
      };
    });
    this.ws.onmessage = (e) => {
      this.messages.push(
        typeof e.data === "string" ? e.data : `<binary ${String(e.data)}>`,
      );
    };
    this.opened.catch(() => {});
  }

  /** Waits for a message containing `marker` (raw or filewatch.v1 JSON). */
  async receive(marker: string, timeoutMs = CHANGE_WAIT_MS) {
    await waitFor(
      `a message containing "${marker}"`,
      timeoutMs,
      () => Promise.resolve(this.messages.some((m) => m.includes(marker)) || undefined),
    )
      .catch((err) => {
        const seen = this.messages.map((m) => JSON.stringify(m.slice(0, 80)));
        throw new Error(`${err.message}; got ${seen.length} message(s): ${seen.join(", ")}`);
      });
  }

  close() {
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close();
  }
}

// -------------------------------------------------------------- the checks --

const containers: string[] = [];
const tempDirs: string[] = [];

async function startContainer(args: string[]): Promise<string> {
  const id = (await must(["docker", "run", "-d", ...args], { timeoutMs: 60_000 })).trim();
  containers.push(id);
  return id;
}

async function logs(id: string) {
  const r = await run(["docker", "logs", id]);
  return r.out + r.err;
}

/** Waits for the server's start-up line (docs/configuration.md#start-up-line-and-output) and returns it. */
async function startupLine(id: string, file: string) {
  const want = `filewatch: watching ${file} on http://0.0.0.0:8080/`;
  return await waitFor(`"${want}" in the container's output`, 30_000, async () => {
    const text = await logs(id);
    if (text.includes(want)) return want;
    const state = await inspect(id, "{{.State.Status}}");
    if (state === "exited") {
      throw new Fatal(`the container exited:\n${text.trim().split("\n").slice(-10).join("\n")}`);
    }
    return undefined;
  }).catch(async (err) => {
    if (err instanceof Fatal) throw err;
    const tail = (await logs(id)).trim().split("\n").slice(-10).join("\n");
    throw new Error(`${err.message}; the container printed:\n${tail}`);
  });
}

/** Runs a JavaScript snippet inside the container with the image's runtime. */
function evalIn(id: string, variant: Variant, js: string, timeoutMs = 30_000) {
  const cmd = variant === "deno" ? ["deno", "eval", js] : ["bun", "-e", js];
  return must(["docker", "exec", id, ...cmd], { timeoutMs });
}

async function testVariant(variant: Variant, bases: { deno: string; bun: string }) {
  const image = `filewatch-test:${variant}`;
  const baseImage = bases[variant];
  const label = `[${variant}]`;

  const built = await check(`${label} docker build${variant === "bun" ? " --target bun" : ""} succeeds`, async () => {
    const log = `${LOG_DIR}/build-${variant}.log`;
    const r = await run([
      "docker",
      "build",
      "--label",
      LABEL,
      ...(variant === "bun" ? ["--target", "bun"] : []),
      "--build-arg",
      `DENO_IMAGE=${bases.deno}`,
      "--build-arg",
      `BUN_IMAGE=${bases.bun}`,
      "-t",
      image,
      ROOT,
    ], { timeoutMs: 600_000 });
    await Deno.writeTextFile(log, r.out + r.err);
    if (r.code !== 0) {
      throw new Error(`exit ${r.code}, log ${log}:\n${(r.out + r.err).trim().split("\n").slice(-15).join("\n")}`);
    }
    return `log ${log}`;
  });

  const imageChecks = [
    `${label} image runs as a non-root user`,
    `${label} image exposes 8080 and has a HEALTHCHECK`,
    `${label} image stays small (adds < ${MAX_ADDED_MB} MB to its base)`,
  ];
  const online = [
    `${label} server starts and prints its URL (binds 0.0.0.0:8080)`,
    `${label} GET /healthz answers 200 ok through the published port`,
    `${label} GET / shows the watched file's content`,
    `${label} server process is non-root and is PID 1 (docker stop's SIGTERM reaches it)`,
    `${label} a WebSocket client gets the content on connect`,
    `${label} a change written to the file on the host reaches the client`,
    `${label} a file replaced by rename on the host reaches the client (directory mount)`,
    `${label} docker stop: connected clients get close code 1001`,
    `${label} docker stop: the container exits 0 within the grace period`,
    `${label} a Host named in FILEWATCH_ALLOWED_HOSTS is answered, another name gets 421 (DNS rebinding)`,
  ];
  const offline = [
    `${label} starts with --network none (dependencies were installed at build time)`,
    `${label} the image's HEALTHCHECK reports healthy`,
    `${label} serves a single mounted file at the default FILEWATCH_FILE=/data/watched`,
    `${label} with file events off, polling delivers a change to a client (single-file mount)`,
  ];
  if (!built) {
    notRun([...imageChecks, ...online, ...offline], "the image did not build");
    return;
  }

  await check(imageChecks[0]!, async () => {
    const user = await inspect(image, "{{.Config.User}}");
    assert(user !== "" && !/^(root|0)(:|$)/.test(user), `USER is "${user}"`);
    return `USER ${user}`;
  });
  await check(imageChecks[1]!, async () => {
    const ports = await inspect(image, "{{json .Config.ExposedPorts}}");
    assert(ports.includes('"8080/tcp"'), `ExposedPorts is ${ports}`);
    const hc = await inspect(image, "{{json .Config.Healthcheck}}");
    assert(hc.includes("/healthz"), `Healthcheck is ${hc}`);
  });
  await check(imageChecks[2]!, async () => {
    const [size, base] = [await imageSize(image), await imageSize(baseImage)];
    const added = size - base;
    assert(added < MAX_ADDED_MB * 1e6, `the image adds ${mb(added)} to its base`);
    return `${image} ${mb(size)} = stand-in base ${mb(base)} + ${mb(added)}`;
  });

  // -- online: the documented `docker run -p … -v DIR:/data:ro` form -------
  const dir = await Deno.makeTempDir({ prefix: `filewatch-docker-${variant}-` });
  tempDirs.push(dir);
  await Deno.chmod(dir, 0o755); // readable by the container's non-root user
  const file = `${dir}/app.log`;
  const first = `first-${crypto.randomUUID()}`;
  await Deno.writeTextFile(file, `${first}\n`);
  await Deno.chmod(file, 0o644);

  let id: string;
  try {
    id = await startContainer([
      "-p",
      "127.0.0.1::8080",
      "-v",
      `${dir}:/data:ro`,
      "-e",
      "FILEWATCH_FILE=/data/app.log",
      "-e",
      "FILEWATCH_ALLOWED_HOSTS=logs.example.com",
      image,
    ]);
  } catch (err) {
    notRun([...online, ...offline], `docker run failed: ${(err as Error).message}`);
    return;
  }

  let base = "";
  const up = await check(online[0]!, async () => {
    const line = await startupLine(id, "/data/app.log");
    const port = (await must(["docker", "port", id, "8080/tcp"])).trim().split("\n")[0]!;
    base = `http://${port.replace("0.0.0.0", "127.0.0.1")}`;
    return `${line}; published at ${base}`;
  });
  if (!up) {
    notRun(online.slice(1), "the server did not start");
  } else {
    await check(online[1]!, async () => {
      const res = await waitFor("/healthz", 10_000, async () => {
        const r = await fetch(`${base}/healthz`);
        const body = await r.text();
        return { status: r.status, body };
      });
      assert(res.status === 200 && res.body.trim() === "ok", `got ${res.status} ${JSON.stringify(res.body)}`);
    });
    await check(online[2]!, async () => {
      const r = await fetch(`${base}/`);
      const body = await r.text();
      assert(r.status === 200, `status ${r.status}`);
      assert(body.includes(first), `page does not contain ${first}:\n${body.slice(0, 300)}`);
    });
    await check(online[3]!, async () => {
      const uid = (await must(["docker", "exec", id, "id", "-u"])).trim();
      assert(uid !== "0", "docker exec runs as uid 0");
      const status = await must(["docker", "exec", id, "cat", "/proc/1/status"]);
      const pid1Uid = status.match(/^Uid:\s+(\d+)/m)?.[1];
      assert(pid1Uid && pid1Uid !== "0", `PID 1 runs as uid ${pid1Uid}`);
      const cmdline = (await must(["docker", "exec", id, "cat", "/proc/1/cmdline"]))
        .split("\0").filter(Boolean);
      assert(
        cmdline[0]?.endsWith(variant) && cmdline.some((a) => a.endsWith(`src/${variant}.ts`)),
        `PID 1 is ${JSON.stringify(cmdline)}`,
      );
      return `uid ${pid1Uid}, PID 1: ${cmdline.join(" ")}`;
    });

    await check(online[9]!, async () => {
      // fetch() will not send another Host: a raw request through the published port.
      const [hostname, port] = base.replace("http://", "").split(":");
      const ask = async (host: string) => {
        const conn = await Deno.connect({ hostname: hostname!, port: Number(port) });
        await conn.write(new TextEncoder().encode(`GET /raw HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
        return await new Response(conn.readable).text();
      };
      const named = await ask("logs.example.com");
      assert(/^HTTP\/1\.1 200 /.test(named) && named.includes(first), `logs.example.com: ${named.slice(0, 80)}`);
      const other = await ask("attacker.example");
      assert(/^HTTP\/1\.1 421 /.test(other) && !other.includes(first), `attacker.example: ${other.slice(0, 80)}`);
    });

    const wsUrl = `${base.replace("http:", "ws:")}/ws`;
    const client = new Client(wsUrl);
    const connected = await check(online[4]!, async () => {
      await client.opened;
      await client.receive(first, 5_000);
    });
    await check(online[5]!, async () => {
      assert(connected, "no connected client");
      const second = `second-${crypto.randomUUID()}`;
      // In place: same inode, as a logger appending or rewriting would.
      await Deno.writeTextFile(file, `${first}\n${second}\n`);
      await client.receive(second);
    });
    await check(online[6]!, async () => {
      assert(connected, "no connected client");
      const third = `third-${crypto.randomUUID()}`;
      // New inode, as editors and log rotation do: a bind mount of the file
      // itself would keep showing the old one (docs/docker.md#run).
      await Deno.writeTextFile(`${dir}/.app.log.tmp`, `${third}\n`);
      await Deno.chmod(`${dir}/.app.log.tmp`, 0o644);
      await Deno.rename(`${dir}/.app.log.tmp`, file);
      await client.receive(third);
    });

    // A fresh client for the shutdown check, so it does not depend on the
    // ones above.
    const watcher = new Client(wsUrl);
    await watcher.opened.catch(() => {});
    await sleep(300);
    let stopSecs = -1;
    let stopped: Run | undefined;
    const stopping = (async () => {
      const t0 = performance.now();
      stopped = await run(["docker", "stop", "-t", String(STOP_GRACE_S), id], { timeoutMs: 60_000 });
      stopSecs = (performance.now() - t0) / 1000;
    })();
    await check(online[7]!, async () => {
      const code = await Promise.race([
        watcher.closed,
        sleep((STOP_GRACE_S + 5) * 1000).then(() => undefined),
      ]);
      assert(code === 1001, code === undefined ? "the client was never closed" : `close code ${code}`);
      return "close 1001";
    });
    await stopping;
    await check(online[8]!, async () => {
      assert(stopped?.code === 0, `docker stop failed: ${stopped?.err}`);
      const exit = await inspect(id, "{{.State.ExitCode}}");
      const tail = (await logs(id)).trim().split("\n").slice(-5).join("\n");
      assert(
        exit === "0" && stopSecs < STOP_GRACE_S - 1,
        `exit code ${exit} after ${stopSecs.toFixed(1)}s` +
          (exit === "137" ? " (SIGKILLed: SIGTERM did not stop the server)" : "") +
          `; last output:\n${tail}`,
      );
      return `exit 0 after ${stopSecs.toFixed(1)}s`;
    });
    client.close();
    watcher.close();
  }
  await run(["docker", "rm", "-f", id]);

  // -- offline: no network at all, single file at the default path ----------
  const single = `${dir}/single.log`;
  const marker = `offline-${crypto.randomUUID()}`;
  await Deno.writeTextFile(single, `${marker}\n`);
  await Deno.chmod(single, 0o644);
  let off: string;
  try {
    off = await startContainer([
      "--network",
      "none",
      "--health-interval",
      "1s",
      "--health-start-period",
      "30s",
      "-v",
      `${single}:/data/watched:ro`,
      // File events often do not cross bind mounts (docs/docker.md#run): with them
      // off, only polling can deliver the change checked below.
      "-e",
      "FILEWATCH_NO_EVENTS=1",
      image,
    ]);
  } catch (err) {
    notRun(offline, `docker run failed: ${(err as Error).message}`);
    return;
  }
  const offUp = await check(offline[0]!, async () => {
    await startupLine(off, "/data/watched");
  });
  if (!offUp) {
    notRun(offline.slice(1), "the server did not start");
    await run(["docker", "rm", "-f", off]);
    return;
  }
  await check(offline[1]!, async () => {
    const health = await inspect(off, "{{json .State.Health}}");
    assert(health !== "null" && health !== "", "the image has no HEALTHCHECK");
    const status = await waitFor("health status healthy", 30_000, async () => {
      const s = await inspect(off, "{{.State.Health.Status}}");
      if (s === "healthy") return s;
      if (s === "unhealthy") throw new Fatal(`unhealthy: ${await inspect(off, "{{json .State.Health.Log}}")}`);
      return undefined;
    });
    return status;
  });
  await check(offline[2]!, async () => {
    const page = await evalIn(
      off,
      variant,
      "const r = await fetch('http://127.0.0.1:8080/'); console.log(r.status, await r.text())",
    );
    assert(page.startsWith("200 ") && page.includes(marker), `got: ${page.slice(0, 300)}`);
  });
  await check(offline[3]!, async () => {
    // The client runs inside the container (there is no network to reach it
    // from outside). It passes only if its first message is the old content
    // and a later one the new, so a late connect cannot pass by accident.
    const changed = `changed-${crypto.randomUUID()}`;
    const client = evalIn(
      off,
      variant,
      `
      const exit = (code) => globalThis.Deno ? Deno.exit(code) : process.exit(code);
      const seen = [];
      const show = () => JSON.stringify(seen.map((m) => m.slice(0, 120)));
      setTimeout(() => { console.log("timeout; got", show()); exit(1); }, ${CHANGE_WAIT_MS});
      const ws = new WebSocket("ws://127.0.0.1:8080/ws");
      ws.onmessage = (e) => {
        seen.push(String(e.data));
        if (!seen[0].includes(${JSON.stringify(marker)})) { console.log("first message", show()); exit(1); }
        if (seen.some((m) => m.includes(${JSON.stringify(changed)}))) { console.log("ok"); exit(0); }
      };`,
      CHANGE_WAIT_MS + 10_000,
    ).then(() => undefined, (err: Error) => err);
    await sleep(2_000); // the client connects and gets the current content
    await Deno.writeTextFile(single, `${marker}\n${changed}\n`); // in place: same inode
    const err = await client;
    if (err) throw err;
  });
  await run(["docker", "rm", "-f", off]);

  // -- secured: TLS, a base path, and the auth file mounted as a secret --------
  await check(
    `${label} TLS, FILEWATCH_BASE_PATH and an auth file as a secret: https line, HEALTHCHECK healthy`,
    async () => {
      const tls = `${dir}/tls`;
      await Deno.mkdir(tls);
      await certificate(tls);
      // The image's user must read them (a mounted secret keeps the host's modes).
      for (const f of ["key.pem", "cert.pem"]) await Deno.chmod(`${tls}/${f}`, 0o644);
      await Deno.chmod(tls, 0o755);
      const htpasswd = `${dir}/htpasswd`;
      await Deno.writeTextFile(htpasswd, `alice:${bcrypt.hashSync("pw", 5).replace(/^\$2b\$/, "$2y$")}\n`);
      await Deno.chmod(htpasswd, 0o444);
      const sec = await startContainer([
        "--network",
        "none",
        "--health-interval",
        "1s",
        "--health-start-period",
        "30s",
        "-v",
        `${single}:/data/watched:ro`,
        "-v",
        `${tls}:/tls:ro`,
        "--mount",
        `type=bind,src=${htpasswd},dst=/run/secrets/htpasswd,readonly`,
        "-e",
        "FILEWATCH_TLS_CERT=/tls/cert.pem",
        "-e",
        "FILEWATCH_TLS_KEY=/tls/key.pem",
        "-e",
        "FILEWATCH_BASE_PATH=/logs",
        "-e",
        "FILEWATCH_AUTH_FILE=/run/secrets/htpasswd",
        image,
      ]);
      try {
        const want = "filewatch: watching /data/watched on https://0.0.0.0:8080/logs/";
        await waitFor(`"${want}"`, 30_000, async () => {
          const text = await logs(sec);
          if (text.includes(want)) return true;
          if (await inspect(sec, "{{.State.Status}}") === "exited") throw new Fatal(`exited:\n${text.slice(-800)}`);
          return undefined;
        });
        const text = await logs(sec);
        assert(!/without --auth-file/.test(text), "no open-address warning with an auth file");
        return await waitFor("health status healthy", 30_000, async () => {
          const s = await inspect(sec, "{{.State.Health.Status}}");
          if (s === "healthy") return s;
          if (s === "unhealthy") throw new Fatal(`unhealthy: ${await inspect(sec, "{{json .State.Health.Log}}")}`);
          return undefined;
        });
      } finally {
        await run(["docker", "rm", "-f", sec]);
      }
    },
  );

  // -- --workers: the supervisor starts the runtime again per worker ---------
  // (on Deno that needs --allow-run, granted for Deno's own binary only).
  await check(
    `${label} --workers 2: one start-up line, both workers answer, docker stop exits 0 with the workers stopped`,
    async () => {
      const w = await startContainer([
        "-p",
        "127.0.0.1::8080",
        "-v",
        `${single}:/data/watched:ro`,
        image,
        "--workers",
        "2",
      ]);
      try {
        await startupLine(w, "/data/watched");
        const port = Number((await must(["docker", "port", w, "8080/tcp"])).trim().split("\n")[0]!.split(":").pop());
        // Each scrape on a new connection lands on whichever worker the kernel picks.
        const seen = new Set<string>();
        await waitFor("/metrics from worker 0 and worker 1", 20_000, async () => {
          const r = await rawRequest(port, `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
          const worker = /worker="(\d+)"/.exec(r.body)?.[1];
          if (r.status === 200 && worker) seen.add(worker);
          return seen.size === 2 ? true : undefined;
        });
        const lines = (await logs(w)).split("\n").filter((l) => l.startsWith("filewatch: watching "));
        assert(lines.length === 1, `${lines.length} start-up lines:\n${lines.join("\n")}`);
        const t0 = performance.now();
        const stopped = await run(["docker", "stop", "-t", String(STOP_GRACE_S), w], { timeoutMs: 60_000 });
        const secs = (performance.now() - t0) / 1000;
        const exit = await inspect(w, "{{.State.ExitCode}}");
        const tail = (await logs(w)).trim().split("\n").slice(-6).join("\n");
        assert(
          stopped.code === 0 && exit === "0" && secs < STOP_GRACE_S - 1,
          `exit code ${exit} after ${secs.toFixed(1)}s; last output:\n${tail}`,
        );
        return `workers ${[...seen].sort().join(", ")}; exit 0 after ${secs.toFixed(1)}s`;
      } finally {
        await run(["docker", "rm", "-f", w]);
      }
    },
  );
}

// ------------------------------------------------------------------- main --

const startedAt = performance.now();
try {
  let bases: { deno: string; bun: string } | undefined;
  await check("stand-in base images (debootstrap rootfs + runtimes from node_modules)", async () => {
    const rootfs = await rootfsImage();
    const deno = await standinImage("deno", rootfs);
    const bun = await standinImage("bun", rootfs);
    bases = { deno, bun };
    await pruneStandins([rootfs, deno, bun]);
    return `${deno} ${mb(await imageSize(deno))}, ${bun} ${mb(await imageSize(bun))}`;
  });

  await check(".dockerignore keeps node_modules, tests, .git and bench out of the build context", async () => {
    assert(bases, "no stand-in image to list the context with");
    // Lists the context as the daemon receives it (with .dockerignore
    // applied), whatever the Dockerfile copies.
    const tag = "filewatch-test:context";
    const r = await run(["docker", "build", "--no-cache", "--label", LABEL, "-t", tag, "-f", "-", ROOT], {
      stdin: `FROM ${bases.deno}\nCOPY . /context/\nRUN cd /context && find . -mindepth 1 -maxdepth 2 | sort\n`,
      timeoutMs: 120_000,
    });
    await run(["docker", "rmi", tag]);
    const listed = (r.out + r.err).split("\n").filter((l) => l.startsWith("./"));
    if (r.code !== 0) throw new Error((r.out + r.err).slice(-800));
    const bad = listed.filter((p) => /^\.\/(node_modules|tests|\.git|bench)(\/|$)/.test(p));
    assert(bad.length === 0, `in the context: ${bad.slice(0, 10).join(" ")}`);
    assert(listed.includes("./src"), `./src missing from the context: ${listed.join(" ")}`);
    const size = (r.out + r.err).match(/Sending build context to Docker daemon\s+(\S+)/)?.[1];
    return `${listed.length} entries${size ? `, ${size}` : ""}`;
  });

  for (const variant of VARIANTS) {
    if (!bases) {
      notRun([`[${variant}] image build and container checks`], "no stand-in base images");
      continue;
    }
    await testVariant(variant, bases);
  }
} finally {
  for (const id of containers) await run(["docker", "rm", "-f", id]).catch(() => {});
  for (const d of tempDirs) await Deno.remove(d, { recursive: true }).catch(() => {});
  // Earlier builds of filewatch-test:* and stand-ins, untagged by this run.
  await run(["docker", "image", "prune", "-f", "--filter", `label=${LABEL}`]).catch(() => {});
}

console.log(`docker: took ${((performance.now() - startedAt) / 1000).toFixed(0)}s, logs in ${LOG_DIR}`);
console.log(`docker: ${passed} passed, ${failed} failed`);
Deno.exit(failed > 0 ? 1 : 0);
