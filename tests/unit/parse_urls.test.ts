/**
 * Links (src/shared/urls.ts): http and https URLs with the punctuation
 * people put around them, and never any other scheme.
 */
import { assertEquals } from "../helpers/assert.ts";
import { findUrls, MAX_URLS, safeHref } from "../../src/shared/urls.ts";
import { stripAnsi } from "../../src/shared/ansi.ts";

/** The linked text of each URL found. */
const linked = (text: string) => findUrls(text).map((r) => text.slice(r.start, r.end));

Deno.test("findUrls() finds http and https URLs and their ranges", () => {
  const text = "GET https://example.com/a?b=1&c=2#x from http://10.0.0.1:8080/ ok";
  assertEquals(findUrls(text), [
    { start: 4, end: 35, href: "https://example.com/a?b=1&c=2#x" },
    { start: 41, end: 62, href: "http://10.0.0.1:8080/" },
  ]);
  assertEquals(linked("HTTPS://EXAMPLE.COM/Path"), ["HTTPS://EXAMPLE.COM/Path"]);
  assertEquals(findUrls("HTTPS://EXAMPLE.COM/Path")[0]!.href, "https://example.com/Path");
  assertEquals(linked("url=https://x.org/a level=info"), ["https://x.org/a"]);
  assertEquals(linked('{"url":"https://x.org/a","b":1}'), ["https://x.org/a"]);
  assertEquals(linked("http://[::1]:8080/x"), ["http://[::1]:8080/x"]);
  assertEquals(linked("https://user:pw@host.example/"), ["https://user:pw@host.example/"]);
  assertEquals(linked("https://例え.jp/パス"), ["https://例え.jp/パス"]);
});

Deno.test("findUrls() leaves out the punctuation around a URL, as people mean it", () => {
  assertEquals(linked("see https://x.org/a."), ["https://x.org/a"]);
  assertEquals(linked("https://x.org/a, https://x.org/b; https://x.org/c!"), [
    "https://x.org/a",
    "https://x.org/b",
    "https://x.org/c",
  ]);
  assertEquals(linked("(see https://x.org/a)"), ["https://x.org/a"]);
  assertEquals(linked("(https://en.wikipedia.org/wiki/Set_(mathematics))"), [
    "https://en.wikipedia.org/wiki/Set_(mathematics)",
  ]);
  assertEquals(linked("[https://x.org/a]"), ["https://x.org/a"]);
  assertEquals(linked("[link](https://x.org/a)."), ["https://x.org/a"]);
  assertEquals(linked("'https://x.org/a'"), ["https://x.org/a"]);
  assertEquals(linked('"https://x.org/a"'), ["https://x.org/a"]);
  assertEquals(linked("<https://x.org/a>"), ["https://x.org/a"]);
  assertEquals(linked("`https://x.org/a`"), ["https://x.org/a"]);
  assertEquals(linked("is it https://x.org/a?"), ["https://x.org/a"]);
  assertEquals(linked("https://x.org/a,b.c"), ["https://x.org/a,b.c"], "inside, they stay");
  assertEquals(linked("**https://x.org/a**"), ["https://x.org/a"]);
});

Deno.test("findUrls() never links another scheme, a URL glued to a word, or one without a host", () => {
  for (
    const text of [
      "javascript:alert(1)",
      "JAVASCRIPT:alert(document.cookie)",
      "data:text/html,<script>alert(1)</script>",
      "file:///etc/passwd",
      "ftp://ftp.example.com/x",
      "mailto:a@example.com",
      "vbscript:msgbox",
      "xhttp://example.com",
      "http://",
      "https:///path",
      "http:/example.com",
      "http://?x",
      "no links here",
      "",
    ]
  ) {
    assertEquals(findUrls(text), [], text);
  }
  const mixed = "javascript:alert(1)//https://x.org/a";
  assertEquals(linked(mixed), ["https://x.org/a"], "only the http part, which is a plain link");
  for (const r of findUrls(mixed)) assertEquals(/^https?:/.test(r.href), true);
});

Deno.test("an OSC 8 hyperlink's hidden target never becomes a link; what is visible may", () => {
  const raw = "\x1b]8;;https://evil.example/steal\x07click here\x1b]8;;\x07 or https://ok.example/";
  assertEquals(linked(stripAnsi(raw)), ["https://ok.example/"]);
});

Deno.test("findUrls() stops at its limit", () => {
  const many = Array.from({ length: 500 }, (_, i) => `https://x.org/${i}`).join(" ");
  assertEquals(findUrls(many).length, MAX_URLS);
  assertEquals(findUrls(many, 3).map((r) => r.href), ["https://x.org/0", "https://x.org/1", "https://x.org/2"]);
});

Deno.test("safeHref() passes http and https URLs with a host, nothing else", () => {
  assertEquals(safeHref("https://x.org"), "https://x.org/");
  assertEquals(safeHref("http://x.org/a b"), null, "a space is not in a URL here");
  assertEquals(safeHref("javascript:alert(1)"), null);
  assertEquals(safeHref(" https://x.org"), null);
  assertEquals(safeHref("https://"), null);
});

Deno.test("findUrls() stays linear on hostile URLs (100,000 closing brackets, a 1 MB URL)", () => {
  const closers = `https://x.org/${")".repeat(100_000)}`;
  assertEquals(linked(closers), ["https://x.org/"]);
  const balanced = `https://x.org/${"(".repeat(50_000)}${")".repeat(50_000)}.`;
  assertEquals(linked(balanced)[0]!.length, balanced.length - 1);
  assertEquals(findUrls(`https://x.org/${"a".repeat(1 << 20)}`).length, 1);
});
