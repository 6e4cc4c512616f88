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
import { decodeBin } from "./binstate.ts";
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

/**
 * One WebSocket frame the page received: its message type (`content`,
 * `append`, `error`; "?" for anything neither format describes) from a
 * filewatch.v1 text frame or a filewatch.bin.v1 binary one, which the strict
 * decoder of tests/helpers/binstate.ts checks (its reason is the type then).
 */
export interface SeenFrame {
  socket: number;
  type: string;
  /** A binary frame (filewatch.bin.v1, which the page offers first). */
  binary: boolean;
  /** The text of a text frame; a binary frame's bytes as hex. */
  raw: string;
  /** The version a content or append frame brings the page to (for an append: as the page reconstructs it). */
  lastMod?: string;
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
    // An append names its version relative to the one before it: at first the one the page
    // resumes from (the socket's ?lastMod=), then each content or append.
    let held = 0n;
    try {
      held = BigInt("0x" + (new URL(ws.url()).searchParams.get("lastMod") || "0"));
    } catch { /* not hex: the page holds nothing the server could extend */ }
    ws.on("framereceived", (f) => {
      if (typeof f.payload === "string") {
        let type = "?";
        let lastMod: string | undefined;
        try {
          const m = JSON.parse(f.payload);
          type = m.type ?? "?";
          lastMod = m.lastMod;
        } catch { /* not JSON: counted as "?" */ }
        w.frames.push({ socket, type, binary: false, raw: f.payload, lastMod });
        return;
      }
      const bytes = new Uint8Array(f.payload);
      const raw = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      const m = decodeBin(bytes);
      if (typeof m === "string") {
        w.frames.push({ socket, type: `? ${m}`, binary: true, raw });
        return;
      }
      if (m.type === "content") held = m.token;
      if (m.type === "append") held = (((held >> 64n) + m.delta) << 64n) | m.hash;
      const lastMod = m.type === "error" ? undefined : held.toString(16);
      w.frames.push({ socket, type: m.type, binary: true, raw, lastMod });
    });
  });
  return w;
}
