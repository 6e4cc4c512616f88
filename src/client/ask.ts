/**
 * What the filter box asks the server's search on a large file, and how the
 * search's count and progress read (docs/page.md#the-whole-log-at-any-size). Pure, for the
 * unit tests; src/client/search.ts runs the search.
 * @module
 */
import type { Filter } from "./filter.ts";
import type { SearchAsk } from "./remote.ts";
import { formatSize } from "../shared/format.ts";

/** "12 matches", "1 match", "No matches". */
export function matchesLabel(n: number): string {
  return n === 0 ? "No matches" : `${n.toLocaleString("en")} ${n === 1 ? "match" : "matches"}`;
}

/** "searched 1.2 GiB of 4.0 GiB (30%)". */
export function progressLabel(scanned: number, size: number): string {
  const pct = size > 0 ? Math.min(100, Math.floor((scanned / size) * 100)) : 100;
  return `searched ${formatSize(scanned)} of ${formatSize(size)} (${pct}%)`;
}

/** What the filter box asks the server, or null when it asks nothing (empty, or not a pattern). */
export function askOf(filter: Filter, text: string, matchCase: boolean): SearchAsk | null {
  if (filter.kind !== "ok") return null;
  return filter.regex ? { q: text.slice(1, -1), regex: true, matchCase } : { q: text, regex: false, matchCase };
}
