/**
 * filewatch behind Debian's real nginx running deploy/nginx.conf
 * (docs/deployment.md#behind-a-reverse-proxy), on every runtime: TLS at nginx, the /logs prefix, Basic credentials
 * checked by filewatch, WebSocket forwarding; with --trust-proxy 127.0.0.1/32
 * the per-address cap counts the client address nginx forwards, and a client
 * that sends its own X-Forwarded-For (through nginx, or straight to
 * filewatch) cannot dodge it.
 *
 * Clients connect from other loopback addresses (127.0.0.2, 127.0.0.3) so
 * they are not the trusted proxy's 127.0.0.1.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { basic, certificate, htpasswd } from "../helpers/access.ts";
import { type Client, connect } from "../helpers/client.ts";
import { RUNTIMES, type Server, startServer, tempFile, waitFor } from "../helpers/harness.ts";
import { type Nginx, PREFIX, startNginx } from "../helpers/nginx.ts";

const CAP = 2;
/** deploy/nginx.conf's server_name: the name browsers use, which nginx forwards in Host and X-Forwarded-Host. */
const PUBLIC_NAME = "logs.example.com";

/** A request to nginx over TLS with a Host of our choosing (fetch sends the URL's); the status line and the body. */
async function viaNginx(port: number, pem: string, host: string, path: string, auth: string): Promise<string> {
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [pem] });
  await conn.write(
    new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: ${auth}\r\nConnection: close\r\n\r\n`,
    ),
  );
  return await new Response(conn.readable).text();
}

/** The handshake's outcome: "open" or the HTTP status it was refused with. */
async function outcome(c: Client): Promise<string> {
  return await c.opened.then(() => "open", (e) => String(e.status ?? e.message));
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  /** filewatch as deploy/nginx.conf expects it, and nginx in front. */
  const setup = async (): Promise<{ s: Server; ngx: Nginx; pem: string; close(): Promise<void> }> => {
    const tls = await certificate();
    const file = await tempFile("behind nginx\n");
    const s = await startServer(rt, {
      file,
      args: [
        "--base-path",
        PREFIX,
        "--trust-proxy",
        "127.0.0.1/32",
        // The public name nginx passes on, as deploy/nginx.conf's command line says.
        "--allowed-host",
        PUBLIC_NAME,
        "--auth-file",
        await htpasswd(),
        "--max-clients-per-ip",
        String(CAP),
        "--poll",
        "100ms",
      ],
    });
    let ngx: Nginx;
    try {
      ngx = await startNginx({ upstream: s.port, cert: tls.cert, key: tls.key });
    } catch (e) {
      await s.stop();
      throw e;
    }
    return {
      s,
      ngx,
      pem: tls.pem,
      async close() {
        await ngx.stop();
        await s.stop();
      },
    };
  };

  t(
    "through nginx: https page under the prefix with credentials, probes open, wss updates, Origin checked",
    async () => {
      const { s, ngx, pem, close } = await setup();
      const client = Deno.createHttpClient({ caCerts: [pem] });
      const sockets: Client[] = [];
      try {
        const base = `${ngx.origin}${PREFIX}/`;
        const get = (url: string, auth = true) =>
          fetch(url, { client, redirect: "manual", headers: auth ? { Authorization: basic() } : {} });
        const none = await get(base, false);
        assertEquals([none.status, none.headers.get("www-authenticate")], [401, 'Basic realm="filewatch"']);
        await none.body?.cancel();
        const page = await get(base);
        assertEquals(page.status, 200);
        const html = await page.text();
        assert(html.includes("behind nginx") && html.includes(`data-socket="${PREFIX}/ws"`));
        const bare = await get(`${ngx.origin}${PREFIX}`);
        assertEquals([bare.status, bare.headers.get("location")], [301, `${ngx.origin}${PREFIX}/`]);
        await bare.body?.cancel();
        const health = await get(`${base}healthz`, false);
        assertEquals([health.status, await health.text()], [200, "ok\n"]);

        const wss = `wss://127.0.0.1:${ngx.port}${PREFIX}/ws`;
        const headers = { Authorization: basic(), Origin: ngx.origin };
        const c = connect(wss, { ca: pem, protocols: ["filewatch.v1"], headers, localAddress: "127.0.0.2" });
        sockets.push(c);
        assertEquals((await c.json(0)).data, "behind nginx\n");
        await Deno.writeTextFile(s.file, "one more line\n", { append: true });
        assertEquals((await c.json(1)).data, "one more line\n");
        // The same-origin check sees the public host and scheme (X-Forwarded-Host/-Proto), so another origin is refused
        const evil = connect(wss, { ca: pem, headers: { ...headers, Origin: "https://evil.example" } });
        sockets.push(evil);
        assertEquals(await outcome(evil), "403");
        // …and so is the right host on the wrong scheme.
        const downgrade = connect(wss, { ca: pem, headers: { ...headers, Origin: `http://127.0.0.1:${ngx.port}` } });
        sockets.push(downgrade);
        assertEquals(await outcome(downgrade), "403");
        const noAuth = connect(wss, { ca: pem, headers: { Origin: ngx.origin } });
        sockets.push(noAuth);
        assertEquals(await outcome(noAuth), "401");
        // The log names the client nginx forwarded, not nginx.
        await waitFor(() => s.stderr.some((l) => /client connected ip=127\.0\.0\.2/.test(l)), 3_000, "the connect log");
      } finally {
        for (const c of sockets) c.ws.terminate();
        client.close();
        await close();
      }
    },
  );

  t(
    "through nginx: the per-address cap counts the forwarded client; its own X-Forwarded-For does not dodge it",
    async () => {
      const { s, ngx, pem, close } = await setup();
      const sockets: Client[] = [];
      try {
        const wss = `wss://127.0.0.1:${ngx.port}${PREFIX}/ws`;
        const open = (from: string, extra: Record<string, string> = {}) => {
          const c = connect(wss, {
            ca: pem,
            localAddress: from,
            headers: { Authorization: basic(), Origin: ngx.origin, ...extra },
          });
          sockets.push(c);
          return outcome(c);
        };
        for (let i = 0; i < CAP; i++) assertEquals(await open("127.0.0.2"), "open", `client ${i} from 127.0.0.2`);
        assertEquals(await open("127.0.0.2"), "429", "over the cap for 127.0.0.2");
        // nginx appends the real address after whatever the client wrote: the right-most untrusted one counts.
        assertEquals(await open("127.0.0.2", { "X-Forwarded-For": "203.0.113.1" }), "429", "spoofed via nginx");
        assertEquals(await open("127.0.0.3"), "open", "another client address has its own cap");
        // Not a cap on nginx's own address: everything above came from nginx's 127.0.0.1.
        await waitFor(() => s.stderr.filter((l) => /client connected ip=127\.0\.0\.[23]/.test(l)).length === CAP + 1);
      } finally {
        for (const c of sockets) c.ws.terminate();
        await close();
      }
    },
  );

  t("straight to filewatch: a client that is not a trusted proxy cannot name its own address", async () => {
    const { s, close } = await setup();
    const sockets: Client[] = [];
    try {
      const open = (xff: string) => {
        const c = connect(s.wsUrl, {
          localAddress: "127.0.0.2",
          headers: { Authorization: basic(), "X-Forwarded-For": xff },
        });
        sockets.push(c);
        return outcome(c);
      };
      for (let i = 0; i < CAP; i++) assertEquals(await open(`198.51.100.${i}`), "open");
      assertEquals(await open("198.51.100.99"), "429", "X-Forwarded-For from an untrusted peer is ignored");
      const refused = await fetch(s.url.replace(/\/$/, "") + "/ws").then(async (r) => [r.status, await r.text()]);
      assertMatch(String(refused[0]), /^(401|426)$/);
    } finally {
      for (const c of sockets) c.ws.terminate();
      await close();
    }
  });

  t(
    "through nginx: the public name is answered; another name nginx forwards gets 421 from filewatch (DNS rebinding)",
    async () => {
      const { ngx, pem, close } = await setup();
      try {
        const named = await viaNginx(ngx.port, pem, PUBLIC_NAME, `${PREFIX}/raw`, basic());
        assertMatch(named, /^HTTP\/1\.1 200 /);
        assert(named.includes("behind nginx"), named.slice(0, 200));
        const other = await viaNginx(ngx.port, pem, `attacker.example:${ngx.port}`, `${PREFIX}/raw`, basic());
        assertMatch(other, /^HTTP\/1\.1 421 /);
        assert(other.includes("Misdirected Request: ") && !other.includes("behind nginx"), other.slice(0, 300));
      } finally {
        await close();
      }
    },
  );
}

