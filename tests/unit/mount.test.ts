import { Hono } from "hono";
import { assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";
import { mount, parseBasePath } from "../../src/mount.ts";
import { createLogger } from "../../src/log.ts";

const log = createLogger("text", true, () => {});

function inner(): Hono {
  const app = new Hono();
  app.get("/", (c) => c.text(`page ${c.req.path}`));
  app.get("/ws", (c) => c.text(`ws ${c.req.path} ${c.req.query("lastMod") ?? ""}`));
  app.all("*", (c) => c.text(`inner 404 ${c.req.path}`, 404));
  return app;
}

Deno.test("mount() serves the app under the prefix with the app's own paths; /PREFIX redirects; outside is 404", async () => {
  const seen: string[] = [];
  const root = mount(inner(), "/logs", [async (c, next) => {
    seen.push(c.req.path);
    await next();
  }], log);
  const get = async (p: string) => {
    const r = await root.request(p, { redirect: "manual" });
    return `${r.status} ${r.headers.get("location") ?? ""}${await r.text()}`.trim();
  };
  assertEquals(await get("/logs/"), "200 page /");
  assertEquals(await get("/logs/ws?lastMod=ab"), "200 ws /ws ab");
  assertEquals(await get("/logs/nope"), "404 inner 404 /nope");
  assertEquals(await get("/logs"), "301 /logs/");
  assertEquals(await get("/logs?x=1"), "301 /logs/?x=1");
  assertMatch(await get("/"), /^404 Not Found: \/ \(this server lives under \/logs\/\)/);
  assertMatch(await get("/ws"), /^404 Not Found: \/ws/);
  assertMatch(await get("/logsx/ws"), /^404 /);
  assertEquals(seen, ["/", "/ws", "/nope"], "the middleware runs for every route under the prefix");
});

Deno.test("mount() with no prefix is the app itself behind the middleware", async () => {
  const root = mount(inner(), "", [], log);
  assertEquals(await (await root.request("/ws")).text(), "ws /ws ");
  assertEquals((await root.request("/x")).status, 404);
});

Deno.test("parseBasePath() keeps safe prefixes and refuses the rest", () => {
  assertEquals(parseBasePath("/"), "");
  assertEquals(parseBasePath("/a/b-c_d.e~f"), "/a/b-c_d.e~f");
  for (const bad of ["", "a", "/a/", "/a/../b", "/..", "/./a", "//a", "/a?b", "/a#b", "/a%20b", "/a b", "/ä"]) {
    assertThrows(() => parseBasePath(bad), bad);
  }
});
