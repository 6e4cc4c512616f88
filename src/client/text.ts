/**
 * What the page holds of the file, and how each message changes it. Pure:
 * the DOM follows the {@link Change} these functions return.
 *
 * Bounds here are in characters (`keepChars`: the page counts what it keeps
 * on screen), where the server's watcher counts bytes.
 * @module
 */
import type { ServerMessage } from "./protocol.ts";
import { utf8Length } from "./protocol.ts";

/**
 * A part of one version of the file, as text: bytes `offset`..`size` of
 * version `lastMod`. What the page holds and shows is one of these.
 */
export interface FileText {
  /** The version's token; "" when there is none (the file could not be read). */
  lastMod: string;
  /** The byte in the file where `text` starts: the server's tail window, plus what the page dropped. */
  offset: number;
  /** The byte where `text` ends: the file's size at `lastMod`. Resuming sends it. */
  size: number;
  text: string;
  /** Some of `text` was not valid UTF-8 and shows as U+FFFD. */
  lossy: boolean;
  /** The page dropped earlier lines itself to stay within its bound. */
  dropped: boolean;
}

/** Nothing held yet. */
export const NOTHING: FileText = {
  lastMod: "",
  offset: 0,
  size: 0,
  text: "",
  lossy: false,
  dropped: false,
};

/** What `<body>`'s `data-*` attributes say (src/page.ts writes them): which bytes the `<pre>` holds, and the bound. */
export interface PageData {
  lastMod?: string;
  offset?: string;
  size?: string;
  /** The most characters to keep (`data-keep`; 0 or absent: no bound). */
  keep?: string;
}

/** A whole number of at least 0 from an attribute; 0 for anything else. */
function countOf(v: string | undefined): number {
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/**
 * What the server's page starts the script with: its text (the `<pre>`'s),
 * which bytes of which version that is, and how many characters to keep.
 * @example
 * ```ts
 * pageStart({ lastMod: "17f0", offset: "0", size: "6", keep: "0" }, "hello\n", false).first.size; // 6
 * ```
 */
export function pageStart(data: PageData, text: string, lossy: boolean): { first: FileText; keepChars: number } {
  return {
    first: {
      lastMod: data.lastMod ?? "",
      offset: countOf(data.offset),
      size: countOf(data.size),
      text,
      lossy,
      dropped: false,
    },
    keepChars: countOf(data.keep),
  };
}

/**
 * What a message did to the held text, for the DOM to follow:
 * - `replace`: show `held.text` instead of everything on screen;
 * - `extend`: add `added` at the end, then remove `dropped` from the start
 *   (both may be empty); what is on screen otherwise stays as it is;
 * - `stale`: an `append` to a version the page does not hold: nothing
 *   changed, and the page must resync.
 */
export type Change =
  | { kind: "replace"; held: FileText }
  | { kind: "extend"; held: FileText; added: string; dropped: string }
  | { kind: "stale" };

/** Trimming cuts down to this share of the bound, so it happens once per many lines, not on every one. */
export const TRIM_TO = 7 / 8;

/**
 * How many characters to drop from the start of `text` so that it fits in
 * `keepChars` characters (0: it fits, or `keepChars` is 0, no bound). It cuts
 * down to about {@link TRIM_TO} of `keepChars`, at the start of a line: the oldest whole
 * lines go. Only when the last line alone is longer than that is it cut
 * inside that line (never inside a surrogate pair), so the bound holds
 * whatever the file.
 * @example
 * ```ts
 * trimPoint("aaaa\nbb\ncc\n", 8); // 5: "bb\ncc\n" is left
 * ```
 */
export function trimPoint(text: string, keepChars: number): number {
  if (keepChars <= 0 || text.length <= keepChars) return 0;
  const target = Math.max(1, Math.floor(keepChars * TRIM_TO));
  const earliest = text.length - target; // the first character that may stay
  const nl = text.indexOf("\n", earliest - 1);
  if (nl !== -1 && nl + 1 < text.length) return nl + 1;
  const c = text.charCodeAt(earliest - 1);
  return c >= 0xd800 && c < 0xdc00 ? earliest + 1 : earliest;
}

/** `held` cut to at most `keepChars` characters by {@link trimPoint} (as it is when it fits). */
export function trimHeld(held: FileText, keepChars: number): FileText {
  return dropFront(held, trimPoint(held.text, keepChars));
}

/** `held` with its first `n` characters dropped. */
function dropFront(held: FileText, n: number): FileText {
  if (n <= 0) return held;
  const gone = held.text.slice(0, n);
  return {
    ...held,
    text: held.text.slice(n),
    offset: held.offset + utf8Length(gone),
    dropped: true,
  };
}

/**
 * Applies a `content` or `append` message to what the page holds, keeping
 * at most `keepChars` characters (0: no bound).
 *
 * An `append` applies only when the page holds exactly its `prev`, ending at
 * its `offset`; anything else is `stale`. A `content` replaces; when it only
 * extends what is held (a server without appends resends the whole of a
 * growing file), the change is an `extend`, so the screen is not rebuilt.
 */
export function applyMessage(
  held: FileText,
  msg: Exclude<ServerMessage, { type: "error" }>,
  keepChars: number,
): Change {
  if (msg.type === "append") {
    if (
      !held.lastMod || msg.prev !== held.lastMod || msg.offset !== held.size
    ) return { kind: "stale" };
    const grown: FileText = {
      ...held,
      lastMod: msg.lastMod,
      size: msg.size,
      text: held.text + msg.text,
      lossy: held.lossy || msg.lossy,
    };
    const cut = trimPoint(grown.text, keepChars);
    return {
      kind: "extend",
      held: dropFront(grown, cut),
      added: msg.text,
      dropped: grown.text.slice(0, cut),
    };
  }
  const next: FileText = {
    lastMod: msg.lastMod,
    offset: msg.offset,
    size: msg.size,
    text: msg.text,
    lossy: msg.lossy,
    dropped: false,
  };
  const cut = trimPoint(next.text, keepChars);
  // Same start and the old text is a prefix: the screen only needs the new end.
  if (
    !held.dropped && cut === 0 && msg.offset === held.offset && held.lastMod &&
    next.text.startsWith(held.text)
  ) {
    return {
      kind: "extend",
      held: next,
      added: next.text.slice(held.text.length),
      dropped: "",
    };
  }
  return { kind: "replace", held: dropFront(next, cut) };
}
