/**
 * A recording WebSocket client (npm `ws`, as the issue asks: a real,
 * independent implementation, with `autoPong` and raw headers).
 *
 * On a filewatch.v1 connection every text frame is checked against the
 * protocol's JSON Schema as it arrives (tests/helpers/schema.ts); on a
 * filewatch.bin.v1 connection every frame goes through the strict decoder of
 * tests/helpers/binstate.ts. A frame either refuses is recorded in
 * `violations`, and `message()`, `json()` and `close()` then throw with the
 * reasons, so every test that uses this client fails on a message the docs do
 * not describe.
 * @module
 */
import WebSocket from "ws";
import { PROTOCOL_V1 } from "../../src/messages.ts";
import { BIN_PROTOCOL, BinState, decodeBin } from "./binstate.ts";
import { v1Violation } from "./schema.ts";
import { V1State } from "./v1state.ts";

export interface Received {
  data: string | Uint8Array;
  binary: boolean;
  at: number;
}

export interface Client {
  ws: WebSocket;
  messages: Received[];
  /**
   * filewatch.v1 frames the schema refused (or that were not JSON, or were
   * binary), filewatch.bin.v1 frames the decoder refused: the index into
   * `messages` and why.
   */
  violations: Array<{ index: number; reason: string }>;
  /** The handshake's response status when the upgrade was refused. */
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string; at: number }>;
  /** Resolves with the message at index `i` (waits up to `ms`). */
  message(i: number, ms?: number): Promise<Received>;
  /** The i-th message parsed as filewatch.v1 JSON. */
  json(i: number, ms?: number): Promise<Record<string, unknown>>;
  /** Closes the connection; throws when any message broke its protocol's description. */
  close(): void;
}

export function connect(
  url: string,
  opts: {
    protocols?: string[];
    headers?: Record<string, string>;
    autoPong?: boolean;
    lastMod?: string;
    /** PEM CA to trust for wss: (a test's own certificate). */
    ca?: string;
    /** The local address to connect from (127.0.0.2, …: another client as the server sees it). */
    localAddress?: string;
  } = {},
): Client {
  const u = opts.lastMod !== undefined ? `${url}?lastMod=${encodeURIComponent(opts.lastMod)}` : url;
  const ws = new WebSocket(u, opts.protocols ?? [], {
    headers: opts.headers,
    autoPong: opts.autoPong ?? true,
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  });
  const messages: Received[] = [];
  const violations: Array<{ index: number; reason: string }> = [];
  const waiters: Array<() => void> = [];
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    const m = { data: isBinary ? new Uint8Array(data) : data.toString("utf8"), binary: isBinary, at: Date.now() };
    // The negotiated protocol is known from "open", before any message.
    const reason = ws.protocol === PROTOCOL_V1 ? checkV1(m) : ws.protocol === BIN_PROTOCOL ? checkBin(m) : null;
    if (reason) violations.push({ index: messages.length, reason });
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  /** Throws when message `i` (or, without `i`, any message) broke its protocol's description. */
  const assertValid = (i?: number) => {
    const bad = violations.find((v) => i === undefined || v.index === i);
    if (bad) throw new Error(`${ws.protocol} message #${bad.index}: ${bad.reason}`);
  };
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
    assertValid(i);
    return messages[i]!;
  };
  return {
    ws,
    messages,
    violations,
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
      assertValid();
    },
  };
}

/** Why a frame received on a filewatch.v1 connection is not a valid message; null when it is one. */
function checkV1(m: Received): string | null {
  if (m.binary) return "a binary frame (filewatch.v1 sends JSON text frames only)";
  let parsed: unknown;
  try {
    parsed = JSON.parse(m.data as string);
  } catch {
    return `not JSON: ${JSON.stringify((m.data as string).slice(0, 100))}`;
  }
  return v1Violation(parsed);
}

/** Why a frame received on a filewatch.bin.v1 connection is not a valid frame; null when it is one. */
function checkBin(m: Received): string | null {
  const f = decodeBin(m.data);
  return typeof f === "string" ? f : null;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A {@link Client} whose frames are applied to a reconstructing state as they come. */
export interface StateClient<S extends V1State | BinState = V1State | BinState> {
  c: Client;
  st: S;
}

/** A {@link Client} whose filewatch.v1 frames are applied to a {@link V1State} as they come. */
export type V1Client = StateClient<V1State>;

/** The formats a {@link StateClient} speaks, by the server's name for them. */
export type StateFormat = "v1" | "bin";

/**
 * A client whose every frame goes into a {@link V1State} (filewatch.v1) or a
 * {@link BinState} (filewatch.bin.v1); with `resume`, it connects with
 * `?lastMod=&size=` and starts from those bytes.
 */
export function stateClient(
  format: StateFormat,
  wsUrl: string,
  resume?: { lastMod: string; bytes: Uint8Array },
): StateClient {
  return format === "v1" ? v1Client(wsUrl, resume) : binClient(wsUrl, resume);
}

/**
 * A filewatch.v1 client whose every frame goes into a {@link V1State}; with
 * `resume`, it connects with `?lastMod=&size=` and starts from those bytes.
 * A binary frame is recorded as one the state cannot apply.
 */
export function v1Client(wsUrl: string, resume?: { lastMod: string; bytes: Uint8Array }): V1Client {
  const url = resume ? `${wsUrl}?lastMod=${encodeURIComponent(resume.lastMod)}&size=${resume.bytes.length}` : wsUrl;
  const c = connect(url, { protocols: ["filewatch.v1"] });
  const st = resume ? new V1State().hold(resume.lastMod, resume.bytes) : new V1State();
  c.ws.on("message", (data: Uint8Array, isBinary: boolean) => {
    // The raw bytes, so the state checks the frame is valid UTF-8 itself.
    if (isBinary) st.apply({ type: "<binary frame in filewatch.v1>" });
    else st.apply(new Uint8Array(data));
  });
  return { c, st };
}

/**
 * A filewatch.bin.v1 client whose every frame goes into a {@link BinState}
 * (a text frame is one it cannot apply); with `resume`, as {@link v1Client}.
 */
export function binClient(wsUrl: string, resume?: { lastMod: string; bytes: Uint8Array }): StateClient<BinState> {
  const url = resume ? `${wsUrl}?lastMod=${encodeURIComponent(resume.lastMod)}&size=${resume.bytes.length}` : wsUrl;
  const c = connect(url, { protocols: [BIN_PROTOCOL] });
  const st = resume ? new BinState().hold(resume.lastMod, resume.bytes) : new BinState();
  c.ws.on("message", (data: Uint8Array, isBinary: boolean) => {
    st.apply(isBinary ? new Uint8Array(data) : new TextDecoder().decode(data));
  });
  return { c, st };
}
