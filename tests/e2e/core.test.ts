/**
 * The end-to-end suite of the core (issue 2), run against a real server
 * process on every runtime. Runtime differences come from EXPECT only.
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../helpers/assert.ts";
import { connect, sleep } from "../helpers/client.ts";
import {
  EXPECT,
  handshake,
  rawRequest,
  runServer,
  type RuntimeName,
  RUNTIMES,
  type Server,
  startServer,
  tempFile,
  waitFor,
  withServer as serve,
} from "../helpers/harness.ts";

const POLL = 200; // ms; tests use a short poll so "within poll + 500 ms" is quick to check

/** A server on a new file, polling every POLL ms. */
const withServer = (rt: RuntimeName, content: string | Uint8Array, args: string[], fn: (s: Server) => Promise<void>) =>
  serve(rt, content, ["--poll", `${POLL}ms`, ...args], fn);

for (const rt of RUNTIMES) {
  const ex = EXPECT[rt];
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t("GET / shows the file escaped, with its lastMod and a CSP that allows only the nonce'd script", async () => {
    await withServer(rt, "hello <script>alert(1)</script> & bye", [], async (s) => {
      const res = await fetch(s.url);
      const body = await res.text();
      assertEquals(res.status, 200);
      assert(body.includes("hello &lt;script&gt;alert(1)&lt;/script&gt; &amp; bye"), "content escaped in the page");
      assert(!body.includes("<script>alert(1)"), "raw script tag from the file must not appear");
      const csp = res.headers.get("content-security-policy") ?? "";
      const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
      assert(nonce, `CSP with a script nonce, got: ${csp}`);
      assert(body.includes(`nonce="${nonce}"`), "the page's script carries the nonce");
      assertEquals(res.headers.get("x-content-type-options"), "nosniff");
      // The file's mtime in ns (GNU stat), in whole ms on every runtime (Deno reads ms, Bun ns: a token
      // names one state alike on both), over the 64-bit content hash (16 hex digits).
      const out = await new Deno.Command("stat", { args: ["-c", "%.9Y", s.file] }).output();
      const [sec, frac] = new TextDecoder().decode(out.stdout).trim().split(".");
      const ns = BigInt(sec!) * 1_000_000_000n + BigInt(frac!.padEnd(9, "0"));
      const hex = (ns / 1_000_000n * 1_000_000n).toString(16);
      assertMatch(body, new RegExp(`data-last-mod="${hex}[0-9a-f]{16}"`), "the page names the version's lastMod");
    });
  });

  t("GET /healthz is 200 ok; unknown path 404; wrong method 405", async () => {
    await withServer(rt, "x", [], async (s) => {
      const h = await fetch(s.url + "healthz");
      assertEquals([h.status, await h.text()], [200, "ok\n"]);
      const nf = await fetch(s.url + "nope");
      assertEquals(nf.status, 404);
      await nf.body?.cancel();
      const post = await fetch(s.url, { method: "POST" });
      assertEquals(post.status, 405);
      await post.body?.cancel();
    });
  });

  t("a client gets the content at once, and each change within poll + 500 ms", async () => {
    await withServer(rt, "one", [], async (s) => {
      const c = connect(s.wsUrl);
      await c.opened;
      const m0 = await c.message(0, 1_000);
      assertEquals([m0.data, m0.binary], ["one", false]);
      await sleep(50);
      const written = Date.now();
      await Deno.writeTextFile(s.file, "two, longer");
      const m1 = await c.message(1, POLL + 500);
      assertEquals(m1.data, "two, longer");
      assert(m1.at - written <= POLL + 500, `took ${m1.at - written}ms`);
      c.close();
    });
  });

  t("filewatch.v1: JSON content with lastMod, then resume by lastMod sends nothing until a change", async () => {
    await withServer(rt, "v1 content", [], async (s) => {
      const a = connect(s.wsUrl, { protocols: ["filewatch.v1"] });
      await a.opened;
      assertEquals(a.ws.protocol, "filewatch.v1");
      const m = await a.json(0);
      assertEquals(m.type, "content");
      assertEquals(m.data, "v1 content");
      assertEquals(m.size, 10);
      assertMatch(String(m.lastMod), /^[0-9a-f]+$/);
      a.close();

      const b = connect(s.wsUrl, { protocols: ["filewatch.v1"], lastMod: String(m.lastMod) });
      await b.opened;
      await sleep(POLL * 3);
      assertEquals(b.messages.length, 0, "nothing re-sent for an unchanged file");
      await Deno.writeTextFile(s.file, "v1 changed");
      const m2 = await b.json(0, POLL + 500);
      assertEquals(m2.data, "v1 changed");
      assertNotEquals(m2.lastMod, m.lastMod);
      b.close();

      // A different (older or unknown) lastMod gets the content at once.
      const c = connect(s.wsUrl, { protocols: ["filewatch.v1"], lastMod: "1" });
      assertEquals((await c.json(0, 1_000)).data, "v1 changed");
      c.close();
    });
  });

  t("a touch (new mtime, same bytes) is not sent again", async () => {
    await withServer(rt, "same", [], async (s) => {
      const c = connect(s.wsUrl);
      await c.message(0);
      const later = new Date(Date.now() + 5_000);
      await Deno.utime(s.file, later, later);
      await sleep(POLL * 3);
      assertEquals(c.messages.length, 1);
      await Deno.writeTextFile(s.file, "different");
      assertEquals((await c.message(1)).data, "different");
      c.close();
    });
  });

  t("delete → the error once → recreate → content", async () => {
    await withServer(rt, "alive", [], async (s) => {
      const c = connect(s.wsUrl, { protocols: ["filewatch.v1"] });
      assertEquals((await c.json(0)).data, "alive");
      await Deno.remove(s.file);
      const e = await c.json(1, POLL + 500);
      assertEquals(e.type, "error");
      assertMatch(String(e.message), /not found/);
      await sleep(POLL * 4);
      assertEquals(c.messages.length, 2, "the same error is not repeated");
      await Deno.writeTextFile(s.file, "back again");
      assertEquals((await c.json(2, POLL + 500)).data, "back again");
      // Plain clients get the error text as a text frame.
      await Deno.remove(s.file);
      assertEquals((await c.json(3, POLL + 500)).type, "error");
      const p = connect(s.wsUrl);
      const pm = await p.message(0, POLL + 500);
      assertMatch(String(pm.data), /watched\.txt: file not found/);
      p.close();
      c.close();
    });
  });

  t("a file that is not UTF-8: binary frame (plain), base64 (filewatch.v1); never an invalid text frame", async () => {
    const bytes = new Uint8Array([0x68, 0x69, 0xff, 0xfe, 0x00, 0x80]);
    await withServer(rt, bytes, [], async (s) => {
      const p = connect(s.wsUrl);
      const m = await p.message(0);
      assert(m.binary, "binary frame");
      assertEquals([...(m.data as Uint8Array)], [...bytes]);
      const v = connect(s.wsUrl, { protocols: ["filewatch.v1"] });
      const j = await v.json(0);
      assertEquals(j.encoding, "base64");
      assertEquals(atob(String(j.data)), String.fromCharCode(...bytes));
      p.close();
      v.close();
    });
  });

  t("Origin: foreign → 403 with a reason; same host, none, and --origin allowed", async () => {
    await withServer(rt, "o", ["--origin", "https://allowed.example"], async (s) => {
      const bad = connect(s.wsUrl, { headers: { Origin: "http://evil.example" } });
      const err = await bad.opened.then(() => null, (e) => e);
      assertEquals(err?.status, 403);
      const res = await fetch(s.wsUrl.replace(/^ws/, "http"), {
        headers: {
          Origin: "http://evil.example",
          Upgrade: "websocket",
          Connection: "Upgrade",
          "Sec-WebSocket-Version": "13",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
      });
      assertEquals(res.status, 403);
      assertMatch(await res.text(), /Origin "http:\/\/evil.example" is not allowed/);
      for (
        const headers of [{}, { Origin: `http://127.0.0.1:${s.port}` }, {
          Origin: "https://allowed.example",
        }] as Record<string, string>[]
      ) {
        const ok = connect(s.wsUrl, { headers });
        await ok.opened;
        await ok.message(0);
        ok.close();
      }
    });
  });

  t("not a WebSocket request → 426 with a reason, never 500", async () => {
    await withServer(rt, "p", [], async (s) => {
      const plain = await fetch(s.url + "ws");
      assertEquals(plain.status, 426);
      assertMatch(await plain.text(), /WebSocket/);
      const v8 = await rawRequest(s.port, handshake(s.port, { "Sec-WebSocket-Version": "8" }));
      assertEquals([v8.status, v8.headers["sec-websocket-version"]], [426, "13"]);
      const noKey = await rawRequest(s.port, handshake(s.port, { "Sec-WebSocket-Key": "short" }));
      assertEquals(noKey.status, 400);
      assertMatch(noKey.body, /Sec-WebSocket-Key/);
    });
  });

  t("subprotocols: filewatch.v1 chosen among others; unknown ones answered with none; `a,b` never a 500", async () => {
    await withServer(rt, "p", [], async (s) => {
      const chosen = await rawRequest(
        s.port,
        handshake(s.port, { "Sec-WebSocket-Protocol": "x.unknown, filewatch.v1" }),
      );
      assertEquals([chosen.status, chosen.headers["sec-websocket-protocol"]], [101, "filewatch.v1"]);
      const unknown = await rawRequest(s.port, handshake(s.port, { "Sec-WebSocket-Protocol": "x.unknown, y.unknown" }));
      assertEquals([unknown.status, unknown.headers["sec-websocket-protocol"]], [101, undefined]);
      const ab = await rawRequest(s.port, handshake(s.port, { "Sec-WebSocket-Protocol": "a,b" }));
      // Neither offered protocol is ours: served, with none answered (on Deno too: it only fails to split
      // the list when it must confirm a protocol from it, as below).
      assertEquals([ab.status, ab.headers["sec-websocket-protocol"]], [101, undefined]);
      const tight = await rawRequest(s.port, handshake(s.port, { "Sec-WebSocket-Protocol": "x,filewatch.v1" }));
      assertEquals(tight.status, ex.commaListWithoutSpace);
      if (tight.status === 400) assertMatch(tight.body, /Bad WebSocket handshake/);
      else assertEquals(tight.headers["sec-websocket-protocol"], "filewatch.v1");
    });
  });

  t("a client message over --read-limit closes with 1009; within it is fine", async () => {
    await withServer(rt, "r", [], async (s) => {
      const c = connect(s.wsUrl);
      await c.message(0);
      c.ws.send("x".repeat(512));
      await sleep(200);
      assertEquals(c.ws.readyState, 1, "512 bytes is within the default limit");
      c.ws.send("x".repeat(513));
      const { code } = await c.closed;
      assertEquals(code, ex.readLimitCode);
      const healthy = connect(s.wsUrl);
      await healthy.message(0);
      healthy.close();
    });
  });

  t(
    "liveness: a client that stops answering pings is closed within pongWait + 1 s; one that answers stays",
    async () => {
      await withServer(rt, "l", ["--pong-wait", "2s"], async (s) => {
        const silent = connect(s.wsUrl, { autoPong: false });
        const alive = connect(s.wsUrl);
        let pings = 0;
        alive.ws.on("ping", () => pings++);
        await silent.opened;
        const t0 = Date.now();
        await alive.opened;
        const { code, at } = await silent.closed;
        assertEquals(code, ex.pongTimeoutCode);
        assert(at - t0 <= 3_000, `closed after ${at - t0}ms`);
        assert(at - t0 >= 1_500, `closed too early, after ${at - t0}ms`);
        await sleep(6_000 - (Date.now() - t0));
        assertEquals(alive.ws.readyState, 1, "an answering client is still open after 3 × pongWait");
        assert(pings >= 3, `pinged ${pings} times`);
        alive.close();
      });
    },
  );

  t("--compress: permessage-deflate where the runtime has it, a clear start-up error where not", async () => {
    const file = await tempFile("z".repeat(1000));
    if (ex.compression) {
      const s = await startServer(rt, { file, args: ["--compress"] });
      try {
        const c = connect(s.wsUrl);
        await c.opened;
        assertMatch(String(c.ws.extensions), /permessage-deflate/);
        assertEquals((await c.message(0)).data, "z".repeat(1000));
        c.close();
      } finally {
        await s.stop();
      }
    } else {
      const r = await runServer(rt, ["--port", "0", "--compress", file]);
      assertEquals(r.code, 2);
      assertMatch(r.stderr, /^error: Cannot use --compress on Deno: .*permessage-deflate/);
    }
  });

  t("bad flags exit 2 with a one-line reason and the usage line", async () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [["--poll", "10x", "f"], {}, /^error: Cannot parse --poll "10x": expected a duration/],
      [["--port", "99999", "f"], {}, /^error: Cannot parse --port "99999"/],
      [["--bogus", "f"], {}, /^error: Unknown option '--bogus'/],
      [[], {}, /^error: Missing FILE/],
      [["f"], { FILEWATCH_PONG_WAIT: "soon" }, /^error: Cannot parse FILEWATCH_PONG_WAIT "soon"/],
      [["--origin", "evil.example/path", "f"], {}, /^error: Cannot parse --origin "evil.example\/path"/],
    ];
    for (const [args, env, re] of cases) {
      const r = await runServer(rt, args, env);
      assertEquals(r.code, 2, `${args.join(" ")} → exit ${r.code}: ${r.stderr}`);
      const lines = r.stderr.trim().split("\n");
      assertEquals(lines.length, 2, r.stderr);
      assertMatch(lines[0]!, re);
      assertMatch(lines[1]!, /^usage: filewatch \[options\] FILE/);
    }
    const help = await runServer(rt, ["--help"]);
    assertEquals(help.code, 0);
    assertMatch(help.stdout, /--max-clients-per-ip/);
  });

  t("environment variables configure the server; flags win", async () => {
    const file = await tempFile("env");
    const s = await startServer(rt, { file, env: { FILEWATCH_READ_LIMIT: "10", FILEWATCH_PORT: "1" } });
    try {
      // --port 0 from the harness beat FILEWATCH_PORT=1; the read limit came from the env.
      assertNotEquals(s.port, 1);
      const c = connect(s.wsUrl);
      await c.message(0);
      c.ws.send("x".repeat(11));
      assertEquals((await c.closed).code, ex.readLimitCode);
    } finally {
      await s.stop();
    }
  });

  t("many clients all get every version", async () => {
    await withServer(rt, "v0", [], async (s) => {
      const clients = Array.from({ length: 50 }, () => connect(s.wsUrl));
      await Promise.all(clients.map((c) => c.message(0)));
      for (let v = 1; v <= 3; v++) {
        await Deno.writeTextFile(s.file, `v${v}`);
        await Promise.all(clients.map((c) => c.message(v, POLL + 1_000)));
      }
      for (const c of clients) assertEquals(c.messages.map((m) => m.data), ["v0", "v1", "v2", "v3"]);
      clients.forEach((c) => c.close());
    });
  });

  t("/readyz: 503 with a reason while the file is missing, 200 once it exists", async () => {
    const file = await tempFile("r");
    await Deno.remove(file);
    const s = await startServer(rt, { file, args: ["--poll", `${POLL}ms`] });
    try {
      const r1 = await fetch(s.url + "readyz");
      assertEquals(r1.status, 503);
      assertMatch(await r1.text(), /not ready: .*not found/);
      await Deno.writeTextFile(file, "now");
      const r2 = await fetch(s.url + "readyz");
      assertEquals([r2.status, await r2.text()], [200, "ok\n"]);
    } finally {
      await s.stop();
    }
  });

  t("SIGTERM: every client gets 1001 and the process exits 0", async () => {
    const file = await tempFile("bye");
    const s = await startServer(rt, { file });
    const clients = Array.from({ length: 20 }, () => connect(s.wsUrl));
    await Promise.all(clients.map((c) => c.message(0)));
    const t0 = Date.now();
    const status = await s.stop("SIGTERM");
    const codes = await Promise.all(clients.map((c) => c.closed.then((x) => x.code)));
    assertEquals(status.code, 0);
    assert(Date.now() - t0 < 6_000, "exits within the 5 s grace");
    assertEquals(new Set(codes), new Set([1001]));
  });

  t("a client that stops reading is closed after --write-wait; others keep receiving the newest", async () => {
    // Large versions fill the socket buffers of a client that does not read.
    const big = (tag: string) => tag + ":" + "x".repeat(4 * 1024 * 1024);
    await withServer(rt, big("v0"), ["--write-wait", "1s", "--max-file-size", "64MiB"], async (s) => {
      const slow = connect(s.wsUrl);
      const fast = connect(s.wsUrl);
      await Promise.all([slow.message(0), fast.message(0)]);
      // Stop reading from the TCP socket: the server's writes back up.
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      for (let v = 1; v <= 6; v++) {
        await Deno.writeTextFile(s.file, big(`v${v}`));
        await fast.message(v, 5_000);
      }
      const got = fast.messages.map((m) => String(m.data).split(":")[0]);
      assertEquals(got, ["v0", "v1", "v2", "v3", "v4", "v5", "v6"]);
      const metrics = await waitFor(
        async () => {
          const text = await (await fetch(s.url + "metrics")).text();
          return /filewatch_closes_total\{reason="slow_consumer"\} 1/.test(text) ? text : "";
        },
        8_000,
        "the slow consumer to be closed",
      );
      assertMatch(metrics, /filewatch_clients 1\n/);
      fast.close();
    });
  });

  t("a client that lags gets the newest version when it catches up, not the backlog", async () => {
    const big = (tag: string) => tag + ":" + "y".repeat(4 * 1024 * 1024);
    await withServer(rt, big("v0"), ["--write-wait", "20s", "--max-file-size", "64MiB"], async (s) => {
      const lag = connect(s.wsUrl);
      const fast = connect(s.wsUrl);
      await Promise.all([lag.message(0), fast.message(0)]);
      const socket = (lag.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      socket.pause();
      // New versions until the server sees the paused client backed up (how many the kernel's and the
      // client's buffers absorb first varies from run to run), then three more it must skip.
      const lagging = async () => /^filewatch_lagging_clients 1$/m.test(await (await fetch(s.url + "metrics")).text());
      let v = 0;
      let after = -1;
      while (v < 30 && after < 3) {
        v++;
        await Deno.writeTextFile(s.file, big(`v${v}`));
        await fast.message(v, 5_000);
        if (after >= 0 || await lagging()) after++;
      }
      assert(after === 3, `the server never saw the paused client backed up in ${v} versions`);
      socket.resume();
      const newest = `v${v}`;
      await waitFor(() => lag.messages.some((m) => String(m.data).startsWith(newest + ":")), 10_000, "the newest");
      await sleep(POLL * 2);
      const got = lag.messages.map((m) => String(m.data).split(":")[0]);
      assertEquals(got.at(-1), newest);
      assert(got.length < v + 1, `skipped the backlog: got ${got.join(" ")}`);
      for (let i = 1; i < got.length; i++) assertNotEquals(got[i], got[i - 1], "nothing twice in a row");
      assertEquals(lag.ws.readyState, 1, "a lagging client within --write-wait stays connected");
      lag.close();
      fast.close();
    });
  });
}
