/**
 * The page without a browser: the HTML renderer (escaping, error banner,
 * lossy decoding, CSP shape) and the client script's pure helpers. What the
 * script does in a real browser is tested in tests/browser/.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { LOSSY_NOTICE, renderPage } from "../../src/page.ts";
import { type Snapshot, Version } from "../../src/watcher.ts";
import {
  backoffDelay,
  CHUNK_LINES,
  chunkStarts,
  clientScript,
  formatAgo,
  formatSize,
  isAtBottom,
  lastModToMs,
  lineNumberDigits,
  parseMessage,
  socketUrl,
} from "../../src/client.ts";

const enc = new TextEncoder();
const NONCE = "bm9uY2Utdm9uLXRlc3Q=";
const LAST_MOD = (1_700_000_000_123n * 1_000_000n).toString(16);

function okSnap(text: string, lastMod = LAST_MOD): Snapshot {
  const bytes = enc.encode(text);
  return new Version({ seq: 1, lastMod, kept: bytes });
}

function page(snapshot: Snapshot, fileName = "app.log"): string {
  return renderPage({ fileName, snapshot, nonce: NONCE });
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
  const html = page({ ok: false, seq: 2, lastMod: "", error: "app.log: file not found <x>" });
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

Deno.test("renderPage() decodes a non-UTF-8 file lossily and says so", () => {
  const bytes = new Uint8Array([0x6f, 0x6b, 0xff, 0xfe, 0x0a]);
  const html = page(new Version({ seq: 1, lastMod: LAST_MOD, kept: bytes }));
  assertEquals(preText(html), "ok\uFFFD\uFFFD\n");
  assert(html.includes(`<div id="notice" class="notice">${LOSSY_NOTICE.replace(/'/g, "&#39;")}</div>`));
});

Deno.test("renderPage() puts the nonce on its one script and one style, and nothing inline besides", () => {
  const html = page(okSnap("x"));
  assertEquals(html.match(/<script\b[^>]*>/g), [`<script nonce="${NONCE}">`]);
  assertEquals(html.match(/<style\b[^>]*>/g), [`<style nonce="${NONCE}">`]);
  assert(!/\sstyle=/.test(html), "no style attributes (CSP)");
  assert(!/\son[a-z]+=/i.test(html), "no inline event handlers (CSP)");
  assert(!/\s(src|href)=/.test(html), "no external assets");
});

Deno.test("renderPage() escapes a nonce it is given", () => {
  const html = renderPage({ fileName: "f", snapshot: okSnap("x"), nonce: `"><script>` });
  assert(html.includes(`nonce="&quot;&gt;&lt;script&gt;"`));
});

// ---- the client script -----------------------------------------------------

Deno.test("clientScript is valid JavaScript that cannot end its <script> element early", () => {
  new Function(clientScript); // throws SyntaxError if the transpiled source is broken
  assert(!/<\/script|<!--/i.test(clientScript));
  assert(clientScript.includes("filewatch.v1"));
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

Deno.test("lastModToMs() reads hex nanoseconds", () => {
  assertEquals(lastModToMs(LAST_MOD), 1_700_000_000_123);
  assertEquals(lastModToMs("0"), 0);
  assertEquals(lastModToMs(""), null);
  assertEquals(lastModToMs("xyz"), null);
  assertEquals(lastModToMs("1".repeat(21)), null);
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

Deno.test("socketUrl() uses the page's host, wss: under https:, and resumes from lastMod", () => {
  assertEquals(socketUrl({ protocol: "http:", host: "127.0.0.1:8080" }, ""), "ws://127.0.0.1:8080/ws");
  assertEquals(socketUrl({ protocol: "https:", host: "logs.example" }, "17f0a"), "wss://logs.example/ws?lastMod=17f0a");
  assertEquals(socketUrl({ protocol: "http:", host: "[::1]:9" }, "a&b"), "ws://[::1]:9/ws?lastMod=a%26b");
});

Deno.test("parseMessage() reads content and error messages", () => {
  assertEquals(parseMessage(JSON.stringify({ type: "content", lastMod: "ab", size: 3, data: "héj" })), {
    type: "content",
    lastMod: "ab",
    size: 3,
    text: "héj",
    lossy: false,
  });
  assertEquals(parseMessage(JSON.stringify({ type: "error", message: "gone" })), { type: "error", message: "gone" });
});

Deno.test("parseMessage() decodes base64 content lossily and counts its bytes", () => {
  const data = btoa(String.fromCharCode(0x68, 0x69, 0xff, 0x0a));
  assertEquals(parseMessage(JSON.stringify({ type: "content", lastMod: "1", data, encoding: "base64" })), {
    type: "content",
    lastMod: "1",
    size: 4,
    text: "hi\uFFFD\n",
    lossy: true,
  });
});

Deno.test("parseMessage() ignores what is not a filewatch.v1 message", () => {
  for (const frame of ["", "not json", "null", "42", `{"type":"content"}`, `{"type":"nope","data":"x"}`]) {
    assertEquals(parseMessage(frame), null, frame);
  }
  assertEquals(parseMessage(new ArrayBuffer(2)), null);
  assertEquals(parseMessage(JSON.stringify({ type: "content", data: "%%%", encoding: "base64" })), null);
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
