/**
 * The Host allowlist (docs/security.md#host-names-dns-rebinding) against a
 * real server on every runtime: a request whose Host names another host
 * (what a DNS-rebinding page sends) gets 421 with a reason naming
 * --allowed-host on every route and the WebSocket handshake; IP addresses,
 * localhost and --allowed-host names are answered, the port ignored; a
 * trusted proxy's X-Forwarded-Host is held to the same list; `*` answers all
 * and warns. Odd Host forms (IDN, trailing dots, IPv6, absolute-form
 * targets) are in tests/e2e/bad_input.test.ts.
 * @module
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { parseExposition } from "../helpers/prom.ts";
import { basic, htpasswd } from "../helpers/access.ts";
import { handshake, rawRequest, RUNTIMES, type Server, startServer, tempFile } from "../helpers/harness.ts";
import { openSocket, RawWs, readResponseHead } from "../helpers/rawws.ts";

/** A GET with the given Host (and other headers) over its own connection. */
const get = (s: Server, path: string, host: string, extra: Record<string, string> = {}) =>
  rawRequest(
    s.port,
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n` +
      Object.entries(extra).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "Connection: close\r\n\r\n",
  );

const ROUTES = ["/", "/raw", "/ws", "/files", "/metrics", "/healthz", "/readyz", "/f/watched.txt", "/nope"];

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t("a Host of another name gets 421 naming --allowed-host on every route; the file is never sent", async () => {
    const file = await tempFile("secret log line\n");
    const s = await startServer(rt, { file });
    try {
      for (const path of ROUTES) {
        const r = await get(s, path, `attacker.example:${s.port}`);
        assertEquals(r.status, 421, path);
        assertEquals(
          r.body,
          `Misdirected Request: Host "attacker.example:${s.port}" is not a name this server answers (use --allowed-host attacker.example to answer it)\n`,
          path,
        );
      }
      // What the issue reproduced: curl -H 'Host: attacker.example:PORT' http://127.0.0.1:PORT/raw → the file.
      for (const host of [`127.0.0.1:${s.port}`, `localhost:${s.port}`, "127.0.0.1", "LocalHost.", `[::1]:${s.port}`]) {
        const r = await get(s, "/raw", host);
        assertEquals([r.status, r.body], [200, "secret log line\n"], host);
      }
      const m = parseExposition((await get(s, "/metrics", "127.0.0.1")).body);
      assertEquals(m.get("filewatch_requests_refused_total", { reason: "host" }), ROUTES.length);
    } finally {
      await s.stop();
    }
  });

  t(
    "a WebSocket handshake whose Host and Origin both name the rebinding host gets 421, not 101 and the content",
    async () => {
      const file = await tempFile("secret log line\n");
      const s = await startServer(rt, { file });
      try {
        const evil = `attacker.example:${s.port}`;
        const c = await RawWs.connect("127.0.0.1", s.port, { headers: { Host: evil, Origin: `http://${evil}` } });
        c.destroy();
        assertEquals(c.upgraded, false);
        assertEquals(c.response.status, 421);
        assertMatch(
          c.response.body,
          /^Misdirected Request: Host "attacker\.example:\d+" .*--allowed-host attacker\.example/,
        );
        const ok = await RawWs.connect("127.0.0.1", s.port, {
          headers: { Host: `localhost:${s.port}`, Origin: `http://localhost:${s.port}` },
        });
        ok.destroy();
        assert(ok.upgraded, `localhost: ${ok.response.status}`);
      } finally {
        await s.stop();
      }
    },
  );

  t(
    "--allowed-host names are answered in any letter case, with a trailing dot or another port; IDN as punycode",
    async () => {
      const file = await tempFile("x\n");
      const s = await startServer(rt, {
        file,
        args: ["--allowed-host", "logs.example.com,bücher.example"],
        env: {},
      });
      try {
        for (const host of ["logs.example.com", "LOGS.Example.Com.:9999", "xn--bcher-kva.example:80"]) {
          assertEquals((await get(s, "/raw", host)).status, 200, host);
        }
        for (const host of ["example.com", "logs.example.com.attacker.example", "bucher.example"]) {
          assertEquals((await get(s, "/raw", host)).status, 421, host);
        }
        // The handshake's same-origin check still holds among allowed names.
        const c = await RawWs.connect("127.0.0.1", s.port, {
          headers: { Host: "logs.example.com", Origin: "http://localhost" },
        });
        c.destroy();
        assertEquals(c.response.status, 403);
      } finally {
        await s.stop();
      }
      // The variable, comma-separated, as well.
      const v = await startServer(rt, { file, env: { FILEWATCH_ALLOWED_HOSTS: "a.example, b.example" } });
      try {
        assertEquals((await get(v, "/raw", "b.example")).status, 200);
        assertEquals((await get(v, "/raw", "c.example")).status, 421);
      } finally {
        await v.stop();
      }
    },
  );

  t(
    "with --trust-proxy, X-Forwarded-Host from the proxy is held to the list; from anyone else it is ignored",
    async () => {
      const file = await tempFile("x\n");
      const s = await startServer(rt, {
        file,
        args: ["--trust-proxy", "127.0.0.1", "--allowed-host", "logs.example.com"],
      });
      try {
        const fwd = (value: string) => ({ "X-Forwarded-Host": value });
        assertEquals((await get(s, "/raw", "127.0.0.1", fwd("logs.example.com"))).status, 200);
        const r = await get(s, "/raw", "127.0.0.1", fwd("attacker.example"));
        assertEquals(r.status, 421);
        assertMatch(r.body, /^Misdirected Request: X-Forwarded-Host "attacker\.example"/);
        assertEquals((await get(s, "/raw", "127.0.0.1", fwd("a b/c"))).status, 421, "not a host at all");
        // A proxy that rewrites Host to its upstream and forwards the public name.
        assertEquals((await get(s, "/raw", "127.0.0.1:8080", fwd("logs.example.com:443"))).status, 200);
        // From 127.0.0.2, not a trusted proxy, the header proves nothing and is not looked at.
        const sock = await openSocket("127.0.0.1", s.port, 5_000, "127.0.0.2");
        try {
          sock.write(
            "GET /raw HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Host: attacker.example\r\nConnection: close\r\n\r\n",
          );
          assertEquals((await readResponseHead(sock, 5_000)).response.status, 200);
        } finally {
          sock.destroy();
        }
      } finally {
        await s.stop();
      }
    },
  );

  t(
    "--allowed-host * answers every name and warns at start-up; a non-loopback --host's warning names --allowed-host",
    async () => {
      const file = await tempFile("x\n");
      const any = await startServer(rt, { file, args: ["--allowed-host", "*"] });
      try {
        assertEquals((await get(any, "/raw", "attacker.example")).status, 200);
        assert(
          any.stderr.some((l) => /WARN --allowed-host \* answers requests for any host name/.test(l)),
          any.stderr.join("\n"),
        );
      } finally {
        await any.stop();
      }
      const open = await startServer(rt, { file, args: ["--host", "0.0.0.0"] });
      await open.stop();
      assert(
        open.stderr.some((l) => /WARN serving 0\.0\.0\.0 without --auth-file: .*--allowed-host/.test(l)),
        open.stderr.join("\n"),
      );
      const plain = await startServer(rt, { file });
      await plain.stop();
      assert(!plain.stderr.some((l) => /--allowed-host/.test(l)), "no warning by default");
    },
  );

  t("the Host check comes before --base-path and the credentials: a misdirected request learns nothing", async () => {
    const file = await tempFile("x\n");
    const s = await startServer(rt, { file, args: ["--base-path", "/logs", "--auth-file", await htpasswd()] });
    try {
      for (const path of ["/logs", "/logs/", "/logs/healthz", "/elsewhere"]) {
        assertEquals((await get(s, path, "attacker.example")).status, 421, path);
        assertEquals((await get(s, path, "attacker.example", { Authorization: basic() })).status, 421, path);
      }
      assertEquals((await get(s, "/logs", "127.0.0.1")).status, 301);
      assertEquals((await get(s, "/logs/", "127.0.0.1")).status, 401);
      const h = await rawRequest(s.port, handshake(s.port, { Host: "attacker.example" }, "/logs/ws"));
      assertEquals(h.status, 421);
    } finally {
      await s.stop();
    }
  });
}
