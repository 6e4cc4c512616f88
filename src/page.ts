/**
 * The page served at `/`: the file's current content, server-rendered and
 * escaped so it shows before (and without) any script, plus the client
 * script that keeps it live.
 *
 * Everything interpolated goes through Hono's `html` template, which escapes
 * it; only our own constants (the style sheet and the client script) are
 * passed through `raw`. The page loads nothing else: no external assets, no
 * inline event handlers or style attributes, so the Content-Security-Policy
 * can allow exactly one nonce'd script and one nonce'd style element.
 * @module
 */
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { stripAnsi, stripAnsiLines } from "./shared/ansi.ts";
import { CHUNK_LINES, chunkStarts } from "./shared/chunks.ts";
import { formatSize, tokenTimeMs, windowNotice } from "./shared/format.ts";
import { LEVELS } from "./shared/levels.ts";
import { ANSI_BG, ANSI_FG, LEVEL_COLORS, type Theme } from "./shared/palette.ts";
import { CLIENT_SCRIPT } from "./client_bundle.ts";

/**
 * What the page first shows: the text of bytes `offset`..`size` of version
 * `lastMod` (the whole file, or its tail window in tail mode), or the error
 * that kept the file from being read.
 */
export type PageView =
  | {
    ok: true;
    lastMod: string;
    /** The byte in the file where `text` starts (0: the whole file). */
    offset: number;
    /** The file's size: the byte where `text` ends. */
    size: number;
    text: string;
    /** `text` was decoded lossily (the bytes are not valid UTF-8). */
    lossy: boolean;
  }
  | { ok: false; error: string };

/** What {@link renderPage} needs; `nonce` must match the response's CSP. */
export interface PageInput {
  /** The watched file's name as shown to the reader (the path it was given as). */
  fileName: string;
  view: PageView;
  /**
   * The most characters of text the page keeps on screen (0: no bound); the page counts characters, where the
   * server's watcher counts bytes. Written as `data-keep` for the script.
   */
  keepChars: number;
  /** Per-response CSP nonce for the one `<script>` and one `<style>`. */
  nonce: string;
  /** The absolute path of the page's WebSocket (`/ws`, or `/PREFIX/ws` under --base-path); default `/ws`. */
  socketPath?: string;
  /** With several files, the index's path: the header links back to it. */
  indexPath?: string;
  /** Where the Download link points (`/raw`, `/raw/{name}`, under --base-path); default `raw`, relative to the page. */
  rawUrl?: string;
  /**
   * The large-file view (docs/page.md#the-whole-log-at-any-size): the page holds only the
   * file's last screen (`view.text`, from `view.offset`) and its script
   * reads the rest through the server. Absent: the page holds `view.text`.
   */
  large?: LargePage;
}

/** What the large-file view needs besides its last screen. */
export interface LargePage {
  /** Paths of the file's `/lines`, `/search` and `/time` (under --base-path; `/lines/{name}` for one of several). */
  linesPath: string;
  searchPath: string;
  timePath: string;
  /** The file ends inside a line (no newline at its end): the next append continues it. */
  open: boolean;
}

/** Lines of the file's end the large-file view's HTML carries: a screen or two, so it shows before any fetch. */
export const LARGE_FIRST_LINES = 120;
/** At most this many bytes of them (lines may be long). */
export const LARGE_FIRST_BYTES = 64 * 1024;

/**
 * Whether a file of `size` bytes opens in the large-file view
 * (docs/page.md#the-whole-log-at-any-size): when it is larger than `--max-file-size`, the
 * most the page holds whole. Up to it the page holds the file (Ctrl+F finds
 * anything in it, the filter shows "N of M lines" as you type, a rewrite is
 * diffed line by line); past it the page holds only what is near the view and
 * its HTML only the last screen, so it shows at once whatever the size. A
 * lower `--max-file-size` moves smaller files to the large view (a 16 MB
 * page is ready 0.9–1.6 s after navigation when held whole, 0.3–0.4 s in
 * the large view: BENCHMARKS.md, "The page at any size").
 */
export function isLargeFile(size: number, options: { maxFileSize: number }): boolean {
  return size > options.maxFileSize;
}

