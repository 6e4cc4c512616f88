/**
 * The page's connection: connect, resume, back off, apply what arrives.
 *
 * Everything the browser provides (sockets, timers, the clock, randomness,
 * `navigator.onLine`) comes in through {@link LiveEnv}, and everything it
 * shows goes out through {@link LiveView}, so the whole state machine runs
 * under `deno test` with fakes; main.ts plugs in the real ones.
 * @module
 */
import { backoffDelay, CONNECT_TIMEOUT_MS, STABLE_AFTER_MS } from "./backoff.ts";
import { decodeFrame, socketUrl, SUBPROTOCOLS } from "./protocol.ts";
import { applyMessage, type Change, type FileText } from "./text.ts";

/** Where the connection stands, as the status indicator shows it. */
export type Status = "connecting" | "connected" | "waiting" | "offline";

/** What a socket reports; {@link LiveEnv.open} wires these to a real WebSocket. */
export interface SocketEvents {
  open(): void;
  message(data: unknown): void;
  close(code: number, reason: string): void;
}

/** The browser, as the connection needs it. */
export interface LiveEnv {
  location: { protocol: string; host: string };
  /** The socket's path as the server gave it (`data-socket`); `/ws` when absent. */
  socketPath?: string;
  /**
   * Opens a WebSocket offering `protocols` (in order of preference), whose
   * binary messages arrive as ArrayBuffers; may throw (a URL the browser refuses).
   */
  open(url: string, protocols: readonly string[], on: SocketEvents): { close(): void };
  setTimer(fn: () => void, ms: number): number;
  clearTimer(id: number | undefined): void;
  now(): number;
  random(): number;
  onLine(): boolean;
}

/** What the connection shows. */
export interface LiveView {
  /** The held text changed (after `live.held` was updated). */
  change(change: Exclude<Change, { kind: "stale" }>): void;
  /** An error to show over the content, or null to clear it. */
  error(message: string | null): void;
  /** Status, retry time or close reason changed: repaint them. */
  status(): void;
}

/**
 * One page's connection to `/ws` and what it holds of the file.
 *
 * @example
 * ```ts
 * const live = new Live(env, view, held, keepChars, null);
 * live.connect();
 * addEventListener("online", () => live.reconnectNow(true));
 * ```
 */
export class Live {
  /** What the page holds; sent back as `lastMod` and `size` when it reconnects. */
  held: FileText;
  /** The error shown, if any; while there is one, the page asks for everything. */
  error: string | null;
  status: Status = "connecting";
  /** Whether any connection opened (the status then says "reconnecting", not "connecting"). */
  everConnected = false;
  /** When the scheduled retry fires (env clock), while one is scheduled. */
  retryAt: number | null = null;
  /** Why the last connection closed ("" when it did not, or said nothing). */
  closed = "";
  /** Attempts since the last stable connection: the backoff's exponent. */
  attempt = 0;

  readonly #env: LiveEnv;
  readonly #view: LiveView;
  /** The most characters to hold (0: no bound). */
  readonly #keepChars: number;
  #socket: { close(): void } | null = null;
  #openedAt = 0;
  #retry: number | undefined;
  /** Ask for everything on the next connection: what is held is not to be trusted. */
  #fresh = false;

  constructor(
    env: LiveEnv,
    view: LiveView,
    held: FileText,
    keepChars: number,
    error: string | null,
  ) {
    this.#env = env;
    this.#view = view;
    this.held = held;
    this.#keepChars = keepChars;
    this.error = error;
  }

  /** Whether a socket is open or opening. */
  get connected(): boolean {
    return this.#socket !== null;
  }

  /**
   * The URL the next connection uses: resuming from what is held, unless an
   * error is shown (if the file came back unchanged, resuming would send
   * nothing and the error would stay) or a resync is due.
   */
  url(): string {
    const resume = this.error === null && !this.#fresh && this.held.lastMod ? this.held : null;
    return socketUrl(this.#env.location, resume, this.#env.socketPath);
  }

  /** Opens a connection unless one is open or opening. */
  connect(): void {
    const env = this.#env;
    env.clearTimer(this.#retry);
    this.#retry = undefined;
    this.retryAt = null;
    if (this.#socket) return;
    let sock: { close(): void } | null = null;
    // A handshake to a host that went away (a laptop that slept, a changed
    // network) can hang for minutes before the browser gives up.
    const watchdog = env.setTimer(() => sock?.close(), CONNECT_TIMEOUT_MS);
    const mine = () => sock !== null && this.#socket === sock;
    try {
      sock = env.open(this.url(), SUBPROTOCOLS, {
        open: () => {
          env.clearTimer(watchdog);
          if (!mine()) return;
          this.#openedAt = env.now();
          this.everConnected = true;
          this.closed = "";
          this.#setStatus("connected");
        },
        message: (data) => {
          if (mine()) this.#onMessage(data);
        },
        close: (code, reason) => {
          env.clearTimer(watchdog);
          if (!mine()) return;
          this.#socket = null;
          // Only a connection that lived a while proves the server is healthy;
          // one that dies at once must not reset the backoff into a tight loop.
          if (this.#openedAt && env.now() - this.#openedAt > STABLE_AFTER_MS) {
            this.attempt = 0;
          }
          this.#openedAt = 0;
          this.closed = code ? `closed: ${code}${reason ? " " + reason : ""}` : "";
          this.#schedule();
        },
      });
    } catch (e) {
      env.clearTimer(watchdog);
      this.closed = String(e);
      this.#schedule();
      return;
    }
    this.#socket = sock;
    this.#setStatus("connecting");
  }

  /**
   * Connects now instead of waiting for the scheduled retry; `fresh` also
   * replaces an open socket (after the network came back, it may be dead
   * without knowing it: no close arrives until TCP gives up).
   */
  reconnectNow(fresh: boolean): void {
    if (this.#socket && fresh) {
      const old = this.#socket;
      this.#socket = null; // its close event is now ignored
      old.close();
    }
    if (this.#socket) return;
    this.attempt = 0;
    this.connect();
  }

  /** The browser went offline: say so while no socket is up. */
  wentOffline(): void {
    if (!this.#socket) this.#setStatus("offline");
  }

  #setStatus(status: Status): void {
    this.status = status;
    this.#view.status();
  }

  #schedule(): void {
    const env = this.#env;
    const delay = backoffDelay(this.attempt++, env.random());
    this.retryAt = env.now() + delay;
    env.clearTimer(this.#retry);
    this.#retry = env.setTimer(() => this.connect(), delay);
    // Offline pages keep trying (a server on this machine needs no network),
    // but say why they are not connected; "online" retries at once.
    this.#setStatus(env.onLine() ? "waiting" : "offline");
  }

  #onMessage(frame: unknown): void {
    const msg = decodeFrame(frame, this.held);
    if (!msg) return;
    if (msg.type === "error") {
      this.error = msg.message;
      this.#view.error(msg.message);
      this.#view.status();
      return;
    }
    const change = applyMessage(this.held, msg, this.#keepChars);
    if (change.kind === "stale") {
      // Not for what this page holds (it missed something): start over with
      // the whole file rather than guess.
      this.#fresh = true;
      this.reconnectNow(true);
      return;
    }
    this.held = change.held;
    if (msg.type === "content") this.#fresh = false;
    if (this.error !== null) {
      this.error = null;
      this.#view.error(null);
    }
    this.#view.change(change);
    this.#view.status();
  }
}
