/**
 * The large-file view's scrollbar, as arithmetic. Browsers cap an element's
 * height (about 33.5 million px in Chromium: some 1.7 million lines of 19 px),
 * and a 4 GiB log has tens of millions of lines, so the view does not make
 * one element as tall as the file. It keeps a window of lines in a normal
 * scroller (native wheel, touch, keys and selection inside it) and draws
 * its own scrollbar for the whole file; these functions map between that
 * scrollbar and a place in the file. Pure, for the unit tests.
 *
 * Places are counted in *units*: lines once the server's line index is
 * complete (its `total`), bytes before (the file's size), so the scrollbar
 * spans the whole file from the first answer.
 * @module
 */

/** How the scrollbar counts the file: `total` lines, or `total` bytes while lines are still being counted. */
export interface Extent {
  unit: "line" | "byte";
  total: number;
}

/** The smallest thumb, in px, so it stays a target for a pointer however long the file. */
export const MIN_THUMB_PX = 24;

const clamp01 = (x: number) => Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;

/**
 * Where the view is as a fraction of the way down: `top` units above the
 * view and `visible` units in it, of `total`. 0 at the start, 1 when the end
 * is in view.
 * @example
 * ```ts
 * scrollFraction(450, 100, 1000); // 0.5
 * ```
 */
export function scrollFraction(top: number, visible: number, total: number): number {
  const room = total - visible;
  return room <= 0 ? (top > 0 ? 1 : 0) : clamp01(top / room);
}

/**
 * The thumb's size and position in a track of `trackPx`, for a view at
 * `fraction` that shows `visible` of `total` units.
 * @example
 * ```ts
 * thumbBox(400, 0.5, 100, 1000); // { size: 40, pos: 180 }
 * ```
 */
export function thumbBox(
  trackPx: number,
  fraction: number,
  visible: number,
  total: number,
  minPx = MIN_THUMB_PX,
): { size: number; pos: number } {
  const track = Math.max(0, trackPx);
  const share = total > 0 ? Math.min(1, Math.max(0, visible) / total) : 1;
  const size = Math.min(track, Math.max(minPx, track * share));
  return { size, pos: clamp01(fraction) * (track - size) };
}

/**
 * The fraction a pointer at `y` (px from the track's top) puts the view at,
 * `grab` px below the thumb's top being where the thumb was held (half its
 * size for a click on the track).
 * @example
 * ```ts
 * fractionAtPointer(200, 20, 400, 40); // 0.5
 * ```
 */
export function fractionAtPointer(y: number, grab: number, trackPx: number, thumbPx: number): number {
  const room = trackPx - thumbPx;
  return room <= 0 ? 0 : clamp01((y - grab) / room);
}

/** A place in the file to show: a line's number, a byte offset, or the end. */
export type Place = { line: number } | { offset: number } | { end: true };

/**
 * The place to show at the view's top for `fraction`, `visible` units being
 * in view: at 1 (or past the last full screen), the end.
 * @example
 * ```ts
 * placeAt(0.5, { unit: "line", total: 1001 }, 1);      // { line: 501 }
 * placeAt(0.25, { unit: "byte", total: 4096 }, 0);     // { offset: 1024 }
 * placeAt(1, { unit: "line", total: 1000 }, 30);       // { end: true }
 * ```
 */
export function placeAt(fraction: number, extent: Extent, visible: number): Place {
  const f = clamp01(fraction);
  const room = Math.max(0, extent.total - Math.max(0, visible));
  const at = Math.round(f * room);
  if (f >= 1 || (room > 0 && at >= room && visible > 0)) return { end: true };
  return extent.unit === "line" ? { line: at + 1 } : { offset: at };
}

/** A place as a reader reads it: "line 12,345", "73% of the file", "the end". */
export function placeLabel(place: Place, extent: Extent): string {
  if ("end" in place) return "the end";
  if ("line" in place) return `line ${place.line.toLocaleString("en")}`;
  const pct = extent.total > 0 ? Math.floor((place.offset / extent.total) * 100) : 0;
  return `${pct}% of the file`;
}

/**
 * The step a key moves the scrollbar by, as a fraction: arrows a hundredth,
 * Page keys a tenth, Home and End all the way; null for other keys.
 */
export function keyStep(key: string): number | null {
  switch (key) {
    case "ArrowUp":
    case "ArrowLeft":
      return -0.01;
    case "ArrowDown":
    case "ArrowRight":
      return 0.01;
    case "PageUp":
      return -0.1;
    case "PageDown":
      return 0.1;
    case "Home":
      return -1;
    case "End":
      return 1;
  }
  return null;
}