/**
 * The last lines of `bytes` (which start at byte `offset` of the file): at
 * most {@link LARGE_FIRST_LINES} whole lines and {@link LARGE_FIRST_BYTES}
 * bytes, decoded with U+FFFD for bytes that are not UTF-8; `open` when the
 * file does not end with a newline.
 * @example
 * ```ts
 * lastScreen(new TextEncoder().encode("a\nb\nc\n"), 100); // { text: "a\nb\nc\n", offset: 100, open: false }
 * ```
 */
export function lastScreen(bytes: Uint8Array, offset: number): { text: string; offset: number; open: boolean } {
  const end = bytes.length;
  const open = end > 0 && bytes[end - 1] !== 0x0a;
  const floor = Math.max(0, end - LARGE_FIRST_BYTES);
  let start = end;
  // Back over LARGE_FIRST_LINES line starts (the final newline ends the last line, it starts none).
  let i = open ? end : end - 1;
  for (let lines = 0; lines < LARGE_FIRST_LINES; lines++) {
    const nl = i > floor ? bytes.lastIndexOf(0x0a, i - 1) : -1;
    if (nl < floor) {
      // The window's first line may start before it: only a whole line is shown, unless there is no other.
      start = floor === 0 ? 0 : lines === 0 ? floor : start;
      break;
    }
    start = nl + 1;
    i = nl;
  }
  return { text: new TextDecoder("utf-8").decode(bytes.subarray(start)), offset: offset + start, open };
}

/** A watcher's snapshot as {@link largePage} reads it. */
export type PageSnapshot =
  | { ok: true; lastMod: string; size: number; offset: number; bytes: Uint8Array }
  | { ok: false; error: string };

/**
 * What a file's page is when the file opens in the large-file view, or null
 * when the page holds the file (or shows its error). A version larger than
 * `--max-file-size` is always a tail window (the watcher follows such a file
 * in tail mode: docs/detection.md#tail-mode), so the large view connects and
 * follows it like any page. `route` names a route of this file (`lines` →
 * `/logs/lines/app.log`).
 */
export function largePage(
  snap: PageSnapshot,
  options: { maxFileSize: number },
  route: (name: string) => string,
): { view: PageView; large: LargePage } | null {
  if (!snap.ok || !isLargeFile(snap.size, options)) return null;
  const paths = { linesPath: route("lines"), searchPath: route("search"), timePath: route("time") };
  const last = lastScreen(snap.bytes, snap.offset);
  return {
    view: { ok: true, lastMod: snap.lastMod, offset: last.offset, size: snap.size, text: last.text, lossy: false },
    large: { ...paths, open: last.open },
  };
}

/** Shown above the content when the file is not valid UTF-8. */
export const LOSSY_NOTICE = "This file is not valid UTF-8: bytes that cannot be decoded are shown as \uFFFD.";

/** Added to "showing the last X of Y" once the page has dropped lines itself to stay within its bound. */
export const DROPPED_NOTICE = "Earlier lines were dropped from this page to keep it light.";

/**
 * A theme's colours for reading real logs, from src/shared/palette.ts (each
 * checked there against the backgrounds below): `--lv-LEVEL`, the ANSI
 * colours `--cN` and their background tints `--cbN`.
 */
function logColors(theme: Theme): string {
  const levels = LEVELS.map((l) => `--lv-${l}: ${LEVEL_COLORS[l][theme]};`).join(" ");
  const fg = ANSI_FG[theme].map((c, i) => `--c${i}: ${c};`).join(" ");
  const bg = ANSI_BG[theme].map((c, i) => `--cb${i}: ${c};`).join(" ");
  return `\n  ${levels}\n  ${fg}\n  ${bg}`;
}

/** Light colours (the default); see {@link PAGE_CSS}. */
const LIGHT = `color-scheme: light dark;
  --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --bar: #f6f8fa; --line: #d1d9e0;
  --ok: #1a7f37; --wait: #9a6700; --bad: #cf222e;
  --err-bg: #ffebe9; --err-fg: #82071e; --err-line: #ff8182;
  --note-bg: #fff8c5; --note-fg: #4d2d00; --gutter: #6e7781; --accent: #0969da;
  --mark-bg: #fff3a3; --mark-fg: #1f2328; --changed: #dafbe1; --target: #ddf4ff; --target-line: #54aeff;
  --soft: #59636e;${logColors("light")}`;
