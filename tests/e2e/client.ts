/**
 * A recording WebSocket client (npm `ws`, as the issue asks: a real,
 * independent implementation, with `autoPong` and raw headers).
 * @module
 */
import WebSocket from "ws";

export interface Received {
  data: string | Uint8Array;
  binary: boolean;
  at: number;
}

export interface Client {
  ws: WebSocket;
  messages: Received[];
  /** The handshake's response status when the upgrade was refused. */
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string; at: number }>;
  /** Resolves with the message at index `i` (waits up to `ms`). */
  message(i: number, ms?: number): Promise<Received>;
  /** The i-th message parsed as filewatch.v1 JSON. */
  json(i: number, ms?: number): Promise<Record<string, unknown>>;
  close(): void;
}

export function connect(
  url: string,
  opts: { protocols?: string[]; headers?: Record<string, string>; autoPong?: boolean; lastMod?: string } = {},
): Client {
  const u = opts.lastMod !== undefined ? `${url}?lastMod=${encodeURIComponent(opts.lastMod)}` : url;
  const ws = new WebSocket(u, opts.protocols ?? [], { headers: opts.headers, autoPong: opts.autoPong ?? true });
  const messages: Received[] = [];
  const waiters: Array<() => void> = [];
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    messages.push({ data: isBinary ? new Uint8Array(data) : data.toString("utf8"), binary: isBinary, at: Date.now() });
    for (const w of waiters.splice(0)) w();
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once(
      "unexpected-response",
      (_req: unknown, res: { statusCode: number }) =>
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })),
    );
    ws.once("error", (e: Error) => reject(e));
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) => {
    ws.once("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString(), at: Date.now() }));
  });
  const message = async (i: number, ms = 5_000) => {
    const end = Date.now() + ms;
    while (messages.length <= i) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no message #${i} within ${ms}ms (have ${messages.length})`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return messages[i]!;
  };
  return {
    ws,
    messages,
    opened,
    closed,
    message,
    async json(i, ms) {
      const m = await message(i, ms);
      if (m.binary) throw new Error("expected a text frame");
      return JSON.parse(m.data as string);
    },
    close() {
      ws.close();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
