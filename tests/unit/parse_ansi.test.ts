/**
 * ANSI parsing (src/shared/ansi.ts): every SGR form becomes a style, every
 * other escape is dropped, hostile sequences neither hang nor leak, and text
 * stays text.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { hasEscapes, parseAnsi, PLAIN, type Span, spansText, stripAnsi, xtermColor } from "../../src/shared/ansi.ts";

const E = "\x1b";
const sgr = (p: string) => `${E}[${p}m`;

/** Every input tried here, so the last test can check plain text = spans' texts on all of them. */
const SEEN: string[] = [];
function parse(line: string): Span[] {
  SEEN.push(line);
  return parseAnsi(line);
}
/** The spans as [text, style] pairs, which read better in a table. */
function pairs(line: string): [string, object][] {
  return parse(line).map((s) => [s.text, s.style]);
}

Deno.test("parseAnsi() leaves text without escapes as one plain span, and an empty line as none", () => {
  assertEquals(pairs("hello world"), [["hello world", {}]]);
  assertEquals(parse(""), []);
  assert(parse("x")[0]!.style === PLAIN);
  assert(!hasEscapes("plain ünïcödé ✓"));
  assert(hasEscapes(`a${E}[0m`) && hasEscapes("a\x9b"));
});

Deno.test("parseAnsi() reads the attributes and turns each off again", () => {
  assertEquals(pairs(`${sgr("1")}b${sgr("2")}d${sgr("22")}x`), [
    ["b", { bold: true }],
    ["d", { bold: true, dim: true }],
    [
      "x",
      {},
    ],
  ]);
  assertEquals(pairs(`${sgr("3")}i${sgr("23")}x`), [["i", { italic: true }], ["x", {}]]);
  assertEquals(pairs(`${sgr("4")}u${sgr("24")}x`), [["u", { underline: true }], ["x", {}]]);
  assertEquals(pairs(`${sgr("21")}u${sgr("24")}x`), [["u", { underline: true }], ["x", {}]], "double underline");
  assertEquals(pairs(`${sgr("7")}v${sgr("27")}x`), [["v", { inverse: true }], ["x", {}]]);
  assertEquals(pairs(`${sgr("9")}s${sgr("29")}x`), [["s", { strike: true }], ["x", {}]]);
  assertEquals(pairs(`${sgr("1;3;4;7;9")}all${sgr("0")}x`), [[
    "all",
    { bold: true, italic: true, underline: true, inverse: true, strike: true },
  ], ["x", {}]]);
  assertEquals(pairs(`${sgr("1")}a${E}[mb`), [["a", { bold: true }], ["b", {}]], "ESC[m is a reset");
  assertEquals(
    pairs(`${sgr("31")}a${sgr(";1")}b`),
    [["a", { fg: 1 }], ["b", { bold: true }]],
    "an empty parameter is 0",
  );
  assertEquals(pairs(`${sgr("5;6;8")}seen`), [["seen", {}]], "blink and conceal are ignored: text is never hidden");
});

Deno.test("parseAnsi() reads the 16 colours, bright ones and backgrounds, and their defaults", () => {
  for (let c = 0; c < 8; c++) {
    assertEquals(pairs(`${sgr(String(30 + c))}x`), [["x", { fg: c }]]);
    assertEquals(pairs(`${sgr(String(40 + c))}x`), [["x", { bg: c }]]);
    assertEquals(pairs(`${sgr(String(90 + c))}x`), [["x", { fg: 8 + c }]]);
    assertEquals(pairs(`${sgr(String(100 + c))}x`), [["x", { bg: 8 + c }]]);
  }
  assertEquals(pairs(`${sgr("31;42")}a${sgr("39")}b${sgr("49")}c`), [["a", { fg: 1, bg: 2 }], ["b", { bg: 2 }], [
    "c",
    {},
  ]]);
  assertEquals(pairs(`${sgr("1;31")}ERROR${sgr("0")} disk full`), [["ERROR", { fg: 1, bold: true }], [
    " disk full",
    {},
  ]]);
});