/** Dark colours: under prefers-color-scheme: dark, or picked with the theme button. */
const DARK = `color-scheme: dark;
  --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --bar: #151b23; --line: #3d444d;
  --ok: #3fb950; --wait: #d29922; --bad: #f85149;
  --err-bg: #3c1618; --err-fg: #ffdcd7; --err-line: #8e1519;
  --note-bg: #3b2e0a; --note-fg: #f2cc60; --gutter: #8b949e; --accent: #4493f8;
  --mark-bg: #5c4a00; --mark-fg: #fff8c5; --changed: #12361f; --target: #0c2d6b; --target-line: #1f6feb;
  --soft: #9ea7b3;${logColors("dark")}`;

/**
 * Reading real logs (docs/page.md#reading-real-logs): a line drawn by the
 * script is `span.ln` with a gutter of three columns (its number when shown,
 * the mark column, the toggle column), a bar in its level's colour, and its
 * text in classes for levels, ANSI colours and summary parts.
 */
const LOG_CSS = `
#content, #filtered { --num-w: 0ch; --mark-w: 2ch; --tg-w: 2ch; --lg: calc(var(--num-w) + var(--mark-w) + var(--tg-w)); }
body.numbers #content, #filtered { --num-w: calc(var(--digits, 2) * 1ch + 1.4ch); }
.ln { display: block; position: relative; padding-left: var(--lg); text-indent: calc(-1 * var(--lg));
  --lvc: transparent; --dot: transparent; background-repeat: no-repeat;
  background-image: linear-gradient(var(--lvc), var(--lvc)), radial-gradient(circle closest-side, var(--dot) 55%, transparent 68%);
  background-size: 3px 100%, var(--mark-w) 1lh; background-position: 0 0, var(--num-w) 0; }
.chunk > .ln { margin-left: calc(-1 * var(--lg)); }
.ln::before { content: ""; display: inline-block; box-sizing: border-box; width: var(--lg); text-align: right;
  text-indent: 0; color: var(--gutter); user-select: none; }
body.numbers #content .ln::before, #filtered .ln::before { content: attr(data-n); padding-right: calc(var(--mark-w) + var(--tg-w) + 1.4ch); }
.ln.marked { --dot: var(--accent); }
.ln.cur { outline: 1px solid var(--accent); outline-offset: -1px; }
.ln:focus-visible { outline: 2px solid var(--accent); outline-offset: -2px; }
${LEVELS.map((l) => `.lv-${l} { --lvc: var(--lv-${l});${l === "info" ? "" : ` color: var(--lv-${l});`} }`).join("\n")}
.ln .tg { position: absolute; top: 0; left: calc(var(--num-w) + var(--mark-w)); width: var(--tg-w); height: 1lh; margin: 0;
  padding: 0; border: 0; background: none; font: inherit; line-height: inherit; text-indent: 0; color: var(--gutter);
  cursor: pointer; user-select: none; }
.ln .tg.fold ~ .tg.open { position: static; margin-right: .5ch; }
.ln .tg::before { content: "\\25be"; }
.ln .tg[aria-expanded="false"]::before { content: "\\25b8"; }
.ln .tg:hover { color: var(--accent); }
.ln.folded { display: none; }
/* The large-file view hides lines by classes on its pane, at no height: it finds its lines by their offsets. */
body.large .ln.folded, #content.marked-only .ln:not(.in-marked),
${[...LEVELS, "none"].map((l) => `#content.hide-${l === "none" ? "other" : l} .ln.lv-${l}`).join(", ")} {
  display: block; height: 0; min-height: 0; overflow: hidden; }
.ln .more { display: none; }
.ln.folded-head .more { display: inline; }
.ln.folded-head .more::before { content: " \\2026 " attr(data-more) " more"; color: var(--soft); user-select: none; }
.ln .pretty { display: block; margin: .15rem 0 .35rem; padding: .3rem .7rem; text-indent: 0; white-space: pre-wrap;
  color: var(--fg); background: var(--bar); border-left: 2px solid var(--line); }
