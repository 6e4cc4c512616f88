/**
 * The page without a browser: the HTML renderer (escaping, error banner,
 * lossy decoding, CSP shape) and the client script's pure helpers. What the
 * script does in a real browser is tested in tests/browser/.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { DROPPED_NOTICE, LOSSY_NOTICE, type PageView, renderPage } from "../../src/page.ts";
import { CLIENT_SCRIPT } from "../../src/client_bundle.ts";
import { backoffDelay } from "../../src/client/backoff.ts";
import { CHUNK_LINES, chunkStarts, lineNumberDigits } from "../../src/shared/chunks.ts";
import { formatAgo, formatSize, tokenTimeMs, windowNotice } from "../../src/shared/format.ts";
import { isAtBottom } from "../../src/client/scroll.ts";

const enc = new TextEncoder();
const NONCE = "bm9uY2Utdm9uLXRlc3Q=";
const LAST_MOD = (1_700_000_000_123n * 1_000_000n).toString(16);

function okSnap(text: string, lastMod = LAST_MOD): PageView {
  return { ok: true, lastMod, offset: 0, size: enc.encode(text).length, text, lossy: false };
}

function page(view: PageView, fileName = "app.log", keepChars = 0): string {
  return renderPage({ fileName, view, keepChars, nonce: NONCE });
}

/** The <pre>'s text as a browser would read it: tags dropped, entities decoded. */
function preText(html: string): string {
  const m = /<pre id="content">\n([\s\S]*?)<\/pre>/.exec(html);
  assert(m, "page has <pre id=content>");
  return m[1]!
    .replace(/<span class="chunk">|<\/span>/g, "")
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

// ---- renderPage ------------------------------------------------------------

Deno.test("renderPage() escapes a <script> in the file", () => {
  const html = page(okSnap("before\n<script>alert(1)</script>\nafter\n"));
  assert(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"), "escaped in the <pre>");
  assert(!html.includes("<script>alert"), "not a live element");
  assertEquals(html.match(/<script\b/g)?.length, 1, "only the page's own script");
});

Deno.test("renderPage() shows an <img onerror> in the file as text, not an element", () => {
  const evil = `<img src=x onerror="document.title='pwned'">`;
  const html = page(okSnap(evil));
  assert(!html.includes("<img"), "no <img> element");
  assertEquals(preText(html), evil);
});

Deno.test("renderPage() round-trips every character HTML cares about", () => {
  const text = `a & b < c > d "e" 'f' </pre></main><!-- &amp; ]]>\n\n\ttab\r\nend`;
  assertEquals(preText(page(okSnap(text))), text);
});

Deno.test("renderPage() keeps a file's leading empty line (the parser eats one newline after <pre>)", () => {
  assertEquals(preText(page(okSnap("\nsecond line\n"))), "\nsecond line\n");
});

Deno.test("renderPage() splits a long file into chunks that join back to the file", () => {
  const lines = Array.from({ length: CHUNK_LINES * 2 + 7 }, (_, i) => `line ${i} <${i}>`);
  const text = lines.join("\n") + "\n";
  const html = page(okSnap(text));
  assertEquals(html.match(/<span class="chunk">/g)?.length, 3);
  assertEquals(preText(html), text);
});

Deno.test("renderPage() carries the version, file name and size", () => {
  const html = page(okSnap("x".repeat(1536)), "logs/<b>app</b>.log");
  assert(html.includes(`data-last-mod="${LAST_MOD}"`));
  assert(html.includes(`<span id="size">1.5 KiB</span>`));
  assert(html.includes("logs/&lt;b&gt;app&lt;/b&gt;.log"), "file name escaped");
  assert(!html.includes("<b>app"), "file name is not markup");
  assert(html.includes(`datetime="2023-11-14T22:13:20.123Z"`), "modification time from lastMod");
  assertMatch(html, /<title>logs\/&lt;b&gt;app&lt;\/b&gt;\.log — filewatch<\/title>/);
});

Deno.test("renderPage() shows an error in the banner, not as content", () => {
  const html = page({ ok: false, error: "app.log: file not found <x>" });
  assertMatch(
    html,
    /<div id="banner" class="banner" role="alert"><span id="banner-text">app\.log: file not found &lt;x&gt;</,
  );
  assertEquals(preText(html), "", "no content");
  assert(html.includes(`data-last-mod=""`), "nothing seen: the client asks for everything");
});

Deno.test("renderPage() hides the banner and the notice for good UTF-8 content", () => {
  const html = page(okSnap("fine\n"));
  assertMatch(html, /<div id="banner" class="banner" role="alert" hidden>/);
  assertMatch(html, /<div id="notice" class="notice" hidden>/);
});

Deno.test("renderPage() says when the text was decoded lossily", () => {
  const html = page({ ok: true, lastMod: LAST_MOD, offset: 0, size: 5, text: "ok\uFFFD\uFFFD\n", lossy: true });
  assertEquals(preText(html), "ok\uFFFD\uFFFD\n");
  assert(html.includes(`<div id="notice" class="notice">${LOSSY_NOTICE.replace(/'/g, "&#39;")}</div>`));
});

Deno.test("renderPage() puts the nonce on its one script and one style, and nothing inline besides", () => {
  const html = page(okSnap("x"));
  assertEquals(html.match(/<script\b[^>]*>/g), [`<script nonce="${NONCE}">`]);
  assertEquals(html.match(/<style\b[^>]*>/g), [`<style nonce="${NONCE}">`]);
  assert(!/\sstyle=/.test(html), "no style attributes (CSP)");
  assert(!/\son[a-z]+=/i.test(html), "no inline event handlers (CSP)");
  assertEquals(html.match(/\s(src|href)=[^\s>]+/g), [` href="raw"`], "no external assets: one link, the Download");
});

Deno.test("renderPage() links Download to the file's /raw, or to the URL it is given (several files)", () => {
  assertMatch(page(okSnap("x")), /<a id="download" class="button" href="raw" download>Download<\/a>/);
  const html = renderPage({ fileName: "f", view: okSnap("x"), keepChars: 0, nonce: NONCE, rawUrl: "../raw/a b" });
  assert(html.includes(`href="../raw/a b"`), "as given, escaped by the template");
});

Deno.test("renderPage() escapes a nonce it is given", () => {
  const html = renderPage({ fileName: "f", view: okSnap("x"), keepChars: 0, nonce: `"><script>` });
  assert(html.includes(`nonce="&quot;&gt;&lt;script&gt;"`));
});

Deno.test("renderPage() puts where the text is in the file and the bound on <body>", () => {
  const view: PageView = { ok: true, lastMod: "17f0", offset: 3000, size: 5120, text: "tail\n", lossy: false };
  const html = page(view, "app.log", 8192);
  assertMatch(
    html,
    /<body data-last-mod="17f0" data-offset="3000" data-size="5120" data-keep="8192" data-socket="\/ws">/,
  );
  assertMatch(html, /<div id="window" class="notice"><span id="window-text">Showing the last 2\.1 KiB of 5 KiB\.</);
  assert(html.includes(`<span id="dropped" hidden> ${DROPPED_NOTICE}</span>`), "nothing dropped yet");
});

Deno.test("renderPage() gives the script its socket's path (under --base-path), escaped", () => {
  const html = renderPage({
    fileName: "f",
    view: okSnap("x"),
    keepChars: 0,
    nonce: NONCE,
    socketPath: "/team/logs/ws",
  });
  assertMatch(html, /data-socket="\/team\/logs\/ws">/);
  const odd = renderPage({ fileName: "f", view: okSnap("x"), keepChars: 0, nonce: NONCE, socketPath: '/a"b/ws' });
  assertMatch(odd, /data-socket="\/a&quot;b\/ws">/);
});

Deno.test("renderPage() hides the window notice for the whole file, and keeps no bound when given none", () => {
  const html = page(okSnap("all of it\n"));
  assertMatch(html, /<div id="window" class="notice" hidden>/);
  assertMatch(html, /data-offset="0" data-size="10" data-keep="0"/);
  assertMatch(page({ ok: false, error: "gone" }), /data-offset="0" data-size="0" data-keep="0"/);
  assertMatch(page(okSnap("x"), "f", -5), /data-keep="0"/, "a nonsense bound is no bound");
});

// ---- the client script -----------------------------------------------------

Deno.test("CLIENT_SCRIPT is valid JavaScript that cannot end its <script> element early", () => {
  new Function(CLIENT_SCRIPT); // throws SyntaxError if the bundle is broken
  assert(!/<\/script|<!--/i.test(CLIENT_SCRIPT));
  assert(CLIENT_SCRIPT.includes("filewatch.v1"));
  assert(!/^\s*(import|export)\b/m.test(CLIENT_SCRIPT), "one classic script, not a module");
});

Deno.test("windowNotice() says which part of the file is shown, nothing for all of it", () => {
  assertEquals(windowNotice(0, 5000), "");
  assertEquals(windowNotice(1024 * 1024 - 8 * 1024, 1024 * 1024), "Showing the last 8 KiB of 1 MiB.");
});

Deno.test("backoffDelay() doubles per attempt from 500 ms with half of it random", () => {
  assertEquals([0, 1, 2, 3].map((a) => backoffDelay(a, 0)), [250, 500, 1000, 2000]);
  assertEquals([0, 1, 2, 3].map((a) => backoffDelay(a, 1)), [500, 1000, 2000, 4000]);
  assertEquals(backoffDelay(2, 0.5), 1500);
});

Deno.test("backoffDelay() is capped at 30 s and never below half the cap once there", () => {
  for (const attempt of [6, 7, 20, 1000, Infinity]) {
    const lo = backoffDelay(attempt, 0);
    const hi = backoffDelay(attempt, 0.9999);
    assertEquals(lo, 15_000, `attempt ${attempt}`);
    assert(hi <= 30_000 && hi > 29_000, `attempt ${attempt}: ${hi}`);
  }
});

Deno.test("backoffDelay() treats odd input as the first attempt and clamps random", () => {
  assertEquals(backoffDelay(-3, 0), 250);
  assertEquals(backoffDelay(0, -1), 250);
  assertEquals(backoffDelay(0, 7), 500);
  assertEquals(backoffDelay(1, 0, 100, 150), 75);
});

Deno.test("backoffDelay() spreads clients that retry at the same attempt", () => {
  const seen = new Set(Array.from({ length: 50 }, (_, i) => backoffDelay(4, i / 50)));
  assert(seen.size > 40, `only ${seen.size} distinct delays`);
});

Deno.test("formatSize() prints bytes in binary units", () => {
  assertEquals(formatSize(0), "0 B");
  assertEquals(formatSize(1023), "1023 B");
  assertEquals(formatSize(1024), "1 KiB");
  assertEquals(formatSize(1536), "1.5 KiB");
  assertEquals(formatSize(10 * 1024 + 300), "10 KiB");
  assertEquals(formatSize(1024 * 1024 - 1), "1 MiB");
  assertEquals(formatSize(16 * 1024 * 1024), "16 MiB");
  assertEquals(formatSize(3 * 1024 ** 5), "3072 TiB");
  assertEquals(formatSize(-1), "");
  assertEquals(formatSize(NaN), "");
});

Deno.test("tokenTimeMs() reads hex nanoseconds", () => {
  assertEquals(tokenTimeMs(LAST_MOD), 1_700_000_000_123);
  assertEquals(tokenTimeMs("0"), 0);
  assertEquals(tokenTimeMs(""), null);
  assertEquals(tokenTimeMs("xyz"), null);
  assertEquals(tokenTimeMs("1".repeat(33)), null);
  // A token: the mtime in the high bits over a 64-bit content hash.
  assertEquals(tokenTimeMs(LAST_MOD + "0123456789abcdef"), 1_700_000_000_123);
});

Deno.test("formatAgo() says how long ago in words", () => {
  const now = 1_000_000_000;
  assertEquals(formatAgo(now + 5000, now), "just now");
  assertEquals(formatAgo(now - 4999, now), "just now");
  assertEquals(formatAgo(now - 42_000, now), "42 s ago");
  assertEquals(formatAgo(now - 5 * 60_000, now), "5 min ago");
  assertEquals(formatAgo(now - 3 * 3_600_000, now), "3 h ago");
  assertEquals(formatAgo(now - 50 * 3_600_000, now), "2 d ago");
});

Deno.test("isAtBottom() allows a few pixels of slack", () => {
  assert(isAtBottom(900, 100, 1000));
  assert(isAtBottom(893, 100, 1000));
  assert(!isAtBottom(880, 100, 1000));
  assert(isAtBottom(0, 500, 300), "content shorter than the view");
});

Deno.test("chunkStarts() cuts after every N lines and never makes an empty chunk", () => {
  assertEquals(chunkStarts("", 2), [0]);
  assertEquals(chunkStarts("a\n", 2), [0]);
  assertEquals(chunkStarts("a\nb\n", 2), [0]);
  assertEquals(chunkStarts("a\nb\nc", 2), [0, 4]);
  assertEquals(chunkStarts("a\nb\nc\nd\ne\n", 2), [0, 4, 8]);
  assertEquals(chunkStarts("\n\n\n", 1), [0, 1, 2]);
});

Deno.test("chunkStarts() chunks join back to the text, each but the last with N lines", () => {
  const text = Array.from({ length: 1234 }, (_, i) => "x".repeat(i % 7)).join("\n");
  const starts = chunkStarts(text, 100);
  const parts = starts.map((s, i) => text.slice(s, starts[i + 1] ?? text.length));
  assertEquals(parts.join(""), text);
  for (const p of parts.slice(0, -1)) assertEquals(p.split("\n").length - 1, 100);
  assertEquals(parts.length, 13);
});

Deno.test("lineNumberDigits() counts the digits of the last line number", () => {
  assertEquals(lineNumberDigits(""), 1);
  assertEquals(lineNumberDigits("a\n".repeat(9)), 1);
  assertEquals(lineNumberDigits("a\n".repeat(10)), 2);
  assertEquals(lineNumberDigits("a\n".repeat(9) + "b"), 2);
  assertEquals(lineNumberDigits("a\n".repeat(99) + "b"), 3);
});
