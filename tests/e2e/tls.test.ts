/**
 * Native TLS (docs/security.md#tls) on every runtime, with a certificate openssl makes
 * at test time: the start-up line says https://, the page comes over https,
 * updates over wss; a missing file or a key that does not match the
 * certificate exits 2 with a one-line reason before listening.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { basic, certificate, htpasswd } from "../helpers/access.ts";
import { connect } from "../helpers/client.ts";
import { runServer, RUNTIMES, startServer, tempFile } from "../helpers/harness.ts";

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t("--tls-cert/--tls-key: https page and wss updates, with a base path and credentials", async () => {
    const tls = await certificate();
    const file = await tempFile("over tls\n");
    const s = await startServer(rt, {
      file,
      args: ["--tls-cert", tls.cert, "--tls-key", tls.key, "--base-path", "/secure", "--auth-file", await htpasswd()],
    });
    const client = Deno.createHttpClient({ caCerts: [tls.pem] });
    try {
      assertMatch(s.url, /^https:\/\/127\.0\.0\.1:\d+\/secure\/$/);
      assertMatch(s.stdout[0]!, /^filewatch: watching .* on https:\/\/127\.0\.0\.1:\d+\/secure\/$/);
      const page = await fetch(s.url, { client, headers: { Authorization: basic() } });
      assertEquals(page.status, 200);
      const html = await page.text();
      assert(html.includes("over tls"));
      assert(html.includes('data-socket="/secure/ws"'), "the page's socket is under the prefix");
      const health = await fetch(s.url + "healthz", { client });
      assertEquals([health.status, await health.text()], [200, "ok\n"]);
      // Plain http to the TLS port is not served.
      const plain = await fetch(s.url.replace("https:", "http:")).then((r) => r.body?.cancel(), (e) => e);
      assert(plain instanceof Error, "plain http is refused");

      assertMatch(s.wsUrl, /^wss:\/\//);
      const c = connect(s.wsUrl, {
        ca: tls.pem,
        protocols: ["filewatch.v1"],
        headers: { Authorization: basic(), Origin: s.url.slice(0, -"/secure/".length) },
      });
      assertEquals((await c.json(0)).data, "over tls\n");
      await Deno.writeTextFile(file, "more\n", { append: true });
      const m = await c.json(1);
      assertEquals([m.type, m.data], ["append", "more\n"]);
      c.close();
      await c.closed;
    } finally {
      client.close();
      await s.stop();
    }
  });

  t("--tls-key that does not match the certificate, or a missing one, exits 2 with the reason", async () => {
    const a = await certificate();
    const b = await certificate();
    const cases: Array<[string[], RegExp]> = [
      [
        ["--tls-cert", a.cert, "--tls-key", b.key],
        /^error: Cannot use --tls-key ".*": it does not match the certificate/,
      ],
      [
        ["--tls-cert", a.cert, "--tls-key", `${a.dir}/nope.pem`],
        /^error: Cannot read --tls-key ".*nope\.pem": no such file/,
      ],
      [["--tls-cert", a.key, "--tls-key", a.key], /^error: Cannot use --tls-cert ".*": not a PEM certificate/],
      [["--tls-cert", a.cert, "--tls-key", a.cert], /^error: Cannot use --tls-key ".*": not a PEM private key/],
      [["--tls-cert", a.cert], /^error: Cannot use --tls-cert alone/],
    ];
    for (const [args, re] of cases) {
      const r = await runServer(rt, [...args, "--port", "0", "f"]);
      assertEquals(r.code, 2, args.join(" "));
      assertMatch(r.stderr, re);
      assertEquals(r.stderr.trim().split("\n").length, 2, "one line and the usage line");
      assertEquals(r.stdout, "", "never listened");
    }
  });
}
