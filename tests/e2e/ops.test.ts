/**
 * Operating filewatch (issue 7), on every runtime: metrics that move with
 * connects, refusals and closes; limits; graceful shutdown under load; logs.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { parseExposition } from "../helpers/prom.ts";
import { connect } from "../helpers/client.ts";
import { htpasswd } from "../helpers/access.ts";
import { EXPECT, RUNTIMES, type Server, startServer, tempFile, waitFor } from "../helpers/harness.ts";

async function metrics(s: Server) {
  const res = await fetch(s.url + "metrics");
  assertEquals(res.status, 200);
  assertMatch(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t("/metrics moves with connects, refusals by reason, messages, versions and closes by reason", async () => {
    const file = await tempFile("metrics 1");
    const s = await startServer(rt, { file, args: ["--poll", "100ms", "--read-limit", "16"] });
    try {
      const m0 = await metrics(s);
      assertEquals(m0.get("filewatch_clients"), 0);
      assertEquals(m0.get("filewatch_watch_mode", { mode: "idle" }), 1);
      const a = connect(s.wsUrl);
      const b = connect(s.wsUrl, { protocols: ["filewatch.v1"] });
      await Promise.all([a.message(0), b.message(0)]);
      const evil = connect(s.wsUrl, { headers: { Origin: "http://evil.example" } });
      await evil.opened.catch(() => {});
      await fetch(s.url + "ws").then((r) => r.body?.cancel());
      await Deno.writeTextFile(file, "metrics 2");
      await Promise.all([a.message(1), b.message(1)]);
      const m1 = await metrics(s);
      assertEquals(m1.get("filewatch_clients"), 2);
      assertEquals(m1.get("filewatch_upgrades_total"), 2);
      assertEquals(m1.get("filewatch_upgrades_refused_total", { reason: "origin" }), 1);
      assertEquals(m1.get("filewatch_upgrades_refused_total", { reason: "bad_request" }), 1);
      assertEquals(m1.get("filewatch_messages_sent_total"), 4);
      // lastMod: a token of up to 32 hex digits (docs/protocol.md, Versions).
      const v1Len = (s: string) =>
        JSON.stringify({ type: "content", lastMod: "x".repeat(32), size: 9, data: s }).length;
      const bytes = m1.get("filewatch_bytes_sent_total")!;
      assert(bytes > 2 * 9 && bytes < 2 * 9 + 2 * (v1Len("metrics 2") + 32), `bytes ${bytes}`);
      assertEquals(m1.get("filewatch_versions_total"), 1);
      assertEquals(m1.get("filewatch_watch_mode", { mode: "events" }), 1);
      assertEquals(m1.get("filewatch_appends_total"), 0, "a rewrite is not an append");
      await Deno.writeTextFile(file, " and more", { append: true });
      await Promise.all([a.message(2), b.message(2)]);
      assertEquals(JSON.parse(String(b.messages[2]!.data)).type, "append");
      const mAppend = await metrics(s);
      assertEquals([mAppend.get("filewatch_appends_total"), mAppend.get("filewatch_versions_total")], [1, 2]);
      a.ws.send("x".repeat(17));
      await a.closed;
      b.close();
      await b.closed;
      await Deno.remove(file);
      const m2 = await waitFor(
        async () => {
          const m = await metrics(s);
          return m.get("filewatch_clients") === 0 ? m : null;
        },
        3_000,
        "clients to reach 0",
      );
      assertEquals(m2.get("filewatch_closes_total", { reason: "read_limit" }), 1);
      assertEquals(m2.get("filewatch_closes_total", { reason: "client" }), 1);
      assertEquals(m2.get("filewatch_watch_mode", { mode: "idle" }), 1, "polling stops when nobody watches");
      // /metrics never carries the file's content.
      assert(!(await (await fetch(s.url + "metrics")).text()).includes("metrics 2"));
    } finally {
      await s.stop();
    }
  });

  t("--max-clients 5: the sixth upgrade gets 503 with a reason; the first five are undisturbed", async () => {
    const file = await tempFile("five");
    const s = await startServer(rt, { file, args: ["--max-clients", "5", "--poll", "100ms"] });
    try {
      const five = Array.from({ length: 5 }, () => connect(s.wsUrl));
      await Promise.all(five.map((c) => c.message(0)));
      const sixth = await fetch(s.url + "ws", {
        headers: {
          Upgrade: "websocket",
          Connection: "Upgrade",
          "Sec-WebSocket-Version": "13",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
      });
      assertEquals(sixth.status, 503);
      assertMatch(await sixth.text(), /client limit reached \(5\)/);
      await Deno.writeTextFile(file, "five, still");
      await Promise.all(five.map((c) => c.message(1)));
      assert(five.every((c) => c.ws.readyState === 1));
      assertEquals((await metrics(s)).get("filewatch_upgrades_refused_total", { reason: "limit" }), 1);
      // A place freed is a place taken.
      five[0]!.close();
      await five[0]!.closed;
      await waitFor(async () => (await metrics(s)).get("filewatch_clients") === 4, 3_000, "the close to count");
      const again = connect(s.wsUrl);
      await again.message(0);
      again.close();
      five.forEach((c) => c.close());
    } finally {
      await s.stop();
    }
  });

  t("--max-clients-per-ip 2: the third connection from one address gets 429", async () => {
    const file = await tempFile("ip");
    const s = await startServer(rt, { file, args: ["--max-clients-per-ip", "2"] });
    try {
      const two = [connect(s.wsUrl), connect(s.wsUrl)];
      await Promise.all(two.map((c) => c.message(0)));
      const third = connect(s.wsUrl);
      const err = await third.opened.then(() => null, (e) => e);
      assertEquals(err?.status, 429);
      assertEquals((await metrics(s)).get("filewatch_upgrades_refused_total", { reason: "ip_limit" }), 1);
      assert(two.every((c) => c.ws.readyState === 1));
      two.forEach((c) => c.close());
    } finally {
      await s.stop();
    }
  });

  t("SIGTERM with 100 clients: every client gets 1001, new upgrades are refused, exit 0 within the bound", async () => {
    const file = await tempFile("hundred");
    const s = await startServer(rt, { file, args: ["--max-clients-per-ip", "0"] });
    const clients = Array.from({ length: 100 }, () => connect(s.wsUrl));
    await Promise.all(clients.map((c) => c.message(0)));
    const t0 = Date.now();
    const exited = s.stop("SIGTERM");
    const closes = await Promise.all(clients.map((c) => c.closed));
    const status = await exited;
    assertEquals(status.code, 0);
    assert(Date.now() - t0 < 6_000, `took ${Date.now() - t0}ms`);
    assertEquals(closes.filter((c) => c.code === 1001).length, 100);
    assertMatch(s.stderr.join("\n"), /shutting down/);
  });

  t(
    "--log-format json: every stderr line is a JSON object; connect and close are logged with reason and duration",
    async () => {
      const file = await tempFile("json logs");
      const s = await startServer(rt, { file, args: ["--log-format", "json"] });
      const c = connect(s.wsUrl);
      await c.message(0);
      c.close();
      await c.closed;
      await waitFor(() => s.stderr.some((l) => l.includes("client closed")), 3_000, "the close log");
      await s.stop();
      const lines = s.stderr.filter((l) => l.trim());
      const events = lines.map((l) => JSON.parse(l));
      for (const e of events) {
        assertEquals(typeof e.time, "string");
        assert(["info", "warn", "error"].includes(e.level));
        assertEquals(typeof e.msg, "string");
      }
      const msgs = events.map((e) => e.msg);
      for (const m of ["listening", "client connected", "client closed", "shutting down", "stopped"]) {
        assert(msgs.includes(m), `log has "${m}": ${msgs.join(", ")}`);
      }
      const closed = events.find((e) => e.msg === "client closed");
      assertEquals(closed.reason, "client");
      assertEquals(typeof closed.seconds, "number");
      assert(!lines.some((l) => l.includes("json logs")), "no log line carries file content");
    },
  );

  t("--quiet: no info lines, the start-up line still on stdout", async () => {
    const file = await tempFile("quiet");
    const s = await startServer(rt, { file, args: ["--quiet"] });
    const c = connect(s.wsUrl);
    await c.message(0);
    c.close();
    await c.closed;
    await s.stop();
    assertEquals(s.stderr.filter((l) => / INFO /.test(l)), []);
    assertMatch(s.stdout[0]!, /^filewatch: watching .* on http:/);
  });

  t("a client that stops answering pings is counted as pong_timeout", async () => {
    const file = await tempFile("pong");
    const s = await startServer(rt, { file, args: ["--pong-wait", "1s"] });
    try {
      const c = connect(s.wsUrl, { autoPong: false });
      await c.message(0);
      assertEquals((await c.closed).code, EXPECT[rt].pongTimeoutCode);
      await waitFor(
        async () => (await metrics(s)).get("filewatch_closes_total", { reason: "pong_timeout" }) === 1,
        3_000,
        "pong_timeout to be counted",
      );
    } finally {
      await s.stop();
    }
  });
}

for (const rt of RUNTIMES) {
  Deno.test({
    name:
      `[${rt}] a client that resets right after the 101 gives its place back (past --max-clients), counted in /metrics`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const { default: net } = await import("node:net");
      const file = await tempFile("slots");
      const s = await startServer(rt, { file, args: ["--max-clients", "3", "--max-clients-per-ip", "0", "--quiet"] });
      try {
        /** A raw handshake that is answered 101, then a TCP reset at once (no close frame, no FIN). */
        const handshakeThenReset = () =>
          new Promise<string>((resolve, reject) => {
            const sock = net.connect(s.port, "127.0.0.1", () => {
              sock.write(
                `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
                  `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
              );
            });
            let head = "";
            sock.on("data", (d: Uint8Array) => {
              head += new TextDecoder().decode(d);
              if (!head.includes("\r\n")) return;
              sock.resetAndDestroy();
              resolve(head.split("\r\n")[0]!);
            });
            sock.on("error", reject);
            setTimeout(() => reject(new Error("no answer to the handshake")), 5_000);
          });
        for (let i = 0; i < 9; i++) {
          // Three times the limit: every place must come back, or the later ones are refused with 503.
          const status = await waitFor(
            () => handshakeThenReset().then((l) => / 101 /.test(l) ? l : null, () => null),
            5_000,
            `handshake ${i} answered 101`,
          );
          assertMatch(status, / 101 /);
        }
        const m = await waitFor(
          async () => {
            const m = await metrics(s);
            return m.get("filewatch_admitted_clients") === 0 ? m : null;
          },
          5_000,
          "every place given back",
        );
        assertEquals(m.get("filewatch_clients"), 0);
        const c = connect(s.wsUrl);
        await c.opened;
        await c.message(0);
        assertEquals((await metrics(s)).get("filewatch_admitted_clients"), 1);
        c.close();
      } finally {
        await s.stop();
      }
    },
  });
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t(
    "/readyz with --auth-file says only 'not ready', without the file's name or size; the reason goes to the log once",
    async () => {
      const file = await tempFile("x", "payroll-2026.csv");
      const s = await startServer(rt, {
        file,
        args: ["--auth-file", await htpasswd(), "--poll", "100ms"],
      });
      try {
        // Unreadable (a file over --max-file-size is followed in tail mode, so not that way): gone.
        await Deno.remove(file);
        const why = await waitFor(
          async () => {
            const r = await fetch(s.url + "readyz");
            const body = await r.text();
            return r.status === 503 ? body : null;
          },
          5_000,
          "not ready",
        );
        assertEquals(why, "not ready\n");
        for (let i = 0; i < 3; i++) assertEquals(await (await fetch(s.url + "readyz")).text(), "not ready\n");
        const logged = s.stderr.filter((l) => /WARN not ready reason=.*payroll-2026\.csv: file not found/.test(l));
        assertEquals(logged.length, 1, s.stderr.join("\n"));
        await Deno.writeTextFile(file, "ok\n");
        await waitFor(async () => (await (await fetch(s.url + "readyz")).text()) === "ok\n", 5_000, "ready again");
      } finally {
        await s.stop();
      }
      // Without an auth file nothing is secret from whoever may read the page: the reason is in the answer.
      await Deno.remove(file);
      const open = await startServer(rt, { file });
      try {
        const r = await fetch(open.url + "readyz");
        assertEquals(r.status, 503);
        assertMatch(await r.text(), /^not ready: payroll-2026\.csv: file not found\n$/);
      } finally {
        await open.stop();
      }
    },
  );
}
