/**
 * When the page retries a lost connection.
 * @module
 */

/** A handshake that has not completed in this long is abandoned and retried. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** A connection that stayed open this long resets the backoff to its start. */
export const STABLE_AFTER_MS = 5_000;

/**
 * Delay before reconnection attempt `attempt` (0 = the first retry), in ms.
 *
 * Exponential from `baseMs`, capped at `capMs`, with "equal jitter": half the
 * delay is fixed, half is random, so every page that lost the same server does
 * not knock on its door in the same millisecond when it comes back, yet no
 * page retries in a tight loop.
 *
 * @param random a number in [0, 1), normally `Math.random()`
 * @example
 * ```ts
 * backoffDelay(0, 0);     // 250
 * backoffDelay(3, 0.999); // ≈ 4000
 * backoffDelay(50, 0.5);  // 22500 (capped at 30 s)
 * ```
 */
export function backoffDelay(
  attempt: number,
  random: number,
  baseMs = 500,
  capMs = 30_000,
): number {
  const n = Math.max(0, Math.min(attempt, 30)); // 2 ** 30 is already far past any cap
  const ceiling = Math.min(capMs, baseMs * 2 ** n);
  const r = Math.min(Math.max(random, 0), 1);
  return Math.round(ceiling / 2 + (ceiling / 2) * r);
}
