/**
 * File events, one `fs.watch` per directory shared by every watcher of a file
 * in it (docs/detection.md#watching-and-reading): a thousand files viewed in one directory cost one
 * watch, not a thousand (each an inotify instance, of which Linux allows 128
 * per user by default, and each handed every event of the directory).
 * @module
 */
import { type FSWatcher, watch as fsWatch } from "node:fs";

/** Told about events on one file name (or on the directory, when the runtime gives no name). */
export interface DirListener {
  onEvent(): void;
  /** The shared watch failed and is gone: fall back to polling. */
  onError(e: Error): void;
}

interface Shared {
  fsw: FSWatcher;
  byName: Map<string, Set<DirListener>>;
}

const dirs = new Map<string, Shared>();

/**
 * Calls `listener.onEvent()` for events on `name` in `dir` until the
 * returned function is called. Throws what `fs.watch` throws (ENOSPC, a
 * missing directory), so the caller can poll instead.
 */
export function watchName(dir: string, name: string, listener: DirListener): () => void {
  let shared = dirs.get(dir);
  if (!shared) {
    const byName = new Map<string, Set<DirListener>>();
    const fsw = fsWatch(dir, { persistent: false }, (_type, filename) => {
      // Deno's node:fs watch still delivers an event queued before close():
      // a closed watch must reach nobody.
      if (dirs.get(dir)?.fsw !== fsw) return;
      const targets = filename === null || filename === undefined
        ? [...byName.values()].flatMap((s) => [...s])
        : [...byName.get(String(filename)) ?? []];
      for (const l of targets) l.onEvent();
    });
    shared = { fsw, byName };
    dirs.set(dir, shared);
    const s = shared;
    fsw.on("error", (e) => {
      if (dirs.get(dir) === s) dirs.delete(dir);
      try {
        fsw.close();
      } catch { /* already closed */ }
      for (const set of byName.values()) for (const l of set) l.onError(e as Error);
      byName.clear();
    });
  }
  const s = shared;
  let set = s.byName.get(name);
  if (!set) s.byName.set(name, set = new Set());
  set.add(listener);
  return () => {
    const current = s.byName.get(name);
    if (!current?.delete(listener)) return;
    if (current.size === 0) s.byName.delete(name);
    if (s.byName.size === 0 && dirs.get(dir) === s) {
      dirs.delete(dir);
      try {
        s.fsw.close();
      } catch { /* already closed */ }
    }
  };
}

/** How many directories are being watched (for tests). */
export function watchedDirs(): number {
  return dirs.size;
}
