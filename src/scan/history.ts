/**
 * A file's history: the rotated generations beside it, as logrotate names
 * them — `NAME.1`, `NAME.2.gz` (numbered), `NAME-20261206`,
 * `NAME-20261206.gz` (dated; also `-YYYYMMDDHH` for hourly rotation) — and a
 * search over the file then its generations.
 *
 * A generation is only ever found in {@link listGenerations}'s answer: a
 * request's `file=` is compared with the names the directory holds, never
 * joined to a path, so `../x`, absolute paths and unknown names are simply
 * not found. Only regular files count: FIFOs, sockets, devices and
 * directories are left out, and so is a symlink unless it resolves to a
 * regular file in the same directory.
 *
 * ```ts
 * await listGenerations("/var/log/app.log");
 * // [{ name: "app.log.1", size: 1048576, mtime: 1765000000000 }, { name: "app.log.2.gz", … }]
 * const g = await findGeneration("/var/log/app.log", "app.log.2.gz"); // { name, size, mtime, path } or null
 * ```
 * @module
 */
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { isGz, searchGz } from "./gz.ts";
import { compileMatcher, type SearchEvent, type SearchFile, searchFile, type SearchQuery } from "./search.ts";

/** One rotated generation, as `/files` lists it. */
export interface Generation {
  /** Its file name in the directory (no path). */
  name: string;
  /** Its size in bytes (compressed, for a `.gz`). */
  size: number;
  /** Its modification time, in ms since the epoch. */
  mtime: number;
}

/** How a name relates to the file's: a numbered or dated generation, or none. */
export function generationKey(
  base: string,
  name: string,
): { kind: "number"; n: number } | { kind: "date"; date: string } | null {
  if (!name.startsWith(base) || name.length === base.length) return null;
  const rest = name.slice(base.length);
  const m = /^(?:\.([1-9]\d{0,5})|-(\d{8}(?:\d{2})?))(\.gz)?$/.exec(rest);
  if (!m) return null;
  if (m[1] !== undefined) return { kind: "number", n: Number(m[1]) };
  const d = m[2]!;
  // A real calendar day (and hour): 20261399 is not a date.
  const [y, mo, da, h] = [+d.slice(0, 4), +d.slice(4, 6), +d.slice(6, 8), d.length > 8 ? +d.slice(8, 10) : 0];
  const t = new Date(Date.UTC(y, mo - 1, da, h));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== da || h > 23) return null;
  return { kind: "date", date: d.padEnd(10, "0") };
}

/**
 * The rotated generations of the file at `path`, newest first: numbered ones
 * by number (`.1` is the newest), dated ones by date (newest first), and a
 * directory holding both kinds by modification time. The file itself is not
 * in the list. A directory that cannot be read gives an empty list.
 */
export async function listGenerations(path: string): Promise<Generation[]> {
  return (await scan(path)).map(({ name, size, mtime }) => ({ name, size, mtime }));
}

/**
 * {@link listGenerations} for many files at once (`/files`), reading each
 * directory once: a name is matched against the files by what it would be a
 * generation of, not against every file in turn.
 */
export async function listGenerationsOf(paths: readonly string[]): Promise<Map<string, Generation[]>> {
  const byDir = new Map<string, Set<string>>();
  for (const p of paths) {
    const dir = dirname(p);
    if (!byDir.has(dir)) byDir.set(dir, new Set());
    byDir.get(dir)!.add(basename(p));
  }
  const out = new Map<string, Generation[]>();
  await Promise.all([...byDir].map(async ([dir, bases]) => {
    const found = await scanDir(dir, bases);
    for (const base of bases) {
      const list = (found.get(base) ?? []).map(({ name, size, mtime }) => ({ name, size, mtime }));
      out.set(join(dir, base), list);
    }
  }));
  // Keys as given (join normalises, so look each path up by its own spelling too).
  return new Map(paths.map((p) => [p, out.get(join(dirname(p), basename(p))) ?? []]));
}

interface Found extends Generation {
  path: string;
  key: NonNullable<ReturnType<typeof generationKey>>;
}

/** What a generation's name is a generation of: the name without its suffix (`.N`, `-DATE`, `.gz`), or null. */
const SUFFIX = /^(.+?)(?:\.[1-9]\d{0,5}|-\d{8}(?:\d{2})?)(?:\.gz)?$/;

async function scan(path: string): Promise<Found[]> {
  const base = basename(path);
  return (await scanDir(dirname(path), new Set([base]))).get(base) ?? [];
}

