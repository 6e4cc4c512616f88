/**
 * The documentation cannot drift from the code: the flags in `--help`, in the
 * flag table of src/config.ts and in docs/configuration.md are the same, both
 * ways, with the same defaults; and no relative link in any Markdown file of
 * the repository points at a file or heading that does not exist.
 * @module
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "../helpers/assert.ts";
import { FLAGS, HELP, parseConfig, TABLE } from "../../src/config.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CONFIGURATION = join(ROOT, "docs/configuration.md");

// ---------------------------------------------------------------- Markdown --

/** The text outside fenced code blocks (``` or ~~~), line for line (fenced lines become empty). */
export function withoutFences(md: string): string {
  let fence: string | null = null;
  return md.split("\n").map((line) => {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === null && m) {
      fence = m[1]!;
      return "";
    }
    if (fence !== null) {
      if (m && m[1]![0] === fence[0] && m[1]!.length >= fence.length && line.trim() === m[1]) fence = null;
      return "";
    }
    return line;
  }).join("\n");
}

/** The contents of the inline code spans in `md` (outside fences). */
export function codeSpans(md: string): string[] {
  return [...withoutFences(md).matchAll(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g)].map((m) => m[2]!.trim());
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to '-'. */
export function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1") // a link in a heading keeps its text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, "")
    .replace(/ /g, "-");
}

/** Every anchor the headings of `md` define (duplicates get -1, -2, … as on GitHub). */
export function anchors(md: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(md).split("\n")) {
    const m = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The link targets in `md`: inline links and images, and reference definitions; not in code. */
export function linkTargets(md: string): string[] {
  const text = withoutFences(md).replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, "");
  const out: string[] = [];
  // [text](target "title") and ![alt](target); the text may hold one level of brackets.
  for (const m of text.matchAll(/!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+"[^"]*")?\s*\)/g)) {
    out.push(m[1]!.replace(/^<(.*)>$/, "$1"));
  }
  for (const m of text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/gm)) out.push(m[1]!.replace(/^<(.*)>$/, "$1"));
  return out;
}

/** Why a relative link from the Markdown file `from` is broken; null when it is fine or not relative. */
export function brokenLink(from: string, target: string, read = (p: string) => readFileSync(p, "utf8")): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) return null; // https:, mailto:, …
  const hash = target.indexOf("#");
  const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
  const file = path === "" ? from : path.startsWith("/") ? join(ROOT, path) : resolve(dirname(from), path);
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch {
    return `${target}: no such file (${relative(ROOT, file)})`;
  }
  if (anchor === null || anchor === "" || !isFile || !file.endsWith(".md")) return null;
  if (!anchors(read(file)).has(anchor)) return `${target}: no heading "#${anchor}" in ${relative(ROOT, file)}`;
  return null;
}

/** The repository's Markdown files: README, docs/, BENCHMARKS.md, RELIABILITY.md, deploy/, bench/results/, … */
function markdownFiles(dir = ROOT): string[] {
  const skip = new Set(["node_modules", ".git", "artifacts", ".cache"]);
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...markdownFiles(p));
    else if (e.name.endsWith(".md")) out.push(p);
  }
  return out;
}

// ------------------------------------------------------------------- Flags --

/** Flags (`--x`, `-h`) named in `--help`. */
function helpFlags(): Set<string> {
  return new Set([...HELP.matchAll(/(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b/g)].map((m) => m[1]!));
}

/** `FILEWATCH_*` variables named in a text. */
function variables(text: string): Set<string> {
  return new Set([...text.matchAll(/\bFILEWATCH_[A-Z][A-Z_]*\b/g)].map((m) => m[0]));
}

/** Flags in the code's table (`--name`, and `-x` for a short form). */
function tableFlags(): Set<string> {
  const out = new Set<string>();
  for (const [name, spec] of Object.entries(FLAGS)) {
    out.add(`--${name}`);
    if ("short" in spec) out.add(`-${spec.short}`);
  }
  return out;
}

/** Flags documented in configuration.md: each inline code span that starts with `-`, its first word. */
function documentedFlags(md: string): Set<string> {
  return new Set(codeSpans(md).filter((s) => s.startsWith("-")).map((s) => s.split(/[\s=]/)[0]!));
}

const sorted = (s: Set<string>) => [...s].sort();

function diff(a: Set<string>, b: Set<string>): string[] {
  return [...a].filter((x) => !b.has(x)).sort();
}

Deno.test("every flag in --help is in the flag table of src/config.ts, and the other way round", () => {
  assertEquals(diff(helpFlags(), tableFlags()), [], "in --help but not accepted by parseConfig");
  assertEquals(diff(tableFlags(), helpFlags()), [], "accepted by parseConfig but not in --help");
});

/** The flags and variables in the first two columns of configuration.md's options table. */
function tableOfOptions(md: string): { flags: Set<string>; variables: Set<string> } {
  const flags = new Set<string>();
  const vars = new Set<string>();
  for (const line of withoutFences(md).split("\n")) {
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    if (cells.length < 3 || !/^`(-|FILE`)/.test(cells[0]!)) continue;
    for (const m of cells[0]!.matchAll(/`(--?[a-z][a-z-]*)`/g)) flags.add(m[1]!);
    for (const v of variables(cells[1]!)) vars.add(v);
  }
  return { flags, variables: vars };
}