#content a, #filtered a { color: inherit; text-decoration: underline; text-decoration-color: var(--accent); text-underline-offset: 2px; }
.s-time, .s-key { color: var(--soft); }
.s-level { font-weight: 600; }
${
  ANSI_FG.light.map((_, i) =>
    `.c-f${i} { color: var(--c${i}); } .c-b${i} { background: var(--cb${i}); color: var(--fg); }`
  ).join("\n")
}
.c-inv { background: var(--fg); color: var(--bg); }
.c-dim { color: var(--soft); }
.c-bold { font-weight: 700; }
.c-it { font-style: italic; }
.c-ul { text-decoration-line: underline; }
.c-st { text-decoration-line: line-through; }
.c-ul.c-st { text-decoration-line: underline line-through; }
#content mark, #filtered mark { background: var(--mark-bg); color: var(--mark-fg); }
.logbar { display: flex; flex-wrap: wrap; align-items: center; gap: .3rem .9rem; padding: .3rem .9rem;
  background: var(--bar); border-bottom: 1px solid var(--line); font-size: 13px; }
.levels { display: flex; flex-wrap: wrap; gap: .3rem; }
.logbar button { font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line);
  border-radius: 999px; padding: .05rem .6rem; cursor: pointer; }
.logbar .lvl { font-weight: 600; }
.logbar .lvl.lv-info { color: var(--lv-info); }
.logbar .lvl[aria-pressed="false"] { color: var(--muted); text-decoration: line-through; font-weight: 400; }
.logbar button[aria-pressed="true"]:not(.lvl) { background: var(--target); border-color: var(--accent); }
.logbar .n { font-weight: 400; font-variant-numeric: tabular-nums; }
.logbar .keys { margin-left: auto; color: var(--muted); }
`;

/**
 * The style sheet. Colours follow `prefers-color-scheme`; the content pane is
 * the one scroller, so the header, banner and status stay in view.
 */
export const PAGE_CSS = `
:root { color-scheme: light dark; ${LIGHT} }
/* The system's choice, unless the theme button picked one (data-theme on <html>). */
@media (prefers-color-scheme: dark) { :root:not([data-theme="light"]) { ${DARK} } }
:root[data-theme="dark"] { ${DARK} }
:root[data-theme="light"] { color-scheme: light; }
[hidden] { display: none !important; }
html, body { margin: 0; height: 100%; background: var(--bg); color: var(--fg); }
body { display: flex; flex-direction: column; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .25rem 1.1rem;
  padding: .45rem .9rem; background: var(--bar); border-bottom: 1px solid var(--line); }
#index { color: var(--accent); }
#file { font-weight: 600; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
#size, .updated { color: var(--muted); font-variant-numeric: tabular-nums; }
#status { font-weight: 600; white-space: nowrap; font-variant-numeric: tabular-nums; color: var(--muted); }
#status::before { content: ""; display: inline-block; width: .62em; height: .62em; margin-right: .4em;
  border-radius: 50%; background: currentColor; vertical-align: .02em; }
#status[data-state="connected"] { color: var(--ok); }
#status[data-state="connecting"], #status[data-state="waiting"] { color: var(--wait); }
#status[data-state="offline"] { color: var(--bad); }
.controls { margin-left: auto; display: flex; gap: .9rem; }
.controls label { cursor: pointer; user-select: none; }
.banner { padding: .5rem .9rem; background: var(--err-bg); color: var(--err-fg);
  border-bottom: 1px solid var(--err-line); font-weight: 500; }
.notice { padding: .35rem .9rem; background: var(--note-bg); color: var(--note-fg); border-bottom: 1px solid var(--line); }
#view { flex: 1; min-height: 0; min-width: 0; overflow: auto; outline: none; }
#content { margin: 0; padding: .6rem .9rem 1.2rem; min-height: 1.5em; tab-size: 4;
  font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  white-space: pre; width: max-content; min-width: calc(100% - 1.8rem); }
/* Dimmed by colour, not opacity: text at reduced opacity fails contrast (axe). */
body.stale #content { color: var(--muted); }
body.wrap #content { white-space: pre-wrap; overflow-wrap: anywhere; width: auto; min-width: 0; }
/* Chunks off screen are not laid out (see chunkStarts); the last, where a log grows, always is. */
.chunk { display: block; content-visibility: auto; contain-intrinsic-block-size: auto calc(${CHUNK_LINES} * 1lh);
  padding-left: var(--lg); }
