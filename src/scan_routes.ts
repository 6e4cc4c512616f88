/**
 * The routes that read any part of a file, of any size (docs/protocol.md,
 * "Reading any part of the file" and "Search"): `GET /lines`, `/time` and
 * `/search` (`/{route}/{name}` with several files), `&file=GEN` on those and
 * on `/raw` (a rotated generation, by a name from its list), and the
 * generations `/files` lists.
 *
 * The reading is src/scan/'s. This module picks the file or generation a
 * request names, opens it (always with src/raw.ts `openForRead`, so these
 * routes refuse what `/raw` refuses), keeps the line indexes of the
 * generations it read (a live file's is on its channel, src/channels.ts),
 * holds searches to their limits, and turns answers and failures into
 * responses: a bad query 400, an unknown generation 404, an index not there
 * yet 503 with `Retry-After`, a file without stamps 422, too many searches
 * 429, each with a one-line reason.
 *
 * `createApp` (src/app.ts) mounts it before its own `/raw`, and says which
 * file a request names ({@link ScanRoutesDeps.fileOf}).
 * @module
 */
import { type Context, Hono, type Next } from "hono";
import { dirname, join } from "node:path";
import { setTimeout as later } from "node:timers";
import type { Catalog, FileInfo } from "./catalog.ts";
import type { Channel } from "./channels.ts";
import type { IndexHandle } from "./scan/_file.ts";
import { type OpenedFile, openForRead, rawFile } from "./raw.ts";
import { describeError } from "./read.ts";
import type { Runtime } from "./runtime/types.ts";
import { gzLines, gzTime, isGz } from "./scan/gz.ts";
import { findGeneration, type Generation, listGenerations, listGenerationsOf } from "./scan/history.ts";
import { IndexPendingError } from "./scan/line_index.ts";
import { parseLinesQuery } from "./scan/lines.ts";
import { LogFile, mtimeToken, scanErrorStatus } from "./scan/log_file.ts";
import { ndjsonBody, parseSearchQuery, SearchLimiter } from "./scan/search.ts";
import { type LineOf, runSearch } from "./search_pool.ts";
import { parseTimeQuery } from "./scan/time.ts";
import { tokenMtimeNs } from "./version.ts";

/** A file a request names: the one file, or one of the list. */
export interface ServedFile {
  /** Its name, as `/files` lists it. */
  name: string;
  path: string;
  /** `--dir`'s real path: the file must be inside it when it is opened. */
  root?: string;
  /** `--allow-hardlinks`: under `--dir`, a file with more than one hard link is read too. */
  allowHardlinks?: boolean;
  /** Its channel, which keeps its line index. */
  channel: Channel;
}

/** What {@link scanRoutes} needs from the app. */
export interface ScanRoutesDeps {
  runtime: Pick<Runtime, "clientAddress">;
  /**
   * The file a request names (`/{route}/{name}`, or the one file for
   * `/{route}`), or the answer that refuses it: the same names and refusals
   * as `/raw` and `/ws`.
   */
  fileOf(c: Context, route: string): Promise<ServedFile | Response>;
  /** At most 2 searches per client and 4 per core at once, by default. */
  limiter?: SearchLimiter;
  /** A streamed answer as the app sends it (it holds the request's place until sent: src/http_limits.ts). */
  streamed?: (c: Context, res: Response) => Response;
}

/** Generations whose line index is kept (a live file's index is its channel's). */
export const GENERATION_INDEXES = 8;
/** A generation's index unused this long is dropped. */
export const GENERATION_IDLE_MS = 5 * 60_000;

