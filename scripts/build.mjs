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
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const bun = process.env.BUN_BIN ?? join(ROOT, "node_modules", ".bin", process.platform === "win32" ? "bun.exe" : "bun");
if (!existsSync(bun)) {
  process.stderr.write(`error: Cannot build: ${bun} is missing (run npm install, or set BUN_BIN)\n`);
  process.exit(1);
}
/**
 * Modules the server starts as Web Workers (`new Worker(new URL("./x.ts", import.meta.url))`). Bun bundles
 * only what is imported: a worker's module must be an entrypoint of its own, or the executable starts a
 * worker that is not there. Inside the executable each entrypoint keeps its path below src/
 * (`/$bunfs/root/scan/x.ts`), while `import.meta.url` in bundled code is the main entrypoint's: a worker URL
 * made relative to a module in a subdirectory must name that subdirectory to be found there.
 */
function workerModules(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...workerModules(path));
    else if (e.name.endsWith(".ts")) {
      const text = readFileSync(path, "utf8");
      for (const m of text.matchAll(/new Worker\(\s*new URL\(\s*["'](\.{1,2}\/[^"']+)["']\s*,\s*import\.meta\.url/g)) {
        out.push(relative(ROOT, join(dirname(path), m[1])));
      }
    }
  }
  return out;
}

const extra = process.argv.slice(2);
const workers = [...new Set(workerModules(join(ROOT, "src")))];
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
  ...workers.map((w) => join(ROOT, w)),
  ...outfile,
  ...extra,
], { stdio: "inherit", cwd: ROOT, env: { ...process.env, DO_NOT_TRACK: "1" } });
if (r.error) {
  process.stderr.write(`error: Cannot run ${bun}: ${r.error.message}\n`);
  process.exit(1);
}
process.exit(r.status ?? 1);
