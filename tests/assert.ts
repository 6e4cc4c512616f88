/**
 * The few assertions the tests use, in @std/assert's shape (JSR is not
 * reachable here), on top of node:assert, which both runtimes provide.
 * @module
 */
import nodeAssert from "node:assert/strict";

export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, msg);
}
export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  nodeAssert.match(actual, re, msg);
}
export async function assertRejects(fn: () => Promise<unknown>, msg?: string): Promise<unknown> {
  let err: unknown;
  await nodeAssert.rejects(async () => {
    try {
      await fn();
    } catch (e) {
      err = e;
      throw e;
    }
  }, msg);
  return err;
}
export function assertThrows(fn: () => unknown, msg?: string): unknown {
  let err: unknown;
  nodeAssert.throws(() => {
    try {
      fn();
    } catch (e) {
      err = e;
      throw e;
    }
  }, msg);
  return err;
}
