/**
 * A file's page, rendered once per version and shared by every request
 * (docs/security.md#http-bounded): rendering a 4 MiB file makes a string of
 * several MiB, and rendering it per request made memory grow with every
 * client that asked (and more with every one that did not read).
 *
 * Only the CSP nonce differs between two requests for one version, and it
 * appears in exactly two places (the `<style>` and the `<script>`), so the
 * page is rendered with a random placeholder, split around it and encoded
 * once: a response is the shared byte chunks with the request's nonce
 * between them. The big part, the escaped content, is one buffer however
 * many clients load the page, and it is streamed in views of it, never
 * copied in JavaScript.
 * @module
 */
import { randomBytes } from "node:crypto";
import { type PageInput, type PageView, renderPage } from "./page.ts";
import type { Snapshot } from "./version.ts";

/** Chunks a response is streamed in: views into the shared buffer. */
export const PAGE_CHUNK = 64 * 1024;
/** Pages kept (one per file and route, the newest version each)… */
export const MAX_PAGES = 16;
/** …and at most this many bytes of them; the least recently used go first (the newest is always kept). */
export const MAX_PAGE_BYTES = 256 * 1024 * 1024;

/**
 * What a page is rendered from besides the version: everything in {@link PageInput} but the nonce, and the view
 * only when it is not the snapshot's text (the large-file view's last screen: src/page.ts `largePage`).
 */
export type PageRoute = Omit<PageInput, "view" | "nonce"> & { view?: PageView };

/** What the page shows of `snap`: its text (the whole file, or the tail window), or its error. */
export function viewOf(snap: Snapshot): PageView {
  return snap.ok
    ? {
      ok: true,
      lastMod: snap.lastMod,
      offset: snap.offset,
      size: snap.size,
      text: snap.text ?? new TextDecoder("utf-8").decode(snap.bytes),
      lossy: snap.text === null,
    }
    : { ok: false, error: snap.error };
}

interface Rendered {
  snap: Snapshot;
  /** The page's bytes between the nonces: three parts, each as views of at most {@link PAGE_CHUNK}. */
  parts: Uint8Array[][];
  /** Bytes without the nonces. */
  bytes: number;
}

/** A page to send: the body and its length, for one request's nonce. */
export interface PageBody {
  body: ReadableStream<Uint8Array>;
  length: number;
}

/**
 * The rendered pages, keyed by route (file name, socket and download paths,
 * the tail bound), each holding the version it was rendered for.
 *
 * @example
 * ```ts
 * const pages = new PageCache();
 * const { body, length } = pages.body(snap, { fileName, keep: 0, socketPath: "/ws" }, nonce);
 * return new Response(body, { headers: { "Content-Type": "text/html; charset=UTF-8", "Content-Length": String(length) } });
 * ```
 */
export class PageCache {
  readonly #pages = new Map<string, Rendered>();
  readonly #maxPages: number;
  readonly #maxBytes: number;
  /** Times a page was rendered (a metric: once per version, not per request). */
  renders = 0;

  constructor(maxPages = MAX_PAGES, maxBytes = MAX_PAGE_BYTES) {
    this.#maxPages = maxPages;
    this.#maxBytes = maxBytes;
  }

  /**
   * The page of `snap` for `route` with `nonce` in its two places, as a
   * stream of the shared chunks.
   * @param onDone called once when the body has been read to its end or cancelled
   */
  body(snap: Snapshot, route: PageRoute, nonce: string, onDone: () => void = () => {}): PageBody {
    const page = this.#rendered(snap, route);
    const enc = new TextEncoder().encode(nonce);
    const chunks = [...page.parts[0]!, enc, ...page.parts[1]!, enc, ...page.parts[2]!];
    let i = 0;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      onDone();
    };
    const body = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        const next = chunks[i++];
        if (next === undefined) {
          ctrl.close();
          finish();
        } else {
          ctrl.enqueue(next);
        }
      },
      cancel: finish,
    }, { highWaterMark: 0 });
    return { body, length: page.bytes + 2 * enc.length };
  }

  #rendered(snap: Snapshot, route: PageRoute): Rendered {
    const key = JSON.stringify([
      route.fileName,
      route.socketPath,
      route.rawUrl,
      route.indexPath ?? null,
      route.keepChars,
      route.large ?? null,
    ]);
    const old = this.#pages.get(key);
    if (old && old.snap === snap) {
      // Most recently used last.
      this.#pages.delete(key);
      this.#pages.set(key, old);
      return old;
    }
    const page = render(snap, route);
    this.renders++;
    this.#pages.delete(key);
    this.#pages.set(key, page);
    this.#trim();
    return page;
  }

  #trim(): void {
    let total = 0;
    for (const p of this.#pages.values()) total += p.bytes;
    for (const [key, p] of this.#pages) {
      if (this.#pages.size <= 1 || (this.#pages.size <= this.#maxPages && total <= this.#maxBytes)) break;
      this.#pages.delete(key);
      total -= p.bytes;
    }
  }
}

/** Splits a view's bytes into views of at most {@link PAGE_CHUNK}, without copying. */
function chunked(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += PAGE_CHUNK) out.push(bytes.subarray(at, at + PAGE_CHUNK));
  return out;
}

/**
 * Renders with a placeholder nonce and splits around it. The placeholder is
 * random per render and checked not to be in the text, so the content cannot
 * place a nonce; the page template puts it in exactly two places.
 */
function render(snap: Snapshot, route: PageRoute): Rendered {
  const view = route.view ?? viewOf(snap);
  let mark: string;
  do mark = randomBytes(18).toString("base64url"); while (view.ok && view.text.includes(mark));
  const html = renderPage({ ...route, view, nonce: mark });
  const pieces = html.split(mark);
  if (pieces.length !== 3) {
    throw new Error(`Cannot cache the page: its nonce appears ${pieces.length - 1} times, not 2`);
  }
  const enc = new TextEncoder();
  const parts = pieces.map((p) => chunked(enc.encode(p)));
  const bytes = parts.reduce((n, p) => n + p.reduce((m, c) => m + c.length, 0), 0);
  return { snap, parts, bytes };
}
