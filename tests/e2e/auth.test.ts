/**
 * Authentication (docs/security.md#authentication) against the real server on every runtime:
 * every route but the probes needs HTTP Basic credentials from the htpasswd
 * file, the WebSocket handshake included; bad headers get 401/400, never 500;
 * repeated failures from one address lock it out with 429, and it recovers.
 *
 * The lock-out case runs the server through tests/helpers/lockout_server.ts,
 * which passes the entrypoint a lock-out of 2 s (the minute of the defaults,
 * scaled down; the defaults are checked in tests/unit/auth.test.ts), and with
 * --trust-proxy 127.0.0.1, so each "client" is an X-Forwarded-For address.
 * No variable or flag can shorten a real server's lock-out: checked too.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { parseExposition } from "../helpers/prom.ts";
import { basic, htpasswd, PASSWORD, USER } from "../helpers/access.ts";
import { connect } from "../helpers/client.ts";
import {
  handshake,
  rawRequest,
  ROOT,
  runServer,
  RUNTIMES,
  type Server,
  serverCommand,
  startServer,
  tempFile,
  waitFor,
} from "../helpers/harness.ts";

const get = async (s: Server, path: string, headers: Record<string, string> = {}) => {
  const r = await fetch(s.url + path, { headers, redirect: "manual" });
  return { status: r.status, headers: r.headers, body: await r.text() };
};

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t("--auth-file: page, /metrics and the WebSocket need credentials; the probes do not", async () => {
    const file = await tempFile("secret log line\n");
    const s = await startServer(rt, { file, args: ["--auth-file", await htpasswd()] });
    try {
      const ok = { Authorization: basic() };
      // /files and /f/{name} (several files, §10) sit behind the same middleware as every route.
      // So do the routes that read any part of the file (src/scan_routes.ts).
      const reading = ["lines?end=1", "lines/watched.txt?end=1", "time?t=0", "search?q=secret", "raw?file=x.1"];
      for (const path of ["", "metrics", "files", "f/watched.txt", "nope", ...reading]) {
        const r = await get(s, path);
        assertEquals(r.status, 401, `/${path} without credentials`);
        assertEquals(r.headers.get("www-authenticate"), 'Basic realm="filewatch"');
        assert(!r.body.includes("secret"), "no content in the 401");
      }
      const page = await get(s, "", ok);
      assertEquals(page.status, 200);
      assert(page.body.includes("secret log line"));
      assertEquals((await get(s, "metrics", ok)).status, 200);
      const files = await get(s, "files", ok);
      assertEquals(files.status, 200);
      const name = (JSON.parse(files.body) as { name: string }[])[0]!.name;
      const filePage = await get(s, `f/${encodeURIComponent(name)}`, ok);
      assertEquals(filePage.status, 200);
      assert(filePage.body.includes("secret log line"), "/f/{name} with credentials shows the file");
      assertEquals((await get(s, "nope", ok)).status, 404);
      const lines = await get(s, "lines?end=1", ok);
      assertEquals([lines.status, JSON.parse(lines.body).lines[0].text], [200, "secret log line"]);
      assertMatch((await get(s, "search?q=secret", ok)).body, /"text":"secret log line"/);
      assertEquals((await get(s, "healthz")).status, 200);
      assertEquals((await get(s, "readyz")).status, 200);

      // The handshake: refused before the upgrade without credentials, upgraded with them.
      const refused = await rawRequest(s.port, handshake(s.port));
      assertEquals(refused.status, 401);
      assertEquals(refused.headers["www-authenticate"], 'Basic realm="filewatch"');
      const wrong = connect(s.wsUrl, { headers: { Authorization: basic(USER, "nope") } });
      await wrong.opened.then(
        () => assert(false, "upgraded with a wrong password"),
        (e) => assertEquals(e.status, 401),
      );
      const c = connect(s.wsUrl, { headers: { Authorization: basic() } });
      assertEquals((await c.message(0)).data, "secret log line\n");
      await Deno.writeTextFile(file, "next\n");
      assertEquals((await c.message(1, 5_000)).data, "next\n");
      c.close();
    } finally {
      await s.stop();
    }
  });

  t(
    "--auth-file: wrong password, unknown user, empty password, malformed and 10 KB headers get 401/400, never 500",
    async () => {
      const file = await tempFile("x");
      // Each case from its own address (forwarded by a trusted 127.0.0.1), so ten failures do not lock the test out.
      const s = await startServer(rt, { file, args: ["--auth-file", await htpasswd(), "--trust-proxy", "127.0.0.1"] });
      try {
        const cases: Array<[string, string, number]> = [
          ["wrong password", basic(USER, "Correct horse"), 401],
          ["unknown user", basic("mallory", PASSWORD), 401],
          ["empty password", basic(USER, ""), 401],
          ["empty user and password", basic("", ""), 401],
          ["no colon", "Basic " + btoa(USER), 401],
          ["not base64", "Basic %%%", 401],
          ["another scheme", "Bearer abc.def", 401],
          ["scheme only", "Basic", 401],
          ["bytes that are not UTF-8", "Basic " + btoa("\xff\xfe:\xff"), 401],
          ["10 KB header", basic(USER, "p".repeat(10 * 1024)), 400],
        ];
        for (const [i, [what, header, want]] of cases.entries()) {
          const r = await get(s, "", { Authorization: header, "X-Forwarded-For": `198.51.100.${i}` });
          assertEquals(r.status, want, what);
          if (want === 401) assertEquals(r.headers.get("www-authenticate"), 'Basic realm="filewatch"', what);
          assertMatch(r.body, /^(Unauthorized|Bad Request: Authorization header longer than 4096 bytes)\n$/, what);
        }
        const still = await get(s, "", { Authorization: basic() });
        assertEquals(still.status, 200, `still serving: ${still.status} ${still.body}`);
        const m = parseExposition((await get(s, "metrics", { Authorization: basic() })).body);
        assertEquals(
          (m.get("filewatch_auth_failures_total", { reason: "bad_credentials" }) ?? 0) +
            (m.get("filewatch_auth_failures_total", { reason: "malformed" }) ?? 0),
          cases.length,
        );
      } finally {
        await s.stop();
      }
    },
  );

  t(
    "--auth-file: 10 failures lock the address out with 429 and Retry-After; others and probes are not; it recovers",
    async () => {
      const file = await tempFile("x");
      const s = await startServer(rt, {
        file,
        args: ["--auth-file", await htpasswd(), "--trust-proxy", "127.0.0.1"],
        command: serverCommand(rt, `${ROOT}tests/helpers/lockout_server.ts`),
      });
      try {
        const from = (ip: string, auth?: string) => ({
          "X-Forwarded-For": ip,
          ...(auth ? { Authorization: auth } : {}),
        });
        const attacker = "203.0.113.66";
        for (let i = 0; i < 10; i++) {
          assertEquals((await get(s, "", from(attacker, basic(USER, `guess ${i}`)))).status, 401, `guess ${i}`);
        }
        const locked = await get(s, "", from(attacker, basic()));
        assertEquals(locked.status, 429, "locked out, even with the right password");
        assertMatch(locked.headers.get("retry-after") ?? "", /^[12]$/);
        assertMatch(locked.body, /^Too Many Requests: too many failed logins from 203\.0\.113\.66/);
        assertEquals((await rawRequest(s.port, handshake(s.port, from(attacker, basic())))).status, 429, "socket too");
        assertEquals((await get(s, "healthz", from(attacker))).status, 200, "probes are never locked");
        assertEquals((await get(s, "", from("198.51.100.1", basic()))).status, 200, "another address is not");
        const m = parseExposition((await get(s, "metrics", from("198.51.100.1", basic()))).body);
        assertEquals(m.get("filewatch_auth_lockouts_total"), 1);
        assertEquals(m.get("filewatch_auth_locked_total"), 2);
        assert(s.stderr.some((l) => /too many failed logins.*203\.0\.113\.66/.test(l)), "logged with the address");
        await waitFor(
          async () => (await get(s, "", from(attacker, basic()))).status === 200,
          5_000,
          "the lock-out to end",
        );
      } finally {
        await s.stop();
      }
    },
  );

  t(
    "--auth-file: the environment cannot shorten the lock-out (FILEWATCH_TEST_LOCKOUT=2s, once honoured, still locks for a minute)",
    async () => {
      const file = await tempFile("x");
      const s = await startServer(rt, {
        file,
        args: ["--auth-file", await htpasswd(), "--trust-proxy", "127.0.0.1"],
        env: { FILEWATCH_TEST_LOCKOUT: "2s" },
      });
      try {
        const attacker = { "X-Forwarded-For": "203.0.113.67" };
        // At once: each failure is counted before its 401 is held back, so ten take the longest delay, not the sum.
        const guesses = await Promise.all(
          Array.from({ length: 10 }, (_, i) => get(s, "", { ...attacker, Authorization: basic(USER, `guess ${i}`) })),
        );
        assertEquals(guesses.map((g) => g.status), Array(10).fill(401));
        const locked = await get(s, "", { ...attacker, Authorization: basic() });
        assertEquals(locked.status, 429);
        const retry = Number(locked.headers.get("retry-after"));
        assert(retry > 50 && retry <= 60, `Retry-After ${retry}: the default minute`);
      } finally {
        await s.stop();
      }
    },
  );

  t("--auth-file: a file with another hash kind, or none at all, exits 2 with the reason", async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/apr1`, "bob:$apr1$Ez6JtKxC$uyb6.Rv8zSWmrjNbqhLyg/\n");
    const r = await runServer(rt, ["--auth-file", `${dir}/apr1`, "f"]);
    assertEquals(r.code, 2);
    assertMatch(r.stderr, /^error: Cannot use --auth-file ".*apr1": line 1: user "bob" has an MD5 \(\$apr1\$\) hash/);
    const missing = await runServer(rt, ["--auth-file", `${dir}/nope`, "f"]);
    assertEquals(missing.code, 2);
    assertMatch(missing.stderr, /^error: Cannot read --auth-file ".*nope"/);
  });

  t("a non-loopback address without --auth-file starts with a warning naming it; with one, no warning", async () => {
    const file = await tempFile("x");
    const open = await startServer(rt, { file, args: ["--host", "0.0.0.0"] });
    await open.stop();
    assert(
      open.stderr.some((l) => /WARN serving 0\.0\.0\.0 without --auth-file/.test(l)),
      open.stderr.join("\n"),
    );
    const closed = await startServer(rt, { file, args: ["--host", "0.0.0.0", "--auth-file", await htpasswd()] });
    await closed.stop();
    assert(!closed.stderr.some((l) => /without --auth-file/.test(l)));
    const local = await startServer(rt, { file });
    await local.stop();
    assert(!local.stderr.some((l) => /without --auth-file/.test(l)), "loopback: no warning");
  });
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });
  const proxied = async (users?: Parameters<typeof htpasswd>[0]) => {
    const file = await tempFile("x");
    return await startServer(rt, { file, args: ["--auth-file", await htpasswd(users), "--trust-proxy", "127.0.0.1"] });
  };
  const from = (ip: string, auth: string) => ({ "X-Forwarded-For": ip, Authorization: auth });

  t(
    "--auth-file: 40 wrong passwords at once from one address: 10 are checked (401), 30 get 429 unchecked",
    async () => {
      const s = await proxied();
      try {
        const answers = await Promise.all(
          Array.from({ length: 40 }, (_, i) => get(s, "", from("203.0.113.70", basic(USER, `guess ${i}`)))),
        );
        const statuses = answers.map((a) => a.status);
        assertEquals(statuses.filter((x) => x === 401).length, 10, statuses.join(" "));
        assertEquals(statuses.filter((x) => x === 429).length, 30, statuses.join(" "));
        const m = parseExposition((await get(s, "metrics", from("198.51.100.1", basic()))).body);
        assertEquals(m.get("filewatch_auth_failures_total", { reason: "bad_credentials" }), 10, "passwords checked");
        assertEquals((await get(s, "", from("203.0.113.70", basic()))).status, 429, "and the address is locked");
      } finally {
        await s.stop();
      }
    },
  );

  t(
    "--auth-file: a success erases no failure and lifts no lock: 9 wrong, the right one, 1 wrong locks the address",
    async () => {
      const s = await proxied();
      try {
        const ip = "203.0.113.71";
        for (let i = 0; i < 9; i++) assertEquals((await get(s, "", from(ip, basic(USER, `guess ${i}`)))).status, 401);
        assertEquals((await get(s, "", from(ip, basic()))).status, 200, "the right password is let in…");
        assertEquals((await get(s, "", from(ip, basic(USER, "guess 9")))).status, 401);
        const after = await get(s, "", from(ip, basic()));
        assertEquals(after.status, 429, "…but did not reset the count: the tenth failure locked the address");
        assertMatch(after.body, /too many failed logins from 203\.0\.113\.71/);
      } finally {
        await s.stop();
      }
    },
  );

  t(
    "--auth-file: a burst from many addresses queues at most 2 checks running and 32 waiting; the rest get 503",
    async () => {
      const s = await proxied({ [USER]: [PASSWORD, 10] });
      try {
        const answers = await Promise.all(
          Array.from({ length: 60 }, (_, i) => get(s, "", from(`198.51.100.${i}`, basic(USER, "wrong")))),
        );
        const busy = answers.filter((a) => a.status === 503);
        assertEquals(answers.filter((a) => a.status === 401).length + busy.length, 60);
        // All 60 arrive within a check or two of each other: at most a few more than 34 are let in.
        assert(busy.length >= 20, `only ${busy.length} of 60 refused with 503`);
        for (const b of busy) {
          assertMatch(b.headers.get("retry-after") ?? "", /^\d+$/);
          assertMatch(b.body, /^Service Unavailable: too many logins being checked; try again in \d+s\n$/);
        }
        assertEquals((await get(s, "", from("198.51.100.200", basic()))).status, 200, "and it recovers");
      } finally {
        await s.stop();
      }
    },
  );

  t(
    "--auth-file: a wrong password for a cost-4 user, a cost-12 user and an unknown user take the same time",
    async () => {
      const s = await proxied({ quick: ["pw-quick", 4], dear: ["pw-dear", 12] });
      try {
        const kinds: Record<string, string> = {
          quick: basic("quick", "wrong"),
          dear: basic("dear", "wrong"),
          unknown: basic("nobody", "wrong"),
        };
        const times: Record<string, number[]> = { quick: [], dear: [], unknown: [] };
        let n = 0;
        // Interleaved in a shuffled order, each from its own address (no slow-down). The machine's load only ever
        // adds time, so each kind's quickest answer is the best measure of its own cost: those must agree.
        for (let round = 0; round < 7; round++) {
          for (const kind of Object.keys(kinds).sort(() => Math.random() - 0.5)) {
            const t0 = performance.now();
            const r = await get(s, "", from(`192.0.2.${++n}`, kinds[kind]!));
            times[kind]!.push(performance.now() - t0);
            assertEquals(r.status, 401);
          }
        }
        const quickest = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.min(...v)]));
        const [lo, hi] = [Math.min(...Object.values(quickest)), Math.max(...Object.values(quickest))];
        const shown = Object.entries(times).map(([k, v]) => `${k}: ${v.map(Math.round).join(" ")}`).join("; ");
        // Unpadded, a cost-4 check is 256 times cheaper than a cost-12 one; padded, the three agree within noise. On
        // two cores shared at load 10, the quickest of 7 answers of equal work still differed by up to 1.6 times.
        assert(
          hi / lo < 2,
          `quickest ${JSON.stringify(quickest, (_, x) => typeof x === "number" ? Math.round(x) : x)} (ms: ${shown})`,
        );
        assert(lo > 50, `a cost-12 check takes tens of milliseconds at least (ms: ${shown})`);
      } finally {
        await s.stop();
      }
    },
  );
}