// nginx's own timeout, the same whatever runs behind it: once, in front of the runtime that needs it.
Deno.test({
  name: "deploy/nginx.conf cuts off a client that sends its headers slowly (client_header_timeout), for Deno behind it",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const tls = await certificate();
    const file = await tempFile("behind nginx\n");
    const s = await startServer("deno", { file, args: ["--base-path", PREFIX, "--trust-proxy", "127.0.0.1/32"] });
    const ngx = await startNginx({ upstream: s.port, cert: tls.cert, key: tls.key });
    try {
      const conn = await Deno.connectTls({ hostname: "127.0.0.1", port: ngx.port, caCerts: [tls.pem] });
      const t0 = Date.now();
      const closed = new Response(conn.readable).text().then(() => Date.now() - t0, () => Date.now() - t0);
      const head = `GET ${PREFIX}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaa`;
      let ms: number | null = null;
      closed.then((x) => ms = x);
      for (let i = 0; i < head.length && ms === null; i++) {
        await conn.write(new TextEncoder().encode(head[i]!)).catch(() => {});
        // The request line and Host at once, then a byte every 3 s.
        if (i >= head.indexOf("X-Slow")) await new Promise((r) => setTimeout(r, 3_000));
      }
      const took = await closed;
      assert(took <= 30_000, `nginx closed it after ${took} ms`);
    } finally {
      await ngx.stop();
      await s.stop();
    }
  },
});
