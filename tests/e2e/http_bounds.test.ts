/**
 * HTTP is bounded (docs/security.md#http-bounded), against a real server on
 * every runtime: the page for a version is rendered once however many ask
 * (each still with its own CSP nonce), and `--max-requests-per-ip` caps the
 * requests one address has in progress (a download it does not read
 * included), never the probes. Slow headers are in
 * tests/e2e/bad_input.test.ts; memory in bench/page_memory.ts.
 * @module
 */
import type * as net from "node:net";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { parseExposition } from "../helpers/prom.ts";
import { EXPECT, RUNTIMES, type Server, startServer, tempFile, waitFor } from "../helpers/harness.ts";
import { openSocket } from "../helpers/rawws.ts";

/** A request with fetch (which reads chunked and counted bodies alike); headers as a record. */
const get = async (s: Server, path: string, method = "GET") => {
  const r = await fetch(s.url.replace(/\/$/, "") + path, { method });
  const headers = Object.fromEntries(r.headers);
  return { status: r.status, headers, body: await r.text() };
};

const renders = async (s: Server) =>
  parseExposition((await get(s, "/metrics")).body).get("filewatch_page_renders_total");

/** Sends a request and never reads the answer: it stays in progress while the server's writes are stuck. */
async function unread(s: Server, path: string, from = "127.0.0.1"): Promise<net.Socket> {
  const sock = await openSocket("127.0.0.1", s.port, 5_000, from);
  sock.pause();
  sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n\r\n`);
  return sock;
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t(
    "the page is rendered once per version, not per request; each response has its own nonce, matching its CSP",
    async () => {
      const file = await tempFile("line <one>\n".repeat(5_000));
      const s = await startServer(rt, { file, args: ["--poll", "100ms"] });
      try {
        const pages = await Promise.all(Array.from({ length: 10 }, () => get(s, "/")));
        const nonces = new Set<string>();
        for (const p of pages) {
          assertEquals(p.status, 200);
          assert(p.body.includes("line &lt;one&gt;\n"), "content, escaped");
          const csp = p.headers["content-security-policy"] ?? "";
          const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
          assert(nonce, csp);
          assertEquals(
            p.body.split(`nonce="${nonce}"`).length - 1,
            2,
            "the style's and the script's nonce are this response's",
          );
          nonces.add(nonce);
        }
        assertEquals(nonces.size, 10, "a nonce per response");
        assertEquals(await renders(s), 1);
        await Deno.writeTextFile(file, "changed\n");
        await waitFor(
          async () => (await get(s, "/")).body.includes('<span class="chunk">changed\n'),
          5_000,
          "the change",
        );
        for (let i = 0; i < 3; i++) await get(s, "/");
        assertEquals(await renders(s), 2, "one more for the new version");
        // HEAD answers with the page's head and no body, without rendering again.
        const head = await get(s, "/", "HEAD");
        assertEquals([head.status, head.body], [200, ""]);
        assertEquals(await renders(s), 2);
      } finally {
        await s.stop();
      }
    },
  );

  t(
    "--max-requests-per-ip 3: unread downloads hold the address's slots, the next request gets 429; probes and others are served",
    async () => {
      const file = await tempFile(new Uint8Array(32 * 1024 * 1024).fill(120));
      const s = await startServer(rt, { file, args: ["--max-requests-per-ip", "3", "--max-file-size", "64MiB"] });
      const held: net.Socket[] = [];
      try {
        for (let i = 0; i < 3; i++) held.push(await unread(s, "/raw"));
        const refused = await waitFor(
          async () => {
            const r = await get(s, "/files");
            return r.status === 429 ? r : null;
          },
          5_000,
          "a 429",
        );
        assertEquals(refused.headers["retry-after"], "1");
        assertMatch(refused.body, /^Too Many Requests: 3 requests from 127\.0\.0\.1 in progress already\n$/);
        assertEquals((await get(s, "/healthz")).status, 200, "/healthz is never counted");
        assertEquals((await get(s, "/readyz")).status, 200, "/readyz is never counted");
        // Another address has slots of its own.
        const other = await openSocket("127.0.0.1", s.port, 5_000, "127.0.0.2");
        other.write(`GET /files HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
        const answer = await new Promise<string>((r) => other.once("data", (d) => r(String(d))));
        other.destroy();
        assertMatch(answer, /^HTTP\/1\.1 200 /);
        // A client that goes away gives its slot back.
        held.shift()!.destroy();
        await waitFor(async () => (await get(s, "/files")).status === 200, 5_000, "a slot back");
        const m = parseExposition((await get(s, "/metrics")).body);
        assert((m.get("filewatch_requests_refused_total", { reason: "ip_limit" }) ?? 0) >= 1);
      } finally {
        for (const sock of held) sock.destroy();
        await s.stop();
      }
    },
  );

  t(
    "--max-requests-per-ip 1: requests one after another, HEAD and finished downloads each give their slot back",
    async () => {
      const file = await tempFile("small\n");
      const s = await startServer(rt, { file, args: ["--max-requests-per-ip", "1"] });
      try {
        for (
          const [path, method] of [["/", "GET"], ["/", "HEAD"], ["/raw", "GET"], ["/raw", "HEAD"], ["/files", "GET"]]
        ) {
          for (let i = 0; i < 3; i++) {
            assertEquals((await get(s, path!, method)).status, 200, `${method} ${path} #${i}`);
          }
        }
        assertEquals((await get(s, "/nope")).status, 404);
        assertEquals((await get(s, "/")).status, 200, "a 404 gave its slot back too");
      } finally {
        await s.stop();
      }
    },
  );
}

for (const rt of RUNTIMES) {
  Deno.test({
    name: `[${rt}] a runtime that cannot cut off slow headers warns when it faces a network without a proxy in front`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const file = await tempFile("x\n");
      const warned = (s: Server) =>
        s.stderr.some((l) => /never times out a client that sends its headers slowly/.test(l));
      const open = await startServer(rt, { file, args: ["--host", "0.0.0.0"] });
      await open.stop();
      // Deno 2.9 has no header-read timeout (harness EXPECT.slowHeadersCutOffS, docs/runtimes.md).
      assertEquals(warned(open), EXPECT[rt].slowHeadersCutOffS === null, open.stderr.join("\n"));
      const proxied = await startServer(rt, { file, args: ["--host", "0.0.0.0", "--trust-proxy", "127.0.0.1"] });
      await proxied.stop();
      assert(!warned(proxied), "with a proxy in front, no warning");
      const local = await startServer(rt, { file });
      await local.stop();
      assert(!warned(local), "on loopback, no warning");
    },
  });
}