Deno.test("parseAnsi() reads 256 colours and 24-bit colours, with semicolons and with colons", () => {
  assertEquals(pairs(`${sgr("38;5;196")}a${sgr("48;5;21")}b`), [["a", { fg: 196 }], ["b", { fg: 196, bg: 21 }]]);
  assertEquals(pairs(`${sgr("38;2;255;128;0")}a`), [["a", { fg: "#ff8000" }]]);
  assertEquals(pairs(`${sgr("48;2;0;0;0")}a`), [["a", { bg: "#000000" }]]);
  assertEquals(pairs(`${sgr("38:5:208")}a`), [["a", { fg: 208 }]]);
  assertEquals(pairs(`${sgr("38:2::10:20:30")}a`), [["a", { fg: "#0a141e" }]], "ITU form, empty colour space");
  assertEquals(pairs(`${sgr("38:2:1:10:20:30")}a`), [["a", { fg: "#0a141e" }]], "ITU form with a colour space id");
  assertEquals(pairs(`${sgr("48:2:10:20:30")}a`), [["a", { bg: "#0a141e" }]], "the common colon form without it");
  assertEquals(pairs(`${sgr("38;5;1;1")}a`), [["a", { fg: 1, bold: true }]], "parameters after a colour still apply");
  assertEquals(pairs(`${sgr("38;2;1;2;3;4")}a`), [["a", { fg: "#010203", underline: true }]]);
  assertEquals(
    pairs(`${sgr("4:3")}a${sgr("4:0")}b`),
    [["a", { underline: true }], ["b", {}]],
    "curly underline, then off",
  );
  assertEquals(pairs(`${sgr("58;5;1;1")}a`), [["a", { bold: true }]], "underline colour is skipped with its arguments");
  assertEquals(pairs(`${sgr("38;2;;0;0")}a`), [["a", { fg: "#000000" }]], "an empty component is 0");
});

Deno.test("parseAnsi() ignores colours it cannot read without taking other parameters along", () => {
  assertEquals(pairs(`${sgr("38;5;300")}a`), [["a", {}]]);
  assertEquals(pairs(`${sgr("38;2;256;0;0")}a`), [["a", {}]]);
  assertEquals(pairs(`${sgr("38;2;1;2")}a`), [["a", {}]], "too few components");
  assertEquals(pairs(`${sgr("38;5")}a`), [["a", {}]]);
  assertEquals(pairs(`${sgr("38;9;1")}a`), [["a", { bold: true }]], "unknown colour mode: only the mode is skipped");
  assertEquals(pairs(`${sgr("38:5:999")}a`), [["a", {}]]);
  assertEquals(pairs(`${sgr("31;999;1")}a`), [["a", { fg: 1, bold: true }]], "an unknown code");
});

Deno.test("parseAnsi() drops every other control sequence, keeping the text around it", () => {
  const cases: [string, string][] = [
    [`a${E}[2Jb`, "ab"],
    [`a${E}[Kb`, "ab"],
    [`a${E}[10;20Hb`, "ab"],
    [`a${E}[?25lb${E}[?25h`, "ab"],
    [`a${E}[1 qb`, "ab"], // an intermediate byte (cursor style)
    [`a${E}[>4;2mb`, "ab"], // private: xterm's modifyOtherKeys, not SGR
    [`a${E}[1$mb`, "ab"], // SGR final with an intermediate: not SGR
    [`a${E}(Bb`, "ab"],
    [`a${E})0b`, "ab"],
    [`a${E}#8b`, "ab"],
    [`a${E}%Gb`, "ab"],
    [`a${E}7b${E}8`, "ab"],
    [`a${E}=b${E}>`, "ab"],
    [`a${E}Mb`, "ab"],
    [`a${E}cb`, "ab"],
    [`a${E}\\b`, "ab"], // a stray string terminator
    [`a${E}`, "a"], // a lone ESC at the end
    [`a${E}${E}[0mb`, "ab"],
    [`a${E}\tb`, "a\tb"], // ESC before a control: the ESC alone goes
    [`a${E}éb`, "aéb"],
  ];
  for (const [line, plain] of cases) {
    const sp = parse(line);
    assertEquals(spansText(sp), plain, JSON.stringify(line));
    assert(sp.every((s) => s.style === PLAIN), JSON.stringify(line));
  }
  assertEquals(pairs(`a${E}[Kb`), [["ab", {}]], "text on both sides of a dropped sequence is one span");
  assertEquals(pairs(`${sgr("31")}a${sgr("31")}b`), [["ab", { fg: 1 }]], "a repeated style is one span");
});

Deno.test("parseAnsi() drops OSC and other control strings whole: an OSC 8 link's URL never becomes text", () => {
  const osc8 = (url: string, text: string, st: string) => `${E}]8;;${url}${st}${text}${E}]8;;${st}`;
  for (const st of ["\x07", `${E}\\`, "\x9c"]) {
    const line = `see ${osc8("https://evil.example/x", "the docs", st)} now`;
    assertEquals(stripAnsi(line), "see the docs now", JSON.stringify(st));
    assertEquals(spansText(parse(line)), "see the docs now");
  }
  assertEquals(stripAnsi(`${E}]0;window title\x07prompt$ `), "prompt$ ");
  assertEquals(stripAnsi(`a${E}Pq#0;2;0;0;0#0!10~${E}\\b`), "ab", "DCS (sixel)");
  assertEquals(stripAnsi(`a${E}_Gf=100;AAAA${E}\\b`), "ab", "APC (kitty graphics)");
  assertEquals(stripAnsi(`a${E}^private${E}\\b${E}Xsos${E}\\c`), "abc", "PM and SOS");
  assertEquals(
    pairs(`${E}]8;;https://evil.example/${sgr("31")}red`),
    [["red", { fg: 1 }]],
    "an ESC that starts another sequence cancels the OSC, as in a terminal",
  );
  assertEquals(
    stripAnsi(`x ${E}]8;;https://evil.example/ never ends`),
    "x 8;;https://evil.example/ never ends",
    "an unterminated OSC loses only its introducer: nothing after it is hidden",
  );
});