.chunk:last-child { content-visibility: visible; }
/* ---- reading (docs/page.md#reading): filter, pause, line links, changed lines, focus ---- */
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
#view:focus-visible { outline-offset: -2px; }
.filter { display: flex; align-items: center; gap: .35rem; }
#filter { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; width: 16rem; padding: .2rem .4rem;
  color: var(--fg); background: var(--bg); border: 1px solid var(--line); border-radius: 4px; }
#filter[aria-invalid="true"] { border-color: var(--bad); }
#filter-count { color: var(--muted); font-variant-numeric: tabular-nums; white-space: nowrap; }
#filter-count.bad { color: var(--bad); font-weight: 600; }
header button, header .button { font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line);
  border-radius: 4px; padding: .15rem .55rem; cursor: pointer; text-decoration: none; }
header button[aria-pressed="true"] { background: var(--accent); border-color: var(--accent); color: #fff; }
#waiting { color: var(--wait); font-weight: 600; }
.goto { display: flex; align-items: center; gap: .35rem; }
#goto-line { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; width: 7rem; padding: .2rem .4rem;
  color: var(--fg); background: var(--bg); border: 1px solid var(--line); border-radius: 4px; }
#goto-line[aria-invalid="true"] { border-color: var(--bad); }
#goto-msg { color: var(--muted); }
#goto-msg.bad { color: var(--bad); font-weight: 600; }
mark { background: var(--mark-bg); color: var(--mark-fg); border-radius: 2px; }
::highlight(fw-changed) { background-color: var(--changed); }
#content .target, #filtered .target { background-color: var(--target); box-shadow: inset 3px 0 0 var(--target-line); }
body.linkable.numbers #content .ln::before, body.linkable #filtered .ln::before { cursor: pointer; }
#filtered { margin: 0; padding: .6rem .9rem 1.2rem; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  white-space: pre; width: max-content; min-width: calc(100% - 1.8rem); }
body.wrap #filtered { white-space: pre-wrap; overflow-wrap: anywhere; width: auto; min-width: 0; }
/* Filtered lines are built when they near the screen; until then a block holds their height. */
.fchunk { display: block; min-height: calc(var(--n, 0) * 1lh); }
.fchunk.built { min-height: 0; }
.empty { color: var(--muted); font-style: italic; }
${LOG_CSS}
/* ---- the large-file view (docs/page.md#the-whole-log-at-any-size): a window of lines, the file's own scrollbar, search ---- */
#pane { flex: 1; min-height: 0; display: flex; position: relative; }
/* The window scrolls natively, but its own vertical scrollbar would span only the window: #bar spans the file. */
body.large #view { position: relative; overflow-anchor: none; }
/* The server's last screen shows at its end from the first paint, before (or without) the script, which then scrolls. */
#view.end { display: flex; flex-direction: column-reverse; }
#view.end > pre { flex: none; }
body.large #view::-webkit-scrollbar { width: 0; height: 10px; }
body.large #view::-webkit-scrollbar-thumb { background: var(--line); border-radius: 5px; }
@supports not selector(::-webkit-scrollbar) { body.large #view { scrollbar-width: none; } }
/* A line's gutter and colours are LOG_CSS's, as in the page that holds the whole file. */
.ln { min-height: 1lh; }
#content[aria-busy="true"] { color: var(--muted); }
.ln[data-cut]::after { content: attr(data-cut); color: var(--muted); font-style: italic; user-select: none; }
#bar { flex: none; width: 16px; position: relative; background: var(--bar); border-left: 1px solid var(--line);
  touch-action: none; user-select: none; }
#bar:focus-visible { outline-offset: -2px; }
#thumb { position: absolute; left: 3px; right: 3px; top: 0; min-height: 24px; border-radius: 5px; background: var(--gutter); }
#bar:hover #thumb, #bar.dragging #thumb { background: var(--accent); }
#loading { position: absolute; top: .6rem; left: 50%; transform: translateX(-50%); padding: .3rem .8rem; z-index: 1;
  background: var(--note-bg); color: var(--note-fg); border: 1px solid var(--line); border-radius: 4px; }
#loading.bad { background: var(--err-bg); color: var(--err-fg); border-color: var(--err-line); }
.results { flex: none; max-height: 38vh; display: flex; flex-direction: column; border-bottom: 1px solid var(--line); }
.results-head { display: flex; gap: .9rem; align-items: center; padding: .25rem .9rem; color: var(--muted);
  background: var(--bar); border-bottom: 1px solid var(--line); }
