/**
 * `--base-path /PREFIX` (docs/operations.md#http-routes): the whole app is mounted under the
 * prefix, with the middleware that must run in front of every route
 * (trusted proxies, authentication), so routes added to the app later are
 * covered without edits.
 *
 * The prefix is taken off the path before routing (Hono's `getPath`), so the
 * app's routes, its 404/405 answers and `c.req.path` are the same with or
 * without a prefix. The request itself is never rewritten: the runtimes can
 * only upgrade the very Request object they handed in.
 * @module
 */
import { Hono, type MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { getPath } from "hono/utils/url";
import type { Logger } from "./log.ts";

/**
 * Checks a `--base-path`: starts with `/`, no trailing `/` (unless it is `/`),
 * no empty, `.` or `..` segments, only URL-safe characters.
 * @returns the prefix without a trailing slash: "" for `/`
 * @throws {RangeError} why not
 */
export function parseBasePath(text: string): string {
  if (text === "/") return "";
  if (!text.startsWith("/")) throw new RangeError('expected a path that starts with "/", like /logs');
  if (text.endsWith("/")) throw new RangeError('expected no trailing "/" (use /logs, not /logs/)');
  if (!/^[A-Za-z0-9/._~-]+$/.test(text)) {
    throw new RangeError("expected letters, digits and - . _ ~ between slashes (no spaces, % or query)");
  }
  if (text.split("/").slice(1).some((s) => s === "" || s === "." || s === "..")) {
    throw new RangeError('expected no empty, "." or ".." segments');
  }
  return text;
}

/**
 * The app under `base` ("" = the root) behind `middleware`, in that order.
 * `GET /PREFIX` redirects to `/PREFIX/` (where the page is, and what proxies
 * forward); anything outside the prefix is 404. `front` runs before even
 * that, on every request whatever its path (the Host check: a misdirected
 * request learns nothing, not even where the prefix is).
 *
 * @example
 * ```ts
 * const root = mount(createApp(options, deps), "/logs", [authenticate(…)], log);
 * Deno.serve(root.fetch); // the page is at /logs/, its socket at /logs/ws
 * ```
 */
export function mount(
  app: Hono,
  base: string,
  middleware: MiddlewareHandler[],
  log: Logger,
  front: MiddlewareHandler[] = [],
): Hono {
  const strip = (path: string) => base === "" ? path : path.startsWith(base + "/") ? path.slice(base.length) : path;
  const root = new Hono({ getPath: (req) => strip(getPath(req)) });
  for (const m of front) root.use("*", m);
  if (base !== "") {
    root.use("*", async (c, next) => {
      const path = getPath(c.req.raw);
      if (path === base) {
        const search = new URL(c.req.url).search;
        return c.redirect(`${base}/${search}`, 301);
      }
      if (!path.startsWith(base + "/")) return c.text(`Not Found: ${path} (this server lives under ${base}/)\n`, 404);
      await next();
    });
  }
  for (const m of middleware) root.use("*", m);
  root.route("/", app);
  root.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    log.error("request failed", { path: c.req.path, error: String(err?.message ?? err) });
    return c.text("Internal Server Error\n", 500);
  });
  return root;
}
