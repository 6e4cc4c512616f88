/**
 * `--workers N` (docs/deployment.md#workers): one supervisor, N workers on one port through
 * the runtime's own reusePort. Each case on Deno and on Bun.
 * @module
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { parseExposition } from "../helpers/prom.ts";
import type * as net from "node:net";
import { type Client, connect, sleep } from "../helpers/client.ts";
import { basic, htpasswd, USER } from "../helpers/access.ts";
import { openSocket, RawWs } from "../helpers/rawws.ts";
import {
  rawRequest,
  ROOT,
  runServer,
  type RuntimeName,
  RUNTIMES,
  type Server,
  serverCommand,
  startServer,
  tempFile,
  waitFor,
} from "../helpers/harness.ts";

/** The server's command; on Deno with --allow-run, which the supervisor needs to start workers. */
function command(rt: RuntimeName): string[] {
  if (rt === "bun") return serverCommand(rt);
  return [
    `${ROOT}node_modules/.bin/deno`,
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-run",
    `${ROOT}src/deno.ts`,
  ];
}

async function startWorkers(rt: RuntimeName, file: string, n = 2): Promise<Server> {
  return await startServer(rt, {
    file,
    args: ["--workers", String(n), "--log-format", "json", "--poll", "100ms"],
    command: command(rt),
  });
}

/** `worker started` log lines of the supervisor: worker → its newest pid. */
function workerPids(s: Server): Map<number, number> {
  const pids = new Map<number, number>();
  for (const line of s.stderr) {
    try {
      const o = JSON.parse(line);
      if (o.msg === "worker started") pids.set(o.worker, o.pid);
    } catch { /* not JSON */ }
  }
  return pids;
}

