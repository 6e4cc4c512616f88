/**
 * The server's own list of files (docs/security.md#several-files): names → paths. A request's
 * name is only ever looked up here, never joined to a path.
 *
 * With FILE arguments the list is fixed at start. With `--dir` it is the
 * directory's listing, read again when it is older than one poll period and
 * someone asks (a page, a socket, `/files`): nobody asking costs nothing.
 * @module
 */
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { globTest, uniqueNames } from "./names.ts";
import { describeError } from "./read.ts";

/** One listed file. */
export interface FileEntry {
  name: string;
  path: string;
}

/** A file as `/files` shows it: size and version, or why it cannot be read. */
export type FileInfo =
  | { name: string; size: number; lastMod: string }
  | { name: string; error: string };

/** What a {@link Catalog} is built from. */
export interface CatalogOptions {
  files: readonly string[];
  dir: string | null;
  glob: string;
  maxFiles: number;
  /** How long a directory listing (and the sizes in `/files`) stay fresh, ms: the poll period. */
  ttl: number;
  /**
   * List DIR's files that have more than one hard link too (`--allow-hardlinks`).
   * By default they are not listed: a hard link in DIR may be any file of the filesystem.
   */
  allowHardlinks?: boolean;
  onWarning?: (message: string) => void;
}

/** The list of watched files. */
export class Catalog {
  readonly options: CatalogOptions;
  #entries = new Map<string, FileEntry>();
  #scannedAt = -Infinity;
  #scanning: Promise<void> | null = null;
  #realDir: string | null = null;
  #match: (name: string) => boolean;
  #full = false;
  #dirError = "";
  #info: { at: number; list: Promise<FileInfo[]> } | null = null;
  /** DIR's names matching the glob that were not listed, and why (said with 403 when asked for by name). */
  #refused = new Map<string, string>();

  constructor(options: CatalogOptions) {
    this.options = options;
    this.#match = globTest(options.glob);
    if (options.dir === null) {
      for (const e of uniqueNames(options.files)) this.#entries.set(e.name, e);
      this.#scannedAt = Infinity;
    }
  }

  /** The one entry of a one-FILE list. */
  get only(): FileEntry | undefined {
    return !this.isDir && this.#entries.size === 1 ? this.#entries.values().next().value : undefined;
  }

  /** How many files the list held when last read. */
  get size(): number {
    return this.#entries.size;
  }

  /** A directory (`--dir`), whose list changes; otherwise a fixed list of FILEs. */
  get isDir(): boolean {
    return this.options.dir !== null;
  }

  /**
   * DIR's real path (`--dir`), known once DIR has been listed, which every
   * entry comes from: a file served by name must still resolve inside it.
   */
  get root(): string | undefined {
    return this.#realDir ?? undefined;
  }

  /** The files now, sorted by name. */
  async entries(): Promise<FileEntry[]> {
    await this.#fresh();
    return [...this.#entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Why a name of DIR that matches the glob is not in the list (more than
   * one hard link), as of the last listing; undefined for any other name.
   */
  refusal(name: string): string | undefined {
    return this.#refused.get(name);
  }

  /** The entry named exactly `name`, if the list has one. */
  async lookup(name: string): Promise<FileEntry | undefined> {
    await this.#fresh();
    return this.#entries.get(name);
  }

  /** Every file's size and version (or error), for `/files`; shared by requests within one poll period. */
  list(): Promise<FileInfo[]> {
    const now = performance.now();
    if (this.#info && now - this.#info.at < this.options.ttl) return this.#info.list;
    const list = this.entries().then((all) => Promise.all(all.map(infoOf)));
    this.#info = { at: now, list };
    return list;
  }

  #fresh(): Promise<void> {
    if (performance.now() - this.#scannedAt < this.options.ttl) return Promise.resolve();
    this.#scanning ??= this.#scan().finally(() => {
      this.#scanning = null;
    });
    return this.#scanning;
  }

  /**
   * Reads DIR: regular files whose names match the glob, and symlinks that
   * resolve to a regular file inside DIR; without `allowHardlinks`, only
   * files with one link (a stat each). Directories, FIFOs, sockets and
   * devices are skipped without being opened; Dirent's type comes from the
   * listing itself.
   */
  async #scan(): Promise<void> {
    const dir = this.options.dir!;
    const found: FileEntry[] = [];
    const refused = new Map<string, string>();
    try {
      this.#realDir ??= await realpath(dir);
      const dirents = await readdir(dir, { withFileTypes: true });
      for (const d of dirents) {
        const name = String(d.name);
        if (!this.#match(name)) continue;
        const path = join(dir, name);
        const target = d.isFile() ? path : d.isSymbolicLink() ? await this.#inside(path) : null;
        if (target === null) continue;
        if (!this.options.allowHardlinks && await linked(target)) {
          refused.set(name, `${name}: has more than one hard link (--allow-hardlinks serves it)`);
        } else found.push({ name, path });
      }
      if (this.#dirError) this.options.onWarning?.(`${dir}: can be listed again`);
      this.#dirError = "";
    } catch (e) {
      const why = describeError(e, dir).message;
      if (why !== this.#dirError) this.options.onWarning?.(`cannot list the directory: ${why}`);
      this.#dirError = why;
    }
    found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const max = this.options.maxFiles;
    const full = found.length > max;
    if (full && !this.#full) {
      this.options.onWarning?.(
        `${dir} has ${found.length} files matching ${this.options.glob}: listing the first ${max} by name (--max-files)`,
      );
    }
    this.#full = full;
    this.#entries = new Map(found.slice(0, max).map((e) => [e.name, e]));
    this.#refused = refused;
    this.#scannedAt = performance.now();
  }

  /** A symlink is listed when it resolves to a regular file inside DIR: that file's real path, else null. */
  async #inside(path: string): Promise<string | null> {
    try {
      const real = await realpath(path);
      if (!real.startsWith(this.#realDir! + sep)) return null;
      return (await stat(real)).isFile() ? real : null;
    } catch {
      return null;
    }
  }
}

/** Whether the file at `path` (not a symlink) has more than one hard link; a file gone meanwhile counts as not. */
async function linked(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).nlink > 1;
  } catch {
    return false;
  }
}

async function infoOf(e: FileEntry): Promise<FileInfo> {
  try {
    const st = await stat(e.path, { bigint: true });
    if (!st.isFile()) return { name: e.name, error: `${e.name}: not a regular file` };
    return { name: e.name, size: Number(st.size), lastMod: st.mtimeNs.toString(16) };
  } catch (err) {
    return { name: e.name, error: describeError(err, e.name).message };
  }
}
