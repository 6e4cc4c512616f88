#!/usr/bin/env node
/**
 * `npm run build`: dist/filewatch, one executable that holds the Bun runtime,
 * the server and the page (`bun build --compile src/bun.ts`). It runs on a
 * machine with nothing installed, of the same OS and CPU as this one.
 *
 * Compiling for this machine uses the Bun binary that runs the build, so it
 * needs no network. Extra arguments go to `bun build`: `--target=bun-linux-arm64`
 * cross-compiles, and then Bun downloads that target's runtime first.
 *
 * Deno's `deno compile` is not used: it always downloads a separate runtime
 * (`denort`), which npm does not carry (docs/deployment.md#one-executable).
 *
 * The page's script is the committed src/client_bundle.ts; after changing
 * src/client/, run `node scripts/build-client.mjs` first.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const bun = process.env.BUN_BIN ?? join(ROOT, "node_modules", ".bin", process.platform === "win32" ? "bun.exe" : "bun");
if (!existsSync(bun)) {
  process.stderr.write(`error: Cannot build: ${bun} is missing (run npm install, or set BUN_BIN)\n`);
  process.exit(1);
}
const extra = process.argv.slice(2);
const outfile = extra.some((a) => a.startsWith("--outfile")) ? [] : ["--outfile", join(ROOT, "dist", "filewatch")];
mkdirSync(join(ROOT, "dist"), { recursive: true });
const r = spawnSync(bun, [
  "build",
  "--compile",
  // What the executable does must not depend on files that happen to lie where it is started:
  // no .env, no bunfig.toml read from the working directory at run time.
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
  join(ROOT, "src", "bun.ts"),
  ...outfile,
  ...extra,
], { stdio: "inherit", env: { ...process.env, DO_NOT_TRACK: "1" } });
if (r.error) {
  process.stderr.write(`error: Cannot run ${bun}: ${r.error.message}\n`);
  process.exit(1);
}
process.exit(r.status ?? 1);
