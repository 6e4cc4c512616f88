/**
 * Names of watched files (docs/configuration.md#several-files) and the `--glob` pattern. Pure
 * functions: what a file is called in URLs, and which names a pattern takes.
 * @module
 */
import { resolve, sep } from "node:path";

/** Joins parent path segments to a base name in a name: never `/`, so a name is one URL path segment. */
export const NAME_JOIN = "~";

/**
 * Unique names for files given as paths: each file's base name; where two
 * collide, enough parent segments are added (joined by {@link NAME_JOIN}) to
 * make them unique: `/a/x/app.log` and `/b/x/app.log` are `a~x~app.log` and
 * `b~x~app.log`, `/a/err.log` stays `err.log`. Paths naming the same file
 * (after `resolve`) are given once. A name that still collides (a real file
 * called `x~app.log` beside a `x/app.log`) gets `~2`, `~3` appended.
 *
 * @example
 * ```ts
 * uniqueNames(["/var/log/app.log", "/srv/app.log"]);
 * // [{ name: "log~app.log", path: "/var/log/app.log" }, { name: "srv~app.log", path: "/srv/app.log" }]
 * ```
 */
export function uniqueNames(paths: readonly string[]): Array<{ name: string; path: string }> {
  const seen = new Set<string>();
  const files: Array<{ path: string; segs: string[]; depth: number }> = [];
  for (const p of paths) {
    const path = resolve(p);
    if (seen.has(path)) continue;
    seen.add(path);
    files.push({ path, segs: path.split(sep).filter(Boolean), depth: 1 });
  }
  const nameOf = (f: (typeof files)[number]) => f.segs.slice(-f.depth).join(NAME_JOIN) || f.path;
  for (let round = 0; round < 4096; round++) {
    const groups = new Map<string, typeof files>();
    for (const f of files) {
      const n = nameOf(f);
      groups.set(n, [...(groups.get(n) ?? []), f]);
    }
    let grew = false;
    for (const group of groups.values()) {
      if (group.length < 2) continue;
      for (const f of group) {
        if (f.depth < f.segs.length) {
          f.depth++;
          grew = true;
        }
      }
    }
    if (!grew) break;
  }
  const taken = new Set<string>();
  return files.map((f) => {
    const base = nameOf(f);
    let name = base;
    for (let i = 2; taken.has(name); i++) name = `${base}${NAME_JOIN}${i}`;
    taken.add(name);
    return { name, path: f.path };
  });
}

/**
 * A `--glob` pattern as a test on names: `*` (any run of characters), `?`
 * (one), `[abc]`, `[a-z]`, `[!abc]`, `{a,b}`; anything else literal. As in
 * a shell, `*` and `?` do not match a leading `.` (hidden files) unless the
 * pattern starts with one.
 * @throws {RangeError} for a pattern that cannot be read
 *
 * Why not node:path's `matchesGlob`: it is experimental in Node and not
 * present in every runtime version this runs on.
 */
export function globTest(pattern: string): (name: string) => boolean {
  let re = "";
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) {
        re += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      re += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else if (c === "{") {
      re += "(?:";
      depth++;
    } else if (c === "}" && depth > 0) {
      re += ")";
      depth--;
    } else if (c === "," && depth > 0) re += "|";
    else re += c.replace(/[.+^$()|\\{}\]]/g, "\\$&");
  }
  if (depth > 0) throw new RangeError("expected a pattern with every { closed");
  let rx: RegExp;
  try {
    rx = new RegExp(`^(?:${re})$`, "s");
  } catch {
    throw new RangeError("expected a pattern like *.log or app-{a,b}.log");
  }
  const hidden = pattern.startsWith(".");
  return (name) => (hidden || !name.startsWith(".")) && rx.test(name);
}
