/**
 * Deno entrypoint: `deno task start FILE`, or
 * `deno run --allow-net --allow-read --allow-env src/deno.ts FILE`
 * (`--workers N` needs `--allow-run` too: it starts Deno again per worker).
 * Only wiring: `run()` in src/main.ts with Deno's launcher (src/runtime/deno.ts).
 * @module
 */
import { run, type TestHooks } from "./main.ts";
import { denoLauncher } from "./runtime/deno.ts";

/**
 * Runs the server with this process's arguments. `hooks` come from code only
 * (tests/helpers/lockout_server.ts); with `--workers` the supervisor, which keeps the
 * lock-out, applies them.
 */
export function main(hooks: TestHooks = {}): void {
  run(denoLauncher(import.meta.filename!), hooks);
}

if (import.meta.main) main();