/** The generations in `dir` of each of the files named `bases`, each list sorted newest first. */
async function scanDir(dir: string, bases: ReadonlySet<string>): Promise<Map<string, Found[]>> {
  let names: string[];
  let realDir: string;
  try {
    names = await readdir(dir);
    realDir = await realpath(dir);
  } catch {
    return new Map();
  }
  const byBase = new Map<string, Found[]>();
  for (const name of names) {
    const base = SUFFIX.exec(name)?.[1];
    if (base === undefined || !bases.has(base)) continue;
    const key = generationKey(base, name);
    if (!key) continue;
    const full = join(dir, name);
    try {
      const l = await lstat(full);
      let st = l;
      if (l.isSymbolicLink()) {
        // Only a link to a regular file in the same directory.
        const target = await realpath(full);
        if (dirname(target) !== realDir) continue;
        st = await stat(full);
      }
      if (!st.isFile()) continue;
      if (!byBase.has(base)) byBase.set(base, []);
      byBase.get(base)!.push({ name, path: full, size: st.size, mtime: st.mtimeMs, key });
    } catch {
      continue; // gone between readdir and lstat, or unreadable
    }
  }
  for (const found of byBase.values()) sortGenerations(found);
  return byBase;
}

/** Newest first: by number or date when all are of one kind, else by modification time. */
function sortGenerations(found: Found[]): void {
  const kinds = new Set(found.map((f) => f.key.kind));
  found.sort((a, b) => {
    if (kinds.size === 1 && a.key.kind === "number" && b.key.kind === "number") {
      return a.key.n - b.key.n || Number(isGz(a.name)) - Number(isGz(b.name));
    }
    if (kinds.size === 1 && a.key.kind === "date" && b.key.kind === "date") {
      return a.key.date < b.key.date ? 1 : a.key.date > b.key.date ? -1 : Number(isGz(a.name)) - Number(isGz(b.name));
    }
    return b.mtime - a.mtime || (a.name < b.name ? -1 : 1);
  });
}

/**
 * The generation of the file at `path` named `name`, with its path, or null:
 * `name` is only ever compared with the directory's generations.
 */
export async function findGeneration(path: string, name: string): Promise<(Generation & { path: string }) | null> {
  for (const g of await scan(path)) {
    if (g.name === name) return { name: g.name, size: g.size, mtime: g.mtime, path: g.path };
  }
  return null;
}

/** One file of a history search: the live file or a generation. */
export interface HistorySource extends SearchFile {
  /** The name matches carry as `"file"`. */
  name: string;
}

/**
 * Searches one file, plain or `.gz` (by its name), with the events of
 * `searchFile`.
 */
export function searchSource(
  src: SearchFile & { name?: string },
  query: SearchQuery,
  signal: AbortSignal,
  matcher = compileMatcher(query),
): AsyncGenerator<SearchEvent> {
  return isGz(src.name ?? src.path) ? searchGz(src, query, signal, matcher) : searchFile(src, query, signal, matcher);
}

/**
 * `history=1`: the sources in order, newest first (the live file, then its
 * generations as {@link listGenerations} gives them); a backward search goes
 * through them in that order, a forward one from the oldest to the live file.
 * `from` applies to the first file searched. Every match carries `"file"`;
 * progress counts bytes over all the files; the limit counts matches over all
 * of them, and when it stops the search `done` says `nextFile` and `next`
 * (continue with `file=nextFile&from=next&history=1`; without `next`, from
 * that file's end, or start when forward). `from` is a decompressed offset
 * in a `.gz`.
 */
export async function* searchHistory(
  sources: HistorySource[],
  query: SearchQuery,
  signal: AbortSignal,
): AsyncGenerator<SearchEvent> {
  const order = query.dir === "back" ? sources : [...sources].reverse();
  const matcher = compileMatcher(query);
  const sizes = await Promise.all(
    order.map((s) => s.size !== undefined ? s.size : stat(s.path).then((st) => st.size, () => 0)),
  );
  const total = sizes.reduce((a, b) => a + b, 0);
  let matches = 0, before = 0;
  for (let k = 0; k < order.length; k++) {
    const src = order[k]!;
    const q: SearchQuery = { ...query, from: k === 0 ? query.from : null, limit: query.limit - matches };
    let last: SearchEvent | null = null;
    for await (const ev of searchSource(src, q, signal, matcher)) {
      if ("done" in ev) {
        last = ev;
        break;
      }
      if ("text" in ev) {
        matches++;
        yield { ...ev, file: src.name };
      } else yield { scanned: before + Math.min(ev.scanned, sizes[k]!), size: total };
    }
    if (signal.aborted || last === null || !("done" in last)) return;
    if (last.error !== undefined) {
      yield { done: true, matches, scanned: before + last.scanned, error: `${src.name}: ${last.error}` };
      return;
    }
    before += sizes[k]!;
    if (matches >= query.limit) {
      if (last.next !== undefined) {
        yield { done: true, matches, scanned: before, next: last.next, nextFile: src.name };
        return;
      }
      // The limit fell on the file's last line: go on with the whole next file (no `next`).
      const following = order[k + 1];
      yield { done: true, matches, scanned: before, ...(following ? { nextFile: following.name } : {}) };
      return;
    }
  }
  yield { done: true, matches, scanned: before };
}