/** /metrics from one new TCP connection (each may land on another worker): worker → connected clients. */
async function scrape(port: number): Promise<{ worker: string; clients: number }> {
  const res = await rawRequest(port, `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
  assertEquals(res.status, 200);
  const exp = parseExposition(res.body);
  const clients = exp.samples.find((x) => x.name === "filewatch_clients");
  assert(clients, "filewatch_clients in /metrics");
  for (const x of exp.samples) assert(x.labels.worker !== undefined, `${x.name} carries a worker label`);
  return { worker: clients.labels.worker!, clients: clients.value };
}

/** Opens a v1 client and waits for its first message (the content). */
async function viewer(s: Server): Promise<Client> {
  const c = connect(s.wsUrl, { protocols: ["filewatch.v1"] });
  await c.opened;
  const m = await c.json(0, 5_000);
  assertEquals(m.type, "content");
  return c;
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t("--workers 2: one start-up line, connections land on both workers, every series names its worker", async () => {
    const file = await tempFile("shared\n");
    const s = await startWorkers(rt, file);
    const clients: Client[] = [];
    try {
      const n = 24;
      for (let i = 0; i < n; i++) clients.push(await viewer(s));
      const latest = new Map<string, number>();
      await waitFor(
        async () => {
          const { worker, clients } = await scrape(s.port);
          latest.set(worker, clients);
          const sum = [...latest.values()].reduce((a, b) => a + b, 0);
          return latest.size === 2 && sum === n && [...latest.values()].every((v) => v > 0);
        },
        10_000,
        `both workers holding clients (${JSON.stringify([...latest])})`,
      );
      assertEquals([...latest.keys()].sort(), ["0", "1"]);
      assertEquals(workerPids(s).size, 2);
      assertEquals(s.stdout.filter((l) => l.startsWith("filewatch: watching")).length, 1, s.stdout.join("\n"));
      // A change reaches the clients of both workers.
      await Deno.writeTextFile(file, "changed\n");
      for (const c of clients) assertEquals((await c.json(1, 5_000)).data, "changed\n");
    } finally {
      for (const c of clients) c.ws.terminate();
      await s.stop();
    }
  });

  t("--workers 2: a worker killed with SIGKILL is replaced, and new connections succeed meanwhile", async () => {
    const file = await tempFile("shared\n");
    const s = await startWorkers(rt, file);
    const clients: Client[] = [];
    try {
      const before = workerPids(s);
      const victim = before.get(0)!;
      Deno.kill(victim, "SIGKILL");
      // Connections that reached the victim's accept queue before it was gone are reset (SO_REUSEPORT
      // gives each listener its own queue); from then on, through the restart, the other worker takes them.
      await waitFor(
        () => {
          try {
            Deno.kill(victim, "SIGCONT");
            return false;
          } catch {
            return true;
          }
        },
        5_000,
        "the killed worker gone",
      );
      const end = Date.now() + 1_500;
      let opened = 0;
      while (Date.now() < end) {
        clients.push(await viewer(s));
        opened++;
        await sleep(30);
      }
      assert(opened >= 10, `opened ${opened}`);
      const after = await waitFor(
        () => {
          const p = workerPids(s).get(0);
          return p !== undefined && p !== victim ? p : null;
        },
        10_000,
        "worker 0 started again",
      );
      assert(after !== victim);
      assert(s.stderr.some((l) => l.includes("worker died; restarting")), s.stderr.join("\n"));
      // The new worker 0 serves: a scrape finds it (each scrape is a new connection).
      await waitFor(async () => (await scrape(s.port)).worker === "0", 10_000, "the new worker 0 answering");
      clients.push(await viewer(s));
    } finally {
      for (const c of clients) c.ws.terminate();
      await s.stop();
    }
  });

  t("--workers 2: SIGTERM closes every client of every worker with 1001, and the supervisor exits 0", async () => {
    const file = await tempFile("shared\n");
    const s = await startWorkers(rt, file);
    const clients: Client[] = [];
    try {
      for (let i = 0; i < 16; i++) clients.push(await viewer(s));
      const seen = new Set<string>();
      await waitFor(async () => seen.add((await scrape(s.port)).worker).size === 2, 10_000, "both workers");
      const status = await s.stop("SIGTERM");
      const codes = await Promise.all(clients.map((c) => c.closed.then((x) => x.code)));
      assertEquals(codes, clients.map(() => 1001));
      assertEquals(status.code, 0, s.stderr.join("\n"));
      // No worker outlives the supervisor.
      for (const pid of workerPids(s).values()) {
        await waitFor(
          () => {
            try {
              Deno.kill(pid, "SIGCONT");
              return false;
            } catch {
              return true;
            }
          },
          5_000,
          `worker ${pid} gone`,
        );
      }
    } finally {
      for (const c of clients) c.ws.terminate();
      await s.stop();
    }
  });

  t("--workers: bad values exit 2, a port taken exits 1, and on Deno the supervisor needs --allow-run", async () => {
    const file = await tempFile("x");
    for (const bad of ["0", "65", "two"]) {
      const r = await runServer(rt, ["--workers", bad, file]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, new RegExp(`^error: Cannot parse --workers "${bad}": `));
    }
    // A port another process holds (without SO_REUSEPORT): no worker can listen, and restarting would not help.
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const [cmd, ...rest] = command(rt);
      const out = await new Deno.Command(cmd!, {
        args: [...rest, "--workers", "2", "--port", String((taken.addr as Deno.NetAddr).port), file],
        env: { NO_COLOR: "1" },
        stdin: "null",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assertEquals(out.code, 1, stderr);
      assertMatch(stderr, /error: worker \d exited \(\d+\) before it listened/);
      assertEquals(new TextDecoder().decode(out.stdout), "", "no start-up line");
    } finally {
      taken.close();
    }
    if (rt === "deno") {
      // The suite's usual command has no --allow-run.
      const r = await runServer(rt, ["--workers", "2", "--port", "0", file]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, /^error: Cannot use --workers 2 on Deno without --allow-run: /);
    }
  });
}

/** A request over its own TCP connection (so the kernel may hand it to either worker), with extra headers. */
const fresh = (port: number, path: string, headers: Record<string, string> = {}) =>
  rawRequest(
    port,
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
      Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "Connection: close\r\n\r\n",
  );

/** Starts `--workers 2` with more flags, and waits until both workers have answered a scrape. */
async function startTwo(rt: RuntimeName, file: string, args: string[]): Promise<Server> {
  const s = await startServer(rt, {
    file,
    args: ["--workers", "2", "--log-format", "json", ...args],
    command: command(rt),
  });
  const seen = new Set<string>();
  await waitFor(
    async () => {
      const r = await fresh(s.port, "/metrics", args.includes("--auth-file") ? { Authorization: basic() } : {});
      const w = /worker="(\d)"/.exec(r.body)?.[1];
      if (w) seen.add(w);
      return seen.size === 2;
    },
    10_000,
    "both workers answering",
  );
  return s;
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t(
    "--workers 2: one lock-out for the host: 40 guesses at once get 10 checks, then the right password is refused on every worker",
    async () => {
      const file = await tempFile("shared\n");
      const s = await startTwo(rt, file, ["--auth-file", await htpasswd(), "--trust-proxy", "127.0.0.1"]);
      try {
        const from = (auth: string) => ({ "X-Forwarded-For": "203.0.113.80", Authorization: auth });
        const answers = await Promise.all(
          Array.from({ length: 40 }, (_, i) => fresh(s.port, "/", from(basic(USER, `guess ${i}`)))),
        );
        const statuses = answers.map((a) => a.status);
        assertEquals(statuses.filter((x) => x === 401).length, 10, statuses.join(" "));
        assertEquals(statuses.filter((x) => x === 429).length, 30, statuses.join(" "));
        // Each over a new connection, so both workers answer some: every one refuses.
        const right = [];
        for (let i = 0; i < 8; i++) right.push((await fresh(s.port, "/", from(basic()))).status);
        assertEquals(right, Array(8).fill(429));
        // Both workers served the refusals: the lock was announced to each.
        const locked = new Map<string, number>();
        await waitFor(
          async () => {
            const r = await fresh(s.port, "/metrics", { Authorization: basic() });
            const m = parseExposition(r.body);
            const x = m.samples.find((v) => v.name === "filewatch_auth_locked_total");
            if (x) locked.set(x.labels.worker!, x.value);
            return locked.size === 2;
          },
          10_000,
          "a scrape of each worker",
        );
        assert([...locked.values()].every((v) => v > 0), `429s by worker: ${JSON.stringify([...locked])}`);
      } finally {
        await s.stop();
      }
    },
  );

  t("--workers 2 --max-clients-per-ip 2: one cap for the host, not one per worker", async () => {
    const file = await tempFile("shared\n");
    const s = await startTwo(rt, file, ["--max-clients-per-ip", "2"]);
    const open: RawWs[] = [];
    try {
      const answers: number[] = [];
      for (let i = 0; i < 8; i++) {
        const c = await RawWs.connect("127.0.0.1", s.port);
        answers.push(c.upgraded ? 101 : c.response.status);
        if (c.upgraded) open.push(c);
        else c.destroy();
      }
      assertEquals(answers.filter((x) => x === 101).length, 2, answers.join(" "));
      assertEquals(answers.filter((x) => x === 429).length, 6, answers.join(" "));
      // A closed connection gives its slot back to the host.
      const first = open.shift()!;
      first.sendClose(1000);
      await first.waitClose(2_000);
      first.destroy();
      const again = await waitFor(
        async () => {
          const c = await RawWs.connect("127.0.0.1", s.port);
          if (c.upgraded) return c;
          c.destroy();
          return null;
        },
        5_000,
        "the slot back",
      );
      open.push(again);
    } finally {
      for (const c of open) c.destroy();
      await s.stop();
    }
  });

  t(
    "--workers 2 --max-requests-per-ip 2: two unread downloads hold the host's two slots; a third request gets 429",
    async () => {
      // Larger than the sockets' buffers, so an unread download stays in progress.
      const file = await tempFile(new Uint8Array(32 * 1024 * 1024).fill(120));
      const s = await startTwo(rt, file, ["--max-requests-per-ip", "2"]);
      const held: net.Socket[] = [];
      try {
        for (let i = 0; i < 2; i++) {
          const sock = await openSocket("127.0.0.1", s.port);
          sock.write(`GET /raw HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
          sock.pause();
          held.push(sock);
        }
        await sleep(500);
        const refused = await waitFor(
          async () => {
            const r = await fresh(s.port, "/files");
            return r.status === 429 ? r : null;
          },
          5_000,
          "a 429",
        );
        assertEquals(refused.headers["retry-after"], "1");
        assertMatch(refused.body, /^Too Many Requests: 2 requests from 127\.0\.0\.1 in progress already\n$/);
        assertEquals((await fresh(s.port, "/healthz")).status, 200, "the probes are never counted");
        for (const sock of held) sock.destroy();
        held.length = 0;
        await waitFor(async () => (await fresh(s.port, "/files")).status === 200, 5_000, "the slots back");
      } finally {
        for (const sock of held) sock.destroy();
        await s.stop();
      }
    },
  );

  t(
    "--workers 2: with the supervisor stopped, a password check fails closed (503) within a second; probes answer",
    async () => {
      const file = await tempFile("shared\n");
      const s = await startTwo(rt, file, ["--auth-file", await htpasswd()]);
      try {
        Deno.kill(s.pid, "SIGSTOP");
        try {
          const t0 = Date.now();
          const r = await fresh(s.port, "/", { Authorization: basic(USER, "not remembered") });
          assertEquals(r.status, 503);
          assertMatch(r.body, /^Service Unavailable: /);
          assert(Date.now() - t0 < 3_000, `answered after ${Date.now() - t0} ms`);
          assertEquals((await fresh(s.port, "/healthz")).status, 200);
        } finally {
          Deno.kill(s.pid, "SIGCONT");
        }
        await waitFor(async () => (await fresh(s.port, "/", { Authorization: basic() })).status === 200, 5_000, "back");
      } finally {
        await s.stop();
      }
    },
  );
}
