import bcrypt from "bcryptjs";
import { Hono } from "hono";
import { assert, assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";
import { authenticate, defineAuthMetrics, LOCKOUT, type LockoutPolicy, parseHtpasswd } from "../../src/auth.ts";
import { LocalLimits } from "../../src/limits.ts";
import { createLogger } from "../../src/log.ts";
import { Metrics } from "../../src/metrics.ts";

const HASH = bcrypt.hashSync("s3cret", 10).replace(/^\$2b\$/, "$2y$"); // as htpasswd -B writes it

Deno.test("parseHtpasswd() reads $2y$/$2a$/$2b$ lines, comments and blanks; refuses other hash kinds by line", () => {
  const users = parseHtpasswd(`# users\n\nalice:${HASH}\r\nbob:${HASH.replace("$2y$", "$2a$")}\n`);
  assertEquals([...users.keys()], ["alice", "bob"]);
  const cases: Array<[string, RegExp]> = [
    ["carol:$apr1$abc$defghijklmnopqrstuvw", /^line 1: user "carol" has an MD5 \(\$apr1\$\) hash; only bcrypt/],
    ["# x\ndave:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", /^line 2: user "dave" has a SHA-1/],
    ["erin:plain", /not a bcrypt hash/],
    ["no colon here", /^line 1: expected user:hash/],
    [`a:${HASH}\na:${HASH}`, /^line 2: user "a" is listed twice/],
    ["# only comments\n", /no users/],
    [`f:${HASH.slice(0, -1)}`, /not a bcrypt hash/],
  ];
  for (const [text, re] of cases) assertMatch((assertThrows(() => parseHtpasswd(text)) as Error).message, re);
});

/** An app behind authenticate(), with a clock the test moves and the client address taken from a test header. */
function setup(policy: LockoutPolicy = { ...LOCKOUT, slowStep: 5, slowMax: 20 }) {
  let t = 1_000_000;
  const metrics = new Metrics();
  defineAuthMetrics(metrics);
  const logs: string[] = [];
  const app = new Hono();
  app.use(
    "*",
    authenticate({
      users: parseHtpasswd(`alice:${HASH}`),
      open: ["/healthz"],
      clientAddress: (c) => c.req.header("x-test-ip") ?? "192.0.2.1",
      metrics,
      log: createLogger("text", false, (l) => logs.push(l)),
      limits: new LocalLimits(policy, { ws: 0, http: 0 }, () => t),
      now: () => t,
    }),
  );
  app.get("/", (c) => c.text("page"));
  app.get("/healthz", (c) => c.text("ok"));
  const get = async (path: string, auth?: string, ip?: string) => {
    const h: Record<string, string> = {};
    if (auth !== undefined) h.authorization = auth;
    if (ip) h["x-test-ip"] = ip;
    const r = await app.request(path, { headers: h });
    return { status: r.status, headers: r.headers, body: await r.text() };
  };
  return { get, metrics, logs, advance: (ms: number) => void (t += ms) };
}

const basic = (user: string, pass: string) => "Basic " + btoa(`${user}:${pass}`);

Deno.test("authenticate(): 401 with the realm without or with wrong credentials, 200 with right ones, probes open", async () => {
  const { get, metrics } = setup();
  const none = await get("/");
  assertEquals(none.status, 401);
  assertEquals(none.headers.get("www-authenticate"), 'Basic realm="filewatch"');
  assertEquals((await get("/", basic("alice", "s3cret"))).status, 200);
  assertEquals((await get("/", basic("alice", "wrong"))).status, 401);
  assertEquals((await get("/", basic("mallory", "s3cret"))).status, 401);
  assertEquals((await get("/", basic("alice", ""))).status, 401);
  assertEquals((await get("/", "Basic !!!not-base64")).status, 401);
  assertEquals((await get("/", "Bearer abc")).status, 401);
  assertEquals((await get("/", "Basic " + btoa("no-colon"))).status, 401);
  assertEquals((await get("/", basic("alice", "x".repeat(10_000)))).status, 400);
  assertEquals((await get("/healthz")).status, 200);
  assertEquals(metrics.get("filewatch_auth_failures_total", { reason: "bad_credentials" }), 4);
  assertEquals(metrics.get("filewatch_auth_failures_total", { reason: "malformed" }), 3);
});

Deno.test("authenticate(): verified credentials are remembered, not bcrypt'ed again; a wrong password is not", async () => {
  const { get } = setup();
  const timed = async (auth: string) => {
    const t0 = performance.now();
    const r = await get("/", auth);
    return { status: r.status, ms: performance.now() - t0 };
  };
  const first = await timed(basic("alice", "s3cret"));
  const again = await timed(basic("alice", "s3cret"));
  const wrong = await timed(basic("alice", "s3cret!"));
  assertEquals([first.status, again.status, wrong.status], [200, 200, 401]);
  assert(again.ms * 5 < first.ms, `cached ${again.ms.toFixed(1)} ms vs first ${first.ms.toFixed(1)} ms`);
  assert(wrong.ms * 5 > first.ms, `a wrong password paid a bcrypt: ${wrong.ms.toFixed(1)} ms`);
});

Deno.test("authenticate(): an unknown user costs about what a wrong password costs (a dummy bcrypt)", async () => {
  const { get } = setup({ ...LOCKOUT, slowAfter: 1000 });
  const time = async (auth: string) => {
    let total = 0;
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      await get("/", auth, `198.51.100.${i}`);
      total += performance.now() - t0;
    }
    return total;
  };
  const wrong = await time(basic("alice", "nope"));
  const unknown = await time(basic("nobody", "nope"));
  assert(
    unknown > wrong / 3 && unknown < wrong * 3,
    `unknown user ${unknown.toFixed(0)} ms, wrong password ${wrong.toFixed(0)} ms`,
  );
});