#matches { margin: 0; padding: .3rem .9rem; list-style: none; overflow: auto; min-height: 0; white-space: pre;
  font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  --gutter-w: calc(var(--digits, 2) * 1ch + 1.4ch); }
#matches:focus-visible { outline-offset: -2px; }
#matches .l { padding-left: var(--gutter-w); text-indent: calc(-1 * var(--gutter-w)); cursor: pointer;
  overflow: hidden; text-overflow: ellipsis; }
#matches .l::before { content: attr(data-n); display: inline-block; box-sizing: border-box; width: var(--gutter-w);
  padding-right: 1.4ch; text-align: right; text-indent: 0; color: var(--gutter); user-select: none; }
#matches .l.active { background: var(--target); box-shadow: inset 3px 0 0 var(--target-line); }
.gotime { display: flex; align-items: center; gap: .35rem; }
#time-input { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; width: 14rem; padding: .2rem .4rem;
  color: var(--fg); background: var(--bg); border: 1px solid var(--line); border-radius: 4px; }
#time-input[aria-invalid="true"] { border-color: var(--bad); }
#time-msg { color: var(--muted); }
#time-msg.bad { color: var(--bad); font-weight: 600; }
#below { position: fixed; right: 1.2rem; bottom: 1.2rem; padding: .45rem .9rem; border: 0; border-radius: 999px;
  background: var(--accent); color: #fff; font: inherit; font-weight: 600; cursor: pointer;
  box-shadow: 0 2px 8px rgba(0,0,0,.25); }
`;

// Our own constants are trusted, but a "</" inside them would end the element early.
if (/<\//.test(PAGE_CSS) || /<\/script|<!--/i.test(CLIENT_SCRIPT)) {
  throw new Error("Cannot inline the page's style or script: it contains an end-tag sequence");
}

const hiddenUnless = (shown: boolean) => shown ? "" : raw(" hidden");

/** What {@link renderShell} wraps: the parts that differ between a file's page and the index. */
export interface ShellInput {
  /** Shown before " — filewatch" in the title. */
  title: string;
  /** Must match the response's CSP (`src/app.ts`): it admits the one style and the one script. */
  nonce: string;
  /** Style after {@link PAGE_CSS}; a trusted constant (inlined raw). */
  css?: string;
  /** `data-*` attributes of `<body>`, what the script starts from; values are escaped. */
  data: Record<string, string | number>;
  /** The header after the connection status. */
  header: HtmlEscapedString | Promise<HtmlEscapedString>;
  /** Everything between the header and the script. */
  body: HtmlEscapedString | Promise<HtmlEscapedString>;
  /** The page's script; a trusted constant checked for end tags at load (inlined raw). */
  script: string;
}

/**
 * The document every page shares (a file's page and the index): the head with
 * its meta tags, the title and the one nonce'd style, a `<body>` with `data-*`
 * attributes, a header starting with the connection status, and the one
 * nonce'd script.
 */
export function renderShell(input: ShellInput): string {
  const { nonce } = input;
  // deno-fmt-ignore
  const data = Object.entries(input.data).map(([k, v]) => html` data-${raw(k)}="${v}"`);
  // deno-fmt-ignore
  const out = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${input.title} — filewatch</title>
<style nonce="${nonce}">${raw(PAGE_CSS)}${raw(input.css ?? "")}</style>
</head>
<body${data}>
<header>
<span id="status" data-state="static"><span id="status-text">snapshot</span></span>
${input.header}</header>
${input.body}
<script nonce="${nonce}">${raw(input.script)}</script>
</body>
</html>
`;
  // `html` only returns a Promise when given one; nothing here is async.
  if (out instanceof Promise) {
    throw new TypeError("Cannot render the page: the template produced a Promise");
  }
  return out.toString();
}

