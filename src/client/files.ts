/**
 * The index page's pure part: `/files`' JSON into table rows (unit-tested;
 * src/client/index.ts draws them).
 * @module
 */
import { formatSize, tokenTimeMs } from "../shared/format.ts";

/** A file as `/files` lists it. */
export type ListedFile = { name: string; size: number; lastMod: string } | {
  name: string;
  error: string;
};

/** What one table row shows. */
export interface Row {
  name: string;
  href: string;
  size: string;
  /** ISO time of the last modification ("" when unknown). */
  iso: string;
  error: string;
}

/** `/files`' JSON → rows; anything malformed is left out rather than shown wrongly. */
export function rowsOf(json: unknown, pagePath: string): Row[] {
  if (!Array.isArray(json)) return [];
  const rows: Row[] = [];
  for (const f of json as unknown[]) {
    if (typeof f !== "object" || f === null) continue;
    const { name, size, lastMod, error } = f as Record<string, unknown>;
    if (typeof name !== "string") continue;
    const href = pagePath + encodeURIComponent(name);
    if (typeof error === "string") {
      rows.push({ name, href, size: "", iso: "", error });
    } else if (typeof size === "number" && typeof lastMod === "string") {
      const ms = tokenTimeMs(lastMod);
      rows.push({
        name,
        href,
        size: formatSize(size),
        iso: ms === null ? "" : new Date(ms).toISOString(),
        error: "",
      });
    }
  }
  return rows;
}
