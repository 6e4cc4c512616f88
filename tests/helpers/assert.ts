/**
 * The few assertions the tests use, in @std/assert's shape (JSR is not
 * reachable here), on top of node:assert, which both runtimes provide.
 * @module
 */
import nodeAssert from "node:assert/strict";

// node:assert's overloads take `message?: Error | fn` or `message: string`,
// not `string | undefined`: pass the message only when there is one.
export function assert(cond: unknown, msg?: string): asserts cond {
  if (msg === undefined) nodeAssert.ok(cond);
  else nodeAssert.ok(cond, msg);
}
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (msg === undefined) nodeAssert.deepStrictEqual(actual, expected);
  else nodeAssert.deepStrictEqual(actual, expected, msg);
}
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (msg === undefined) nodeAssert.notDeepStrictEqual(actual, expected);
  else nodeAssert.notDeepStrictEqual(actual, expected, msg);
}
export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  if (msg === undefined) nodeAssert.match(actual, re);
  else nodeAssert.match(actual, re, msg);
}
/** Asserts that `fn` throws, and returns what it threw. */
export function assertThrows(fn: () => unknown, msg?: string): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new nodeAssert.AssertionError({ message: msg ?? "expected the function to throw" });
}
/** Asserts that `fn` rejects, and returns the reason. */
export async function assertRejects(fn: () => Promise<unknown>, msg?: string): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new nodeAssert.AssertionError({ message: msg ?? "expected the promise to reject" });
}
