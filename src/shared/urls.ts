/**
 * URLs in log text, for links: only `http://` and `https://`, never another
 * scheme (`javascript:`, `data:`, `file:`, `ftp:`, `mailto:` stay text).
 * Give it a line's plain text (after `ansi.ts`'s parser),
 * so an OSC 8 hyperlink's hidden target, which that parser drops, can never
 * become a link: only what the reader sees is linked, to what it says.
 * @module
 */

/** A URL found in text: `text.slice(start, end)` is what to link; `href` is its normalised form. */
export interface UrlRange {
  readonly start: number;
  readonly end: number;
  readonly href: string;
}

/** At most this many links per line by default: a line of 10,000 URLs is data, not something to click. */
export const MAX_URLS = 100;

// deno-lint-ignore no-control-regex -- a URL ends at a control character
const URL_RE = /\bhttps?:\/\/[^\s<>"`\x00-\x1f\x7f]+/gi;
const TRAILING = ".,;:!?'*";
const PAIRS: Readonly<Record<string, string>> = { ")": "(", "]": "[", "}": "{" };

/**
 * The `http`/`https` URLs in `text`, in order. Punctuation that ends a
 * sentence (`.`, `,`, `;`, `:`, `!`, `?`, `'`, `*`) is not part of a URL, nor
 * is a closing `)`, `]` or `}` without its opening one inside the URL — so
 * `(see https://x.org/a)` links `https://x.org/a` while
 * `https://en.wikipedia.org/wiki/Set_(mathematics)` keeps its parenthesis.
 * The scheme must start a word (`xhttp://` is not one), a host must follow,
 * and the whole must parse as a URL.
 * @example
 * ```ts
 * findUrls("see https://example.com/a, then stop.");
 * // [{ start: 4, end: 25, href: "https://example.com/a" }]
 * ```
 */
export function findUrls(text: string, limit: number = MAX_URLS): UrlRange[] {
  const out: UrlRange[] = [];
  if (text.indexOf("://") < 0) return out;
  URL_RE.lastIndex = 0;
  for (let m = URL_RE.exec(text); m && out.length < limit; m = URL_RE.exec(text)) {
    const url = trim(m[0]);
    const href = safeHref(url);
    if (href !== null) out.push({ start: m.index, end: m.index + url.length, href });
  }
  return out;
}

/** Drops what people put after a URL rather than in it. Linear: the brackets are counted once. */
function trim(url: string): string {
  const open: Record<string, number> = { ")": 0, "]": 0, "}": 0 };
  const close: Record<string, number> = { ")": 0, "]": 0, "}": 0 };
  for (let i = 0; i < url.length; i++) {
    const c = url[i]!;
    if (c === "(" || c === "[" || c === "{") open[CLOSER[c]!]!++;
    else if (c === ")" || c === "]" || c === "}") close[c]!++;
  }
  let end = url.length;
  while (end > 0) {
    const last = url[end - 1]!;
    if (TRAILING.includes(last)) end--;
    else if (PAIRS[last] !== undefined && open[last]! < close[last]!) {
      close[last]!--;
      end--;
    } else break;
  }
  return url.slice(0, end);
}

const CLOSER: Readonly<Record<string, string>> = { "(": ")", "[": "]", "{": "}" };

/**
 * The normalised `href` for `url` when it is an `http:` or `https:` URL with
 * a host, else null. The one check to pass before anything becomes a link.
 */
export function safeHref(url: string): string | null {
  if (!/^https?:\/\/[^/?#\s]/i.test(url) || /\s/.test(url)) return null;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if ((u.protocol !== "http:" && u.protocol !== "https:") || u.hostname === "") return null;
  return u.href;
}
