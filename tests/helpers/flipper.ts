/**
 * Swaps what a path is, as fast as it can, for a time: `path` becomes a
 * symlink to `a`, then to `b`, then to `a`… (each swap a rename, so the
 * path always exists). tests/e2e/raw.test.ts runs it to swap a watched FILE
 * for a FIFO between a server's stat and its open.
 *
 * `deno run -A tests/helpers/flipper.ts PATH A B MILLISECONDS`
 * @module
 */
if (import.meta.main) {
  const [path, a, b, ms] = Deno.args;
  const until = Date.now() + Number(ms);
  const tmp = `${path}.flip`;
  for (let i = 0; Date.now() < until; i++) {
    Deno.symlinkSync(i % 2 ? b! : a!, tmp);
    Deno.renameSync(tmp, path!);
  }
  Deno.symlinkSync(a!, tmp);
  Deno.renameSync(tmp, path!);
}