const TEXT = { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" };
const say = (status: number, text: string, headers: Record<string, string> = {}) =>
  new Response(text + "\n", { status, headers: { ...TEXT, ...headers } });

/** The file or generation a request reads. */
interface Picked {
  /** Its name: the served file's, or the generation's (what `/files` lists). */
  name: string;
  path: string;
  root?: string;
  allowHardlinks?: boolean;
  /** Compressed: read as a stream, no line index. */
  gz: boolean;
  /** Its line index (plain files), got when first needed: a history search lists more generations than it reads. */
  log: (() => LogFile) | null;
  /** The live file's channel (its versions name `lastMod`); null for a generation. */
  channel: Channel | null;
  /** A generation's size and mtime as listed. */
  listed?: Generation;
}

/**
 * The routes (see the module comment), as a Hono app to mount at the root
 * of `createApp`'s, before its `/raw` routes.
 */
export function scanRoutes(deps: ScanRoutesDeps): Hono {
  const app = new Hono();
  const generations = new GenerationIndexes();
  const limiter = deps.limiter ?? new SearchLimiter();
  const streamed = deps.streamed ?? ((_c: Context, res: Response) => res);

  /** The live file, its line index on its channel. */
  const live = (file: ServedFile): Picked => ({
    ...file,
    gz: false,
    log: () => file.channel.logFile(() => new LogFile(file.path, { open: indexOpener(file) })),
    channel: file.channel,
  });
  /** A generation listed beside `file` (a name from the directory's own listing), its line index kept here. */
  const generation = (file: ServedFile, g: Generation & { path: string }): Picked => {
    const gz = isGz(g.name);
    const p = { name: g.name, path: g.path, root: file.root, allowHardlinks: file.allowHardlinks };
    const listed = { name: g.name, size: g.size, mtime: g.mtime };
    return { ...p, gz, log: gz ? null : () => generations.get(p), channel: null, listed };
  };

  /** The file a request reads: the served file, or the generation `file=` names. */
  async function pick(file: ServedFile, params: URLSearchParams): Promise<Picked | Response> {
    const names = params.getAll("file");
    if (names.length > 1) return say(400, `Bad Request: "file" is given more than once`);
    const name = names[0];
    // The live file by its own name: where a history search's nextFile may point.
    if (name === undefined || name === file.name) return live(file);
    // A name is only ever compared with the directory's generations of this file, never joined to a path.
    const gen = name === "" ? null : await findGeneration(file.path, name);
    if (!gen) {
      return say(404, `Not Found: ${file.name} has no generation of that name (its generations are in /files)`);
    }
    return generation(file, gen);
  }

  const opened = (p: Picked) => openForRead(p.path, p.name, p.root, p.allowHardlinks);

  /** A failure while reading as its answer: the scan's own statuses, else 503 with the reason. */
  function failure(e: unknown, p: Picked): Response {
    const s = scanErrorStatus(e);
    if (s) return say(s.status, s.reason, s.retryAfterS ? { "Retry-After": String(s.retryAfterS) } : {});
    // zlib's codes (Z_DATA_ERROR, …): a .gz that is not gzip is not worth asking again.
    const code = String((e as { code?: unknown })?.code ?? "");
    if (code.startsWith("Z_")) return say(422, `Unprocessable Content: ${p.name}: ${(e as Error).message}`);
    const why = code ? describeError(e, p.name).message : `${p.name}: ${(e as Error)?.message ?? e}`;
    return say(503, `Service Unavailable: ${why}`);
  }

  /** Runs `fn` with the file picked for the request, as the route's answer. */
  const withFile = (
    route: string,
    fn: (p: Picked, params: URLSearchParams, c: Context, file: ServedFile) => Promise<Response>,
  ) =>
  async (c: Context) => {
    const file = await deps.fileOf(c, route);
    if (file instanceof Response) return file;
    const params = new URL(c.req.url).searchParams;
    const p = await pick(file, params);
    if (p instanceof Response) return p;
    try {
      return await fn(p, params, c, file);
    } catch (e) {
      return failure(e, p);
    }
  };

  const lines = withFile("/lines", async (p, params) => {
    const q = parseLinesQuery(params);
    if ("error" in q) return say(400, q.error);
    if (p.gz) {
      const a = await gzLines(gzSource(p), q.query, unstopped);
      return json({ size: a.size, lastMod: mtimeToken(p.listed!.mtime), total: a.total, lines: a.lines });
    }
    const o = await opened(p);
    if (o instanceof Response) return o;
    try {
      return json(await p.log!().lines(o, q.query, { lastMod: versionOf(p.channel, o) }));
    } finally {
      await o.fh.close().catch(() => {});
    }
  });

  const time = withFile("/time", async (p, params) => {
    const q = parseTimeQuery(params.get("t"));
    if ("error" in q) return say(400, q.error);
    if (p.gz) {
      const found = await gzTime(gzSource(p), q.t, { mtimeMs: p.listed!.mtime }, unstopped);
      return json(found ? { n: found.n, offset: found.offset, t: new Date(found.t).toISOString() } : nothing);
    }
    const o = await opened(p);
    if (o instanceof Response) return o;
    try {
      return json(await p.log!().time(o, q.t));
    } finally {
      await o.fh.close().catch(() => {});
    }
  });

  const search = withFile("/search", async (p, params, c, file) => {
    // `from` is checked against the first file searched, once it is known (see below).
    const parsed = parseSearchQuery(params, Number.MAX_SAFE_INTEGER);
    if (!parsed.ok) return say(400, parsed.reason);
    const query = parsed.query;
    // The files searched, as history=1 goes through them: the live file, then its generations newest
    // first (a `fwd` search the other way); `file=` starts at that one.
    let chosen: Picked[] = [p];
    if (query.history) {
      // Paths from the directory's own listing of names, never from the request.
      const gens = await listGenerations(file.path);
      const all = [live(file), ...gens.map((g) => generation(file, { ...g, path: join(dirname(file.path), g.name) }))];
      // Without `file=`, all of them (a `fwd` search then starts at the oldest).
      const k = params.has("file") ? Math.max(0, all.findIndex((x) => x.name === p.name)) : -1;
      chosen = k < 0 ? all : query.dir === "back" ? all.slice(k) : all.slice(0, k + 1);
    }
    const first = query.dir === "back" || !query.history ? chosen[0]! : chosen.at(-1)!;
    // The first plain file searched is looked at now: its size bounds `from`, and a refusal is a status.
    let firstSize: number | undefined;
    if (!first.gz) {
      const o = await opened(first);
      if (o instanceof Response) return o;
      await o.fh.close().catch(() => {});
      firstSize = o.size;
      if (query.from !== null && query.from > o.size) {
        return say(400, `Cannot search: "from" must be an integer from 0 to ${o.size}, got "${query.from}"`);
      }
    }
    const headers = {
      "Content-Type": "application/x-ndjson",
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    };
    // Hono answers HEAD with the GET answer minus its body, which nobody would read: no search for it.
    if (c.req.method === "HEAD") return new Response(null, { headers });
    const slot = limiter.acquire(deps.runtime.clientAddress(c));
    if (!slot.ok) return say(slot.status, slot.reason, { "Retry-After": String(slot.retryAfterS) });
    const sources = chosen.map((x) => ({
      path: x.path,
      name: x.name,
      size: x === first ? firstSize : x.listed?.size,
      root: x.root,
      allowHardlinks: x.allowHardlinks,
      numbered: x.log !== null,
    }));
    // The worker's questions for line numbers: this thread's line index, of the very file the search opened.
    const lineOf: LineOf = async (k, offset, who, signal) => {
      const x = chosen[k]!;
      const o = await opened(x);
      if (o instanceof Response) throw new Error((await o.text()).trim());
      try {
        if (o.dev !== who.dev || o.ino !== who.ino) throw new IndexPendingError("The file was replaced", 1);
        return await x.log!().lineOf(o, offset, { signal });
      } finally {
        await o.fh.close().catch(() => {});
      }
    };
    // A client that leaves cancels the body stream, which aborts the search (ndjsonBody): on both
    // runtimes (tests/e2e/search.test.ts). Not the request's signal: Deno's also aborts when an answer
    // was sent in full, and warns that this is about to change.
    const controller = new AbortController();
    const events = runSearch({ sources, query, history: query.history }, controller.signal, lineOf);
    const body = ndjsonBody(events, controller, () => slot.release());
    return streamed(c, new Response(body, { headers }));
  });

  for (const [route, handler] of [["/lines", lines], ["/time", time], ["/search", search]] as const) {
    app.get(route, handler);
    app.get(`${route}/:name`, handler);
  }

  // `/raw?file=GEN`: a generation's bytes (compressed, for a .gz), with Range, as /raw sends the file's;
  // without `file=`, /raw is createApp's own (next()).
  const raw = withFile(
    "/raw",
    async (p, _params, c) => streamed(c, await rawFile(c.req.raw, p.path, p.name, p.root, p.allowHardlinks)),
  );
  const rawGeneration = async (c: Context, next: Next) => {
    if (c.req.query("file") === undefined) return await next();
    return await raw(c);
  };
  app.get("/raw", rawGeneration);
  app.get("/raw/:name", rawGeneration);
  return app;
}

/**
 * A `.gz` read for `/lines` or `/time` runs to its end (a moment for a
 * generation); the request's own signal is not used (see the search).
 */
const unstopped = new AbortController().signal;

/** `/time`'s answer when every stamped line is earlier than asked. */
const nothing = { n: null, offset: null, t: null };

const json = (body: unknown) =>
  new Response(JSON.stringify(body), {
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
  });

/** How a `.gz` generation is read: opened with `/raw`'s checks. */
const gzSource = (p: Picked) => ({ path: p.path, open: indexOpener(p) });

/**
 * Opens a file for its line index's builds and for streamed reads, with the
 * checks `/raw` makes (src/raw.ts `openForRead`), or throws its reason.
 */
function indexOpener(f: { path: string; name: string; root?: string; allowHardlinks?: boolean }) {
  return async (): Promise<IndexHandle> => {
    const o = await openForRead(f.path, f.name, f.root, f.allowHardlinks);
    if (o instanceof Response) throw new Error((await o.text()).trim());
    return o.fh;
  };
}

/**
 * The `lastMod` of an answer read from `o`: the version's token when the
 * file's watcher holds that very state (the token `/ws` names it by), else
 * the mtime in hex ns, as `/files` gives it.
 */
function versionOf(channel: Channel | null, o: OpenedFile): string {
  const snap = channel?.watcher.snapshot;
  if (snap?.ok && snap.size === o.size && tokenMtimeNs(snap.lastMod) === BigInt(Math.trunc(o.mtimeMs)) * 1_000_000n) {
    return snap.lastMod;
  }
  return mtimeToken(o.mtimeMs);
}

/**
 * The line indexes of the generations requests read: at most
 * {@link GENERATION_INDEXES}, the least recently used dropped first, each
 * dropped after {@link GENERATION_IDLE_MS} unused. A generation renamed by
 * the next rotation is another file under its old name: its index notices
 * (another device and inode) and starts again.
 */
class GenerationIndexes {
  readonly #logs = new Map<string, { log: LogFile; idle: ReturnType<typeof later> }>();

  get(f: { path: string; name: string; root?: string; allowHardlinks?: boolean }): LogFile {
    const path = f.path;
    let e = this.#logs.get(path);
    if (e) {
      clearTimeout(e.idle);
      this.#logs.delete(path);
    }
    const log = e?.log ?? new LogFile(path, { open: indexOpener(f) });
    const idle = later(() => this.#drop(path), GENERATION_IDLE_MS);
    idle.unref?.();
    e = { log, idle };
    this.#logs.set(path, e);
    for (const [p] of this.#logs) {
      if (this.#logs.size <= GENERATION_INDEXES) break;
      this.#drop(p);
    }
    return log;
  }

  #drop(path: string): void {
    const e = this.#logs.get(path);
    if (!e) return;
    clearTimeout(e.idle);
    e.log.dispose();
    this.#logs.delete(path);
  }
}

/** `/files`' entries: each readable file with its rotated generations. */
export type ListedFile =
  | (FileInfo & { error: string })
  | (Exclude<FileInfo, { error: string }> & {
    generations: Generation[];
  });

/**
 * `/files` with each file's generations (`"generations":[{"name","size","mtime"}]`),
 * worked out once per listing of the catalog (its list is shared for one poll period).
 */
export function fileLister(catalog: Catalog): () => Promise<ListedFile[]> {
  let memo: { of: Promise<FileInfo[]>; out: Promise<ListedFile[]> } | null = null;
  return () => {
    const of = catalog.list();
    if (memo?.of !== of) {
      const out = of.then(async (infos) => {
        const entries = await catalog.entries();
        const pathOf = new Map(entries.map((e) => [e.name, e.path]));
        const gens = await listGenerationsOf(entries.map((e) => e.path));
        return infos.map((i): ListedFile => {
          if ("error" in i) return i;
          const path = pathOf.get(i.name);
          return { ...i, generations: (path && gens.get(path)) || [] };
        });
      });
      memo = { of, out };
    }
    return memo.out;
  };
}