/**
 * Renders the whole HTML document for `GET /`.
 *
 * The content is in `<pre id="content">`, escaped; lossily decoded text
 * (U+FFFD for bad bytes) comes with a notice, and a text that is not the
 * whole file with "showing the last X of Y"; an error shows its message in a
 * `role="alert"` banner and no content. `<body>` carries what the script
 * starts from: `data-last-mod`, `data-offset`, `data-size`, `data-keep` (characters), and
 * `data-socket`, the path its WebSocket connects to.
 *
 * @example
 * ```ts
 * const view = { ok: true, lastMod, offset: 0, size: 12, text: "hello world\n", lossy: false } as const;
 * return c.html(renderPage({ fileName: "app.log", view, keepChars: 0, nonce }));
 * ```
 */
export function renderPage(input: PageInput): string {
  const { fileName, view, nonce } = input;
  const text = view.ok ? view.text : "";
  const lastMod = view.ok ? view.lastMod : "";
  const offset = view.ok ? view.offset : 0;
  const fileSize = view.ok ? view.size : 0;
  const keepChars = Number.isSafeInteger(input.keepChars) && input.keepChars > 0 ? input.keepChars : 0;
  const ms = view.ok ? tokenTimeMs(view.lastMod) : null;
  const iso = ms === null ? "" : new Date(ms).toISOString();
  const hideUpdated = hiddenUnless(ms !== null);
  const hideBanner = hiddenUnless(!view.ok);
  const hideNotice = hiddenUnless(view.ok && view.lossy);
  const large = input.large;
  // The large-file view presents the whole file: no "showing the last X of Y".
  const shown = view.ok && !large ? windowNotice(offset, fileSize) : "";
  const hideWindow = hiddenUnless(shown !== "");
  const error = view.ok ? "" : view.error;
  const size = view.ok ? formatSize(fileSize) : "";
  const starts = large ? [] : chunkStarts(text, CHUNK_LINES);
  // The chunks a first paint shows (the first; the last, where tail mode opens) are written without
  // escapes, so none shows `^[[31m`, and keep their text as it is in `data-raw` for the script to
  // colour. The others are written as they are, once: the script drops their escapes as it draws
  // them, or soon after it starts (writing every chunk twice would double a coloured log's page).
  const chunks = large ? largeLines(text) : starts.map((start, i) => {
    const raw = text.slice(start, starts[i + 1] ?? text.length);
    const plain = i === 0 || i === starts.length - 1 ? stripAnsiLines(raw) : raw;
    return plain === raw
      ? html`<span class="chunk">${raw}</span>`
      : html`<span class="chunk" data-raw="${raw}">${plain}</span>`;
  });
  // Kept as written: the <pre> must hold exactly the file's text. The parser
  // drops one newline right after <pre>, so one is written for it to drop and
  // a file that starts with an empty line keeps it.
  // deno-fmt-ignore
  const header = html`${input.indexPath ? html`<a id="index" href="${input.indexPath}">← files</a>` : ""}<span id="file">${fileName}</span>
<span id="size">${size}</span>
<span id="updated-wrap" class="updated"${hideUpdated}>modified <time id="updated" datetime="${iso}">${iso}</time> <span id="updated-ago"></span></span>
<span id="controls" class="controls" hidden>
<span class="filter" role="search"><label for="filter" class="sr-only">Filter lines (text, or /regex/)</label><input id="filter" type="search" placeholder="Filter: text or /regex/" autocomplete="off" spellcheck="false" aria-describedby="filter-count"><button id="case" type="button" aria-pressed="false" title="Match case">Aa<span class="sr-only"> match case</span></button><span id="filter-count" role="status"></span></span>
<button id="pause" type="button" aria-pressed="false">Pause</button><span id="waiting" role="status"></span>
<label><input type="checkbox" id="wrap"> wrap lines</label>
<label><input type="checkbox" id="numbers"> line numbers</label>
<span class="goto"><button id="goto-open" type="button" aria-keyshortcuts="g" aria-expanded="false" aria-controls="goto" title="Go to line (g)">Go to line</button><form id="goto" hidden><label for="goto-line" class="sr-only">Line number</label><input id="goto-line" type="text" inputmode="numeric" autocomplete="off" spellcheck="false" placeholder="line, Enter" aria-describedby="goto-msg"></form><span id="goto-msg" role="status"></span></span>
${large ? GOTO_TIME : ""}<button id="theme" type="button" title="Colour theme">Theme: auto</button>
</span>
<a id="download" class="button" href="${input.rawUrl ?? "raw"}" download>Download</a>
`;
  const levelButtons = [...LEVELS, "other"].map((l) =>
    html`
      <button type="button" id="level-${l}" class="lvl lv-${l}"
        data-level="${l}" aria-pressed="true"
        hidden>${l === "other" ? "other" : l.toUpperCase()} <span class="n">0</span></button>
    `
  );
  // deno-fmt-ignore
  const logbar = html`<div id="logbar" class="logbar" hidden><span id="levels" class="levels" role="group" aria-label="Levels shown">${levelButtons}</span><button id="marked-only" type="button" aria-pressed="false" title="Show only marked lines (m marks the line you are on)">Marked <span id="mark-count" class="n">0</span></button><button id="fields" type="button" aria-pressed="false" hidden>Fields</button><span class="keys" aria-hidden="true">j/k line · m mark · Enter open or fold</span></div>
`;
  // deno-fmt-ignore
  const body = html`${logbar}<div id="banner" class="banner" role="alert"${hideBanner}><span id="banner-text">${error}</span><span id="banner-keep" hidden> — showing the last content received</span></div>
<div id="notice" class="notice"${hideNotice}>${LOSSY_NOTICE}</div>
<div id="window" class="notice"${hideWindow}><span id="window-text">${shown}</span><span id="dropped" hidden> ${DROPPED_NOTICE}</span></div>
<noscript><div class="notice">JavaScript is off: this is a snapshot. Reload the page to see changes.</div></noscript>
${large ? largeTop() : ""}${large ? raw(`<div id="pane">`) : ""}<main id="view" tabindex="0" aria-label="File content"${large ? raw(` class="end"`) : ""}><pre id="content">
${chunks}</pre><pre id="filtered" hidden></pre></main>${large ? LARGE_BAR : ""}
<button id="below" type="button" hidden>New content below ↓</button>`;
  return renderShell({
    title: fileName,
    nonce,
    data: {
      "last-mod": lastMod,
      offset,
      size: fileSize,
      keep: large ? 0 : keepChars,
      socket: input.socketPath ?? "/ws",
      ...(large ? largeData(large) : {}),
    },
    header,
    body,
    script: CLIENT_SCRIPT,
  });
}

