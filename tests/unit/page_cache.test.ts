import { assert, assertEquals } from "../helpers/assert.ts";
import { PageCache, viewOf } from "../../src/page_cache.ts";
import { renderPage } from "../../src/page.ts";
import { Version } from "../../src/version.ts";

const version = (text: string, seq = 1) =>
  new Version({ seq, lastMod: `${seq}`.padStart(16, "0"), kept: new TextEncoder().encode(text) });
const route = { fileName: "app.log", keepChars: 0, socketPath: "/ws", rawUrl: "/raw" };
const read = async (body: ReadableStream<Uint8Array>) => await new Response(body).text();

Deno.test("PageCache: the page is what renderPage() makes with the request's nonce, rendered once per version", async () => {
  const pages = new PageCache();
  const v1 = version("line <b>one</b>\n".repeat(10_000));
  for (const nonce of ["n0nce-A", "n0nce-B", "n0nce-C"]) {
    const { body, length } = pages.body(v1, route, nonce);
    const html = await read(body);
    assertEquals(html, renderPage({ ...route, view: viewOf(v1), nonce }));
    assertEquals(length, new TextEncoder().encode(html).length);
  }
  assertEquals(pages.renders, 1);
  await read(pages.body(version("two\n", 2), route, "x").body);
  assertEquals(pages.renders, 2, "a new version is rendered once more");
  await read(pages.body(v1, { ...route, socketPath: "/ws/other" }, "x").body);
  assertEquals(pages.renders, 3, "another route is another page");
});

Deno.test("PageCache: content that holds nonce-like text is shown as it is; the nonce goes only where the page puts it", async () => {
  const pages = new PageCache();
  const v = version('<script nonce="x">alert(1)</script> nonce="" ' + "a".repeat(100) + "\n");
  const html = await read(pages.body(v, route, "REAL").body);
  assertEquals(html.split('nonce="REAL"').length - 1, 2);
  assert(html.includes("&lt;script nonce=&quot;x&quot;&gt;"), "escaped as text");
});

Deno.test("PageCache keeps at most its pages and bytes, the most recently used; onDone runs once, when read or cancelled", async () => {
  const pages = new PageCache(2, 1024 * 1024);
  const a = version("a\n"), b = version("b\n", 2), c = version("c\n", 3);
  for (const [v, socketPath] of [[a, "/ws/a"], [b, "/ws/b"], [a, "/ws/a"], [c, "/ws/c"]] as const) {
    await read(pages.body(v, { ...route, socketPath }, "n").body);
  }
  assertEquals(pages.renders, 3);
  await read(pages.body(a, { ...route, socketPath: "/ws/a" }, "n").body);
  assertEquals(pages.renders, 3, "a was used last but one: kept");
  await read(pages.body(b, { ...route, socketPath: "/ws/b" }, "n").body);
  assertEquals(pages.renders, 4, "b was the least recently used: dropped");
  let done = 0;
  await read(pages.body(a, route, "n", () => done++).body);
  assertEquals(done, 1);
  const unread = pages.body(a, route, "n", () => done++);
  await unread.body.cancel();
  await unread.body.cancel().catch(() => {});
  assertEquals(done, 2);
});