Deno.test("authenticate(): 10 failures within the window lock the address out with 429 and Retry-After, then it recovers", async () => {
  const { get, metrics, logs, advance } = setup();
  for (let i = 0; i < LOCKOUT.limit - 1; i++) assertEquals((await get("/", basic("alice", `guess${i}`))).status, 401);
  assertEquals((await get("/", basic("alice", "s3cret"), "192.0.2.99")).status, 200, "another address is not affected");
  assertEquals((await get("/", basic("alice", "last guess"))).status, 401);
  const locked = await get("/", basic("alice", "s3cret"));
  assertEquals(locked.status, 429, "even the right password is refused while locked out");
  assertEquals(locked.headers.get("retry-after"), "60");
  assertMatch(locked.body, /^Too Many Requests: too many failed logins from 192\.0\.2\.1/);
  assertEquals((await get("/healthz")).status, 200, "probes are never locked");
  assertEquals(metrics.get("filewatch_auth_lockouts_total"), 1);
  assertEquals(metrics.get("filewatch_auth_locked_total"), 1);
  assert(logs.some((l) => /WARN too many failed logins/.test(l)), logs.join("\n"));
  advance(LOCKOUT.lockout - 1_000);
  assertEquals((await get("/", basic("alice", "s3cret"))).status, 429);
  advance(1_001);
  assertEquals((await get("/", basic("alice", "s3cret"))).status, 200, "recovered after the lock-out");
});

Deno.test("authenticate(): failures spread wider than the window never lock out; failures past slowAfter are delayed", async () => {
  const { get, advance } = setup({ ...LOCKOUT, slowStep: 40, slowMax: 80 });
  for (let i = 0; i < 3 * LOCKOUT.limit; i++) {
    assertEquals((await get("/", basic("alice", "no"))).status, 401);
    advance(LOCKOUT.window / (LOCKOUT.limit - 2));
  }
  const t0 = performance.now();
  await get("/", basic("alice", "no"));
  assert(performance.now() - t0 >= 40, "the 401 was held back");
});

Deno.test("authenticate(): 40 wrong passwords at once from one address get 10 checks (401) and 30 × 429 unchecked; the right one after them is locked out", async () => {
  const { get, metrics } = setup();
  const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => get("/", basic("alice", `guess ${i}`))));
  const count = (s: number) => answers.filter((a) => a.status === s).length;
  assertEquals([count(401), count(429)], [LOCKOUT.limit, 40 - LOCKOUT.limit]);
  assertEquals(metrics.get("filewatch_auth_failures_total", { reason: "bad_credentials" }), LOCKOUT.limit);
  assertMatch(
    answers.find((a) => a.status === 429)!.body,
    /^Too Many Requests: too many login attempts from 192\.0\.2\.1 at once/,
  );
  assertEquals((await get("/", basic("alice", "s3cret"))).status, 429, "the ten failures locked the address");
});

Deno.test("authenticate(): 39 wrong passwords and the right one at once: the right one does not lift the lock", async () => {
  const { get } = setup();
  const wrong = Array.from({ length: 39 }, (_, i) => get("/", basic("alice", `guess ${i}`)));
  const right = get("/", basic("alice", "s3cret"));
  const answers = await Promise.all([...wrong, right]);
  assertEquals((await right).status, 429, "over the attempts in flight: refused unchecked");
  assertEquals(answers.filter((a) => a.status === 200).length, 0);
  assertEquals((await get("/", basic("alice", "s3cret"))).status, 429, "still locked afterwards");
});

Deno.test("authenticate(): the queue of checks is bounded: beyond 2 running and 32 waiting, 503 with Retry-After", async () => {
  const { get, metrics } = setup({ ...LOCKOUT, slowAfter: 1000 });
  const answers = await Promise.all(
    Array.from({ length: 60 }, (_, i) => get("/", basic("alice", "no"), `198.51.100.${i}`)),
  );
  const busy = answers.filter((a) => a.status === 503);
  assertEquals(answers.filter((a) => a.status === 401).length, 34);
  assertEquals(busy.length, 26);
  assertMatch(busy[0]!.headers.get("retry-after") ?? "", /^\d+$/);
  assertMatch(busy[0]!.body, /^Service Unavailable: too many logins being checked/);
  assertEquals(metrics.get("filewatch_auth_unavailable_total"), 26);
  assertEquals(metrics.get("filewatch_auth_failures_total", { reason: "bad_credentials" }), 34, "only checks count");
});