// ---- the large-file view's parts (docs/page.md#the-whole-log-at-any-size) ------------------

/** The last screen as one element per line, as the script's window holds lines (it replaces them). */
function largeLines(text: string) {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((l) => html`<span class="ln">${stripAnsi(l)}</span>`);
}

/** `<body>`'s data for the script: the view, the routes it reads, whether the file ends inside a line. */
function largeData(large: LargePage): Record<string, string> {
  return {
    view: "large",
    lines: large.linesPath,
    search: large.searchPath,
    time: large.timePath,
    open: large.open ? "1" : "0",
  };
}

/** Go to time, in the header: like Go to line, with the server's /time behind it. */
// deno-fmt-ignore
const GOTO_TIME = raw(`<span class="gotime"><button id="time-open" type="button" aria-keyshortcuts="t" aria-expanded="false" aria-controls="time" title="Go to time (t)">Go to time</button><form id="time" hidden><label for="time-input" class="sr-only">Time: RFC 3339 (no offset is UTC) or epoch milliseconds</label><input id="time-input" type="text" autocomplete="off" spellcheck="false" placeholder="2026-12-07T00:11Z, Enter" aria-describedby="time-msg"></form><span id="time-msg" role="status"></span></span>
`);

/** The panel where the search lists its matches. */
function largeTop() {
  // deno-fmt-ignore
  return html`<section id="results" class="results" aria-label="Search results" hidden><div class="results-head"><span id="results-progress"></span><button id="results-more" type="button" hidden>Search further back</button></div><ol id="matches" role="listbox" tabindex="0" aria-label="Matching lines, newest first"></ol></section>
`;
}

/** The file's own scrollbar and the placeholder a jump shows, closing the pane `largeTop` opened. */
// deno-fmt-ignore
const LARGE_BAR = raw(`<div id="bar" role="scrollbar" aria-controls="view" aria-orientation="vertical" aria-valuemin="0" aria-valuemax="100" aria-valuenow="100" aria-label="Position in the file" tabindex="0" hidden><div id="thumb"></div></div><div id="loading" role="status" hidden></div></div>`);