Deno.test("parseAnsi() drops C1 controls one by one and never reads them as 8-bit sequences", () => {
  assertEquals(stripAnsi("a\x9b31mb"), "a31mb");
  assertEquals(stripAnsi("a\x9d8;;http://x\x9cb"), "a8;;http://xb");
  assertEquals(stripAnsi("a\x85b\x80\x9f"), "ab");
  assertEquals(stripAnsi("\xa0non-breaking\xa0"), "\xa0non-breaking\xa0", "U+00A0 is text");
});

Deno.test("parseAnsi() survives hostile sequences: cut short, huge parameters, 10,000 parameters, nesting", () => {
  assertEquals(pairs(`a${E}[31`), [["a", {}]], "cut off by the end of the line");
  assertEquals(pairs(`a${E}[`), [["a", {}]]);
  assertEquals(pairs(`a${E}[31${E}[1mb`), [["a", {}], ["b", { bold: true }]], "cut off by another sequence");
  assertEquals(pairs(`a${E}[31\tb`), [["a\tb", {}]], "cut off by a control character, which stays");
  assertEquals(pairs(`${E}[${"9".repeat(100_000)}mX`), [["X", {}]], "a 100,000-digit parameter");
  assertEquals(pairs(`${E}[38;5;${"9".repeat(50)}mX`), [["X", {}]]);
  assertEquals(pairs(`${E}[38;2;${"1".repeat(40)};0;0mX`), [["X", {}]]);
  assertEquals(pairs(`${E}[${"1;".repeat(10_000)}31mX`), [["X", { fg: 1, bold: true }]], "10,000 parameters");
  assertEquals(pairs(`${E}[${":".repeat(10_000)}mX`), [["X", {}]], "10,000 empty sub-parameters");
  assertEquals(pairs(`${E}[${E}[${E}[31mX`), [["X", { fg: 1 }]], "nested introducers");
  assertEquals(stripAnsi(`${E}]${E}]${E}]8;;u\x07X`), "X", "nested OSC introducers");
  assertEquals(stripAnsi(`${E}]8;;${"u".repeat(100_000)}\x07X`), "X", "a 100 kB OSC");
  const many = `${sgr("1")}x${sgr("0")}y`.repeat(50_000);
  const sp = parse(many);
  assertEquals(sp.length, 100_000, "each bold x, each plain y");
  assertEquals(sp[98]!, { text: "x", style: { bold: true } });
  assertEquals(sp[99]!, { text: "y", style: {} });
  assertEquals(spansText(sp), "xy".repeat(50_000));
});

Deno.test("parseAnsi() keeps markup in coloured text as text: no escaping, no interpretation", () => {
  const line = `${sgr("31")}<script>alert(1)</script>${sgr("0")} <img src=x onerror=alert(2)> &amp;`;
  assertEquals(pairs(line), [["<script>alert(1)</script>", { fg: 1 }], [" <img src=x onerror=alert(2)> &amp;", {}]]);
  assertEquals(stripAnsi(line), "<script>alert(1)</script> <img src=x onerror=alert(2)> &amp;");
});

Deno.test("styles are small frozen data objects, the same shape after a JSON round trip", () => {
  const sp = parse(`${sgr("1;38;2;1;2;3;48;5;200")}x`);
  const style = sp[0]!.style;
  assert(Object.isFrozen(style) && Object.isFrozen(PLAIN));
  assertEquals(JSON.parse(JSON.stringify(sp)), [{ text: "x", style: { fg: "#010203", bg: 200, bold: true } }]);
});

Deno.test("xtermColor() gives xterm's palette: 16 defaults, the 6×6×6 cube, the greys", () => {
  assertEquals(xtermColor(0), "#000000");
  assertEquals(xtermColor(1), "#cd0000");
  assertEquals(xtermColor(15), "#ffffff");
  assertEquals(xtermColor(16), "#000000");
  assertEquals(xtermColor(196), "#ff0000");
  assertEquals(xtermColor(208), "#ff8700");
  assertEquals(xtermColor(231), "#ffffff");
  assertEquals(xtermColor(232), "#080808");
  assertEquals(xtermColor(255), "#eeeeee");
  assertThrows(() => xtermColor(256));
  assertThrows(() => xtermColor(1.5));
});

Deno.test("stripAnsi() is exactly the spans' texts joined, on every input above", () => {
  assert(SEEN.length > 50, "runs after the other tests of this file");
  for (const line of SEEN) assertEquals(stripAnsi(line), spansText(parseAnsi(line)), JSON.stringify(line.slice(0, 80)));
});
