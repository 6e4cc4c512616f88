/**
 * Bun entrypoint: `bun run src/bun.ts FILE`.
 * Only wiring: `run()` in src/main.ts with Bun's launcher (src/runtime/bun.ts).
 * @module
 */
import { run, type TestHooks } from "./main.ts";
import { bunLauncher } from "./runtime/bun.ts";

/**
 * Runs the server with this process's arguments. `hooks` come from code only
 * (tests/helpers/lockout_server.ts); with `--workers` the supervisor, which keeps the
 * lock-out, applies them.
 */
export function main(hooks: TestHooks = {}): void {
  run(bunLauncher(Bun, import.meta.filename), hooks);
}

if (import.meta.main) main();
