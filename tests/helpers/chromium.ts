/**
 * Real Chromium for the page tests: Debian's package driven by playwright-core
 * (no browser download; the npm registry is the only one these machines reach).
 *
 * Each launch gets a fresh profile: Playwright's `launch()` creates a new
 * temporary `--user-data-dir` itself and deletes it on close (it refuses the
 * flag in `args` for that reason).
 * @module
 */
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { ROOT } from "./harness.ts";

/** The browser binary; `FILEWATCH_CHROMIUM` overrides it (e.g. a Chrome for Testing build). */
export const CHROMIUM = Deno.env.get("FILEWATCH_CHROMIUM") ?? "/usr/bin/chromium";

/** Quiet, hermetic, no GPU, no sandbox (CI containers run as root). */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Where screenshots go (git-ignored). */
export const ARTIFACTS = `${ROOT}artifacts/`;

/** Starts Chromium, with a clear message when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Cannot find Chromium at "${CHROMIUM}": install it (apt-get install chromium) or set FILEWATCH_CHROMIUM`,
    );
  }
  return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000 });
}

/** One WebSocket frame the page received, decoded when it is filewatch.v1 JSON. */
export interface SeenFrame {
  socket: number;
  type: string;
  raw: string;
}

/** A page plus everything the tests watch it do. */
export interface Watched {
  context: BrowserContext;
  page: Page;
  /** Every WebSocket the page opened, in order. */
  sockets: string[];
  /** Every frame the page received. */
  frames: SeenFrame[];
  /** Every URL the page requested. */
  requests: string[];
  /** Uncaught exceptions in the page. */
  pageErrors: string[];
  /** Content-Security-Policy violations the browser reported. */
  cspViolations: string[];
}

/** Opens a page in a fresh context and records its sockets, frames, requests and errors. */
export async function watchedPage(
  browser: Browser,
  options: {
    javaScriptEnabled?: boolean;
    colorScheme?: "light" | "dark";
    /** Basic credentials the browser answers a 401 with (the access tests). */
    httpCredentials?: { username: string; password: string };
    /** Accept the test's own self-signed certificate. */
    ignoreHTTPSErrors?: boolean;
  } = {},
): Promise<Watched> {
  const context = await browser.newContext({
    viewport: { width: 1100, height: 640 },
    javaScriptEnabled: options.javaScriptEnabled ?? true,
    colorScheme: options.colorScheme ?? "light",
    httpCredentials: options.httpCredentials,
    ignoreHTTPSErrors: options.ignoreHTTPSErrors,
  });
  const page = await context.newPage();
  const w: Watched = { context, page, sockets: [], frames: [], requests: [], pageErrors: [], cspViolations: [] };
  page.on("request", (r) => w.requests.push(r.url()));
  page.on("pageerror", (e) => w.pageErrors.push(String(e)));
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) w.cspViolations.push(m.text());
  });
  page.on("websocket", (ws) => {
    const socket = w.sockets.push(ws.url()) - 1;
    ws.on("framereceived", (f) => {
      const raw = typeof f.payload === "string" ? f.payload : new TextDecoder().decode(f.payload);
      let type = "?";
      try {
        type = JSON.parse(raw).type ?? "?";
      } catch { /* not JSON: counted as "?" */ }
      w.frames.push({ socket, type, raw });
    });
  });
  return w;
}
