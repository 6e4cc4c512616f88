/**
 * The server with its lock-out scaled from a minute down to 2 s, for the
 * lock-out case of tests/e2e/auth.test.ts, which cannot wait a minute. Run it
 * as the runtime's entrypoint would be run (`deno run … tests/helpers/lockout_server.ts
 * FILE`, `bun run tests/helpers/lockout_server.ts FILE`): it calls that
 * entrypoint's `main` with the policy, which only code can pass (no flag and
 * no variable weakens the lock-out of a real server).
 * @module
 */
import { scaledLockout } from "../../src/auth.ts";
import type { TestHooks } from "../../src/main.ts";

/** The lock-out, its window and its delays, as the test expects them. */
export const TEST_LOCKOUT_MS = 2_000;

if (import.meta.main) {
  // A specifier in a variable: Deno's type check does not follow it into src/bun.ts, which only Bun can check.
  const entry = "Bun" in globalThis ? "../../src/bun.ts" : "../../src/deno.ts";
  const { main } = await import(entry) as { main: (hooks: TestHooks) => void };
  main({ lockout: scaledLockout(TEST_LOCKOUT_MS) });
}
