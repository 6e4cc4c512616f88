/**
 * `/search?level=` against a real server on each runtime (the search runs in
 * its worker): the lines at that level and worse, with a query or alone, as
 * the page reads levels; a bad level is a 400 with its reason.
 */
import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { RUNTIMES, startServer, tempFile } from "../helpers/harness.ts";
import { searchEvents } from "../helpers/http_schema.ts";

const LOG = [
  "2026-12-06T00:00:00Z INFO request served",
  "2026-12-06T00:00:01Z WARN request slow",
  "2026-12-06T00:00:02Z ERROR request failed",
  '{"level":"fatal","msg":"request crashed"}',
  "\x1b[90m2026-12-06T00:00:03Z\x1b[0m \x1b[31mERROR\x1b[0m disk full",
  "2026-12-06T00:00:04Z DEBUG request traced",
].join("\n") + "\n";

for (const rt of RUNTIMES) {
  Deno.test({
    name: `[${rt}] /search?level= keeps the lines at that level and worse, with a query or alone`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const file = await tempFile(LOG, "app.log");
      const s = await startServer(rt, { file, args: ["--tail", "64KiB"] });
      try {
        const lines = async (qs: string) => {
          const res = await fetch(s.url + "search?" + qs);
          assertEquals(res.status, 200, qs);
          const events = await searchEvents(res);
          return events.filter((e) => "text" in e).map((e) => (e as { n: number }).n);
        };
        assertEquals(await lines("q=request&dir=fwd"), [1, 2, 3, 4, 6]);
        assertEquals(await lines("q=request&level=warn&dir=fwd"), [2, 3, 4]);
        assertEquals(await lines("level=error&dir=fwd"), [3, 4, 5], "alone, a coloured ERROR too");
        assertEquals(await lines("level=error"), [5, 4, 3], "newest first");
        const bad = await fetch(s.url + "search?q=x&level=loud");
        assertEquals(bad.status, 400);
        assertMatch(await bad.text(), /"level" must be one of fatal, error, warn, info, debug, trace/);
      } finally {
        await s.stop();
        await Deno.remove(file.replace(/\/[^/]+$/, ""), { recursive: true });
      }
    },
  });
}