Deno.test("every flag and variable in --help has a row in docs/configuration.md, and the other way round", () => {
  const md = readFileSync(CONFIGURATION, "utf8");
  const table = tableOfOptions(md);
  assertEquals(diff(helpFlags(), table.flags), [], "in --help but without a row in docs/configuration.md");
  assertEquals(diff(table.flags, helpFlags()), [], "a row in docs/configuration.md but not in --help");
  assertEquals(diff(variables(HELP), table.variables), [], "variables in --help without a row in the docs");
  assertEquals(diff(table.variables, variables(HELP)), [], "variables in the docs' table but not in --help");
  // Nor may the prose name a flag or variable that does not exist.
  assertEquals(diff(documentedFlags(md), helpFlags()), [], "flags named in docs/configuration.md but not in --help");
  assertEquals(diff(variables(md), variables(HELP)), [], "variables named in docs/configuration.md but not in --help");
  assert(helpFlags().size >= 16, `found only ${sorted(helpFlags()).join(" ")} in --help`);
});

/** The rows of configuration.md's options table: flag, variable, default cells. */
function optionRows(md: string): Array<{ flag: string; variable: string | null; dflt: string }> {
  const rows = [];
  for (const line of withoutFences(md).split("\n")) {
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    if (cells.length < 3 || !/^`--/.test(cells[0]!)) continue;
    rows.push({
      flag: /`(--[a-z-]+)/.exec(cells[0]!)![1]!,
      variable: /FILEWATCH_[A-Z_]+/.exec(cells[1]!)?.[0] ?? null,
      dflt: cells[2]!,
    });
  }
  return rows;
}

Deno.test("docs/configuration.md's defaults are the code's, and each variable sets its flag", () => {
  const rows = optionRows(readFileSync(CONFIGURATION, "utf8"));
  assertEquals(rows.length, Object.keys(FLAGS).length - 1, "one row per flag but --help");
  const none = parseConfig(["f"], {});
  // Flags that print and exit (--version) have no default and no variable.
  const exits = new Set(Object.values(TABLE).flatMap((e) => e.kind === "exit" ? [`--${e.flag}`] : []));
  let checked = 0;
  for (const { flag, variable, dflt } of rows) {
    if (exits.has(flag)) continue;
    const spec = FLAGS[flag.slice(2) as keyof typeof FLAGS];
    assert(spec, `${flag} is not a flag`);
    const value = /^`([^`]+)`$/.exec(dflt)?.[1];
    if (spec.type === "string" && value !== undefined) {
      // The documented default, given explicitly, changes nothing; so does its variable.
      assertEquals(parseConfig([flag, value, "f"], {}), none, `${flag}'s documented default ${dflt}`);
      assertEquals(parseConfig(["f"], { [variable!]: value }), none, `${variable} = ${dflt}`);
      checked++;
    } else if (spec.type === "boolean") {
      // A switch documented as off by default: the flag changes something, and its variable does the same.
      assert(/^(off|events on)$/.test(dflt), `${flag}: default ${dflt}`);
      const on = parseConfig([flag, "f"], {});
      assert(JSON.stringify(on) !== JSON.stringify(none), `${flag} changes nothing`);
      assertEquals(parseConfig(["f"], { [variable!]: "1" }), on, `${variable}=1 is ${flag}`);
      checked++;
    }
  }
  assert(checked >= 12, `checked only ${checked} defaults`);
});

// ------------------------------------------------------------------- Links --

Deno.test("every relative link in the repository's Markdown files points at a file and heading that exist", () => {
  const files = markdownFiles();
  for (const must of ["README.md", "BENCHMARKS.md", "RELIABILITY.md", "docs/configuration.md", "docs/protocol.md"]) {
    assert(files.includes(join(ROOT, must)), `${must} is checked`);
  }
  const broken: string[] = [];
  let links = 0;
  for (const f of files) {
    for (const target of linkTargets(readFileSync(f, "utf8"))) {
      links++;
      const why = brokenLink(f, target);
      if (why) broken.push(`${relative(ROOT, f)}: ${why}`);
    }
  }
  assertEquals(broken, []);
  assert(links > 50, `found only ${links} links`);
});

Deno.test("the link check finds a missing file, a missing heading, and ignores code and web links", () => {
  const from = join(ROOT, "README.md");
  const md = [
    "# A heading, with `code` and punctuation!",
    "## Deno and 64 KiB: where it went",
    "## Twice",
    "## Twice",
    "see [ok](docs/protocol.md#resume), [self](#a-heading-with-code-and-punctuation), [web](https://example.com/x)",
    "and [gone](docs/nothing.md), [no heading](docs/protocol.md#no-such-heading), `[in code](nope.md)`",
    "```",
    "[in a fence](nope.md)",
    "```",
    "[ref]: docs/missing.md",
  ].join("\n");
  assertEquals(linkTargets(md), [
    "docs/protocol.md#resume",
    "#a-heading-with-code-and-punctuation",
    "https://example.com/x",
    "docs/nothing.md",
    "docs/protocol.md#no-such-heading",
    "docs/missing.md",
  ]);
  assertEquals(sorted(anchors(md)), [
    "a-heading-with-code-and-punctuation",
    "deno-and-64-kib-where-it-went",
    "twice",
    "twice-1",
  ]);
  const verdicts = linkTargets(md).map((t) => brokenLink(from, t, (p) => p === from ? md : readFileSync(p, "utf8")));
  assertEquals(verdicts.map((v) => v !== null), [false, false, false, true, true, true]);
});
