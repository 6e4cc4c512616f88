/**
 * The server's side of reading real logs in the page (src/page.ts): the ANSI
 * colours the style sheet draws pass WCAG AA on every line background of
 * their theme (computed from the palette, whose theme values the style
 * sheet is built from), every colour has its class, and the first paint
 * shows no escape while the script still gets the text as it is.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { PAGE_CSS, renderPage } from "../../src/page.ts";
import {
  ANSI_BG,
  ANSI_FG,
  contrast,
  LEVEL_COLORS,
  THEME_BACKGROUNDS,
  THEME_TEXT,
  WCAG_AA,
} from "../../src/shared/palette.ts";
import { LEVELS } from "../../src/shared/levels.ts";

const THEMES = ["light", "dark"] as const;

Deno.test("every ANSI text colour passes WCAG AA on every line background of its theme", () => {
  const failing: string[] = [];
  for (const theme of THEMES) {
    const { bar: _bar, ...lineBackgrounds } = THEME_BACKGROUNDS[theme];
    ANSI_FG[theme].forEach((fg, i) => {
      for (const [name, bg] of Object.entries(lineBackgrounds)) {
        const r = contrast(fg, bg);
        if (r < WCAG_AA) failing.push(`c${i} ${fg} on ${theme} --${name} ${bg}: ${r.toFixed(2)}`);
      }
    });
  }
  assertEquals(failing, []);
});

Deno.test("the theme's text passes WCAG AA on every ANSI background tint", () => {
  const failing: string[] = [];
  for (const theme of THEMES) {
    ANSI_BG[theme].forEach((bg, i) => {
      const r = contrast(THEME_TEXT[theme], bg);
      if (r < WCAG_AA) failing.push(`text on ${theme} cb${i} ${bg}: ${r.toFixed(2)}`);
    });
  }
  assertEquals(failing, []);
});

Deno.test("the style sheet declares each theme's palette, and a class per colour and level", () => {
  for (const theme of THEMES) {
    // The theme's --fg is the text the tints were checked with.
    assert(PAGE_CSS.includes(`--fg: ${THEME_TEXT[theme]};`), `--fg of ${theme}`);
    ANSI_FG[theme].forEach((c, i) => assert(PAGE_CSS.includes(`--c${i}: ${c};`), `--c${i} ${theme}`));
    ANSI_BG[theme].forEach((c, i) => assert(PAGE_CSS.includes(`--cb${i}: ${c};`), `--cb${i} ${theme}`));
    for (const l of LEVELS) assert(PAGE_CSS.includes(`--lv-${l}: ${LEVEL_COLORS[l][theme]};`), `--lv-${l} ${theme}`);
  }
  for (let i = 0; i < 16; i++) {
    assertMatch(PAGE_CSS, new RegExp(`\\.c-f${i} \\{ color: var\\(--c${i}\\); \\}`));
    assertMatch(PAGE_CSS, new RegExp(`\\.c-b${i} \\{ background: var\\(--cb${i}\\); color: var\\(--fg\\); \\}`));
  }
  for (const l of LEVELS) assertMatch(PAGE_CSS, new RegExp(`\\.lv-${l} \\{ --lvc: var\\(--lv-${l}\\);`));
});

Deno.test("renderPage() writes a coloured log without escapes, its text as it is in data-raw, both escaped", () => {
  const E = "\x1b";
  const text =
    `plain line\n${E}[31mred <script>alert(1)</script>${E}[0m\n${E}]8;;https://evil.example${E}\\link${E}]8;;${E}\\\n`;
  const html = renderPage({
    fileName: "app.log",
    view: { ok: true, lastMod: "1", offset: 0, size: text.length, text, lossy: false },
    keepChars: 0,
    nonce: "n0nce",
  });
  const chunk = /<span class="chunk"( data-raw="([^"]*)")?>([^<]*(?:<(?!\/span>)[^<]*)*)<\/span>/.exec(html);
  assert(chunk, "a chunk");
  const shown = chunk[3]!;
  assertEquals(shown.includes(E), false, "no escape in what the page shows");
  assertEquals(shown.includes("evil.example"), false, "an OSC 8 target is not text");
  assert(shown.includes("red &lt;script&gt;alert(1)&lt;/script&gt;"), shown);
  const raw = chunk[2]!;
  assert(raw.includes(`${E}[31mred &lt;script&gt;`), "the text as it is, escaped, for the script");
  assertEquals(/<script>alert/.test(html.slice(0, html.indexOf("<script nonce="))), false);
  // A log without escapes carries its text once.
  const plain = renderPage({
    fileName: "app.log",
    view: { ok: true, lastMod: "1", offset: 0, size: 3, text: "ab\n", lossy: false },
    keepChars: 0,
    nonce: "n0nce",
  });
  assertMatch(plain, /<span class="chunk">ab\n<\/span>/);
  assertEquals(plain.slice(0, plain.indexOf("<script nonce=")).includes("data-raw"), false);
});
