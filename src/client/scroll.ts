/**
 * Follow mode's one question.
 * @module
 */

/**
 * Whether a scroller showing `scrollTop`..`scrollTop + clientHeight` of
 * `scrollHeight` is at the bottom (within `slackPx`, for fractional pixels
 * and zoom).
 */
export function isAtBottom(
  scrollTop: number,
  clientHeight: number,
  scrollHeight: number,
  slackPx = 8,
): boolean {
  return scrollTop + clientHeight >= scrollHeight - slackPx;
}
