/**
 * A deliberately misbehaving WebSocket client over a raw TCP socket.
 *
 * Why our own and not `ws` or the runtime's `WebSocket`: every real client
 * refuses to send what the hostile-input suites need — unmasked frames,
 * reserved bits, unknown opcodes, oversized or fragmented control frames,
 * invalid UTF-8, bogus close codes, malformed handshakes — and none lets a test
 * stop reading or stop answering pings on purpose. `node:net` works on Deno
 * and Bun alike, so the suites stay runtime-neutral.
 *
 * ```ts
 * const c = await RawWs.connect("127.0.0.1", port, { path: "/ws" });
 * c.sendFrame({ opcode: OP.PING, payload: bytes("hi") });
 * const pong = await c.nextFrame();          // { opcode: OP.PONG, payload: "hi" }
 * const close = await c.waitClose();         // { code, reason, tcpClosed }
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import net from "node:net";

/** RFC 6455 opcodes. */
export const OP = {
  CONT: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** The GUID every server appends to Sec-WebSocket-Key (RFC 6455 §1.3). */
export const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const encoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function bytes(s: string): Uint8Array {
  return encoder.encode(s);
}

/** The Sec-WebSocket-Accept a server must answer for `key`. */
export function acceptFor(key: string): string {
  return createHash("sha1").update(key + WS_GUID).digest("base64");
}

/** A fresh random Sec-WebSocket-Key (16 random bytes, base64). */
export function newKey(): string {
  return randomBytes(16).toString("base64");
}

/** One WebSocket frame, as sent or as parsed. */
export interface Frame {
  fin: boolean;
  /** The three reserved bits as a number 0..7 (RSV1 = 4, RSV2 = 2, RSV3 = 1). */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** Unmasked payload. */
  payload: Uint8Array;
}

/** Options for {@linkcode encodeFrame}. */
export interface EncodeOptions {
  opcode: number;
  payload?: Uint8Array | string;
  /** Default true. */
  fin?: boolean;
  /** Reserved bits 0..7 (RSV1 = 4). Default 0. */
  rsv?: number;
  /** true (default) = random key, false = unmasked, or an explicit 4-byte key. */
  mask?: boolean | Uint8Array;
}

/** Options for {@linkcode encodeHeader}. */
export interface HeaderOptions {
  opcode: number;
  /** Payload length to announce (up to 2^53 - 1). */
  length: number;
  fin?: boolean;
  rsv?: number;
  /** 4-byte masking key, or null for an unmasked frame. */
  maskKey?: Uint8Array | null;
}

/**
 * Encodes only a frame header, so a caller can stream a huge payload after
 * it (with an all-zero mask key the payload goes out as is).
 */
export function encodeHeader(o: HeaderOptions): Uint8Array {
  const key = o.maskKey ?? null;
  if (key && key.length !== 4) throw new RangeError("Mask key must be 4 bytes");
  const len = o.length;
  const lenBytes = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + lenBytes + (key ? 4 : 0));
  out[0] = ((o.fin ?? true) ? 0x80 : 0) | (((o.rsv ?? 0) & 7) << 4) | (o.opcode & 0x0f);
  out[1] = (key ? 0x80 : 0) | (lenBytes === 0 ? len : lenBytes === 2 ? 126 : 127);
  const dv = new DataView(out.buffer);
  if (lenBytes === 2) dv.setUint16(2, len);
  if (lenBytes === 8) dv.setBigUint64(2, BigInt(len));
  if (key) out.set(key, 2 + lenBytes);
  return out;
}

/** Encodes one frame exactly as asked, even when that violates RFC 6455. */
export function encodeFrame(o: EncodeOptions): Uint8Array {
  const payload = typeof o.payload === "string" ? bytes(o.payload) : (o.payload ?? new Uint8Array(0));
  const maskOpt = o.mask ?? true;
  const key = maskOpt === true ? new Uint8Array(randomBytes(4)) : maskOpt === false ? null : maskOpt;
  const head = encodeHeader({
    opcode: o.opcode,
    length: payload.length,
    fin: o.fin,
    rsv: o.rsv,
    maskKey: key,
  });
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  const p = head.length;
  if (key) {
    for (let i = 0; i < payload.length; i++) out[p + i] = payload[i]! ^ key[i & 3]!;
  } else {
    out.set(payload, p);
  }
  return out;
}

/** Payload of a close frame: 2-byte code then the reason bytes (either may be omitted). */
export function closePayload(code?: number, reason: string | Uint8Array = ""): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const r = typeof reason === "string" ? bytes(reason) : reason;
  const out = new Uint8Array(2 + r.length);
  new DataView(out.buffer).setUint16(0, code);
  out.set(r, 2);
  return out;
}

/** Decodes a close frame's payload. `code` is undefined for an empty payload. */
export function parseClose(payload: Uint8Array): { code?: number; reason: string } {
  if (payload.length < 2) return { reason: "" };
  const code = (payload[0]! << 8) | payload[1]!;
  return { code, reason: new TextDecoder().decode(payload.subarray(2)) };
}

/**
 * Incremental frame decoder: feed it bytes as they arrive, get whole frames.
 * Accepts masked frames (unmasks them) so it can also check the encoder.
 */
export class FrameParser {
  #buf: Uint8Array = new Uint8Array(0);

  /** Bytes received but not yet part of a whole frame. */
  get pending(): number {
    return this.#buf.length;
  }

  /** Adds bytes; returns every frame they complete. */
  push(chunk: Uint8Array): Frame[] {
    if (this.#buf.length === 0) this.#buf = chunk;
    else {
      const b = new Uint8Array(this.#buf.length + chunk.length);
      b.set(this.#buf);
      b.set(chunk, this.#buf.length);
      this.#buf = b;
    }
    const frames: Frame[] = [];
    for (;;) {
      const f = this.#one();
      if (!f) break;
      frames.push(f);
    }
    return frames;
  }

  #one(): Frame | null {
    const b = this.#buf;
    if (b.length < 2) return null;
    const masked = (b[1]! & 0x80) !== 0;
    let len = b[1]! & 0x7f;
    let p = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = (b[2]! << 8) | b[3]!;
      p = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      const big = new DataView(b.buffer, b.byteOffset).getBigUint64(2);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError("Frame length too large");
      len = Number(big);
      p = 10;
    }
    const keyAt = p;
    if (masked) p += 4;
    if (b.length < p + len) return null;
    const payload = b.slice(p, p + len);
    if (masked) {
      for (let i = 0; i < len; i++) payload[i]! ^= b[keyAt + (i & 3)]!;
    }
    this.#buf = b.subarray(p + len);
    return {
      fin: (b[0]! & 0x80) !== 0,
      rsv: (b[0]! >> 4) & 7,
      opcode: b[0]! & 0x0f,
      masked,
      payload,
    };
  }
}

/** A parsed HTTP response head (and whatever body arrived). */
export interface HttpResponse {
  status: number;
  statusText: string;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

/** Options for {@linkcode RawWs.connect}. */
export interface ConnectOptions {
  /** Request target, default "/ws". */
  path?: string;
  method?: string;
  /**
   * Extra or overriding headers. A value of `null` removes a default header
   * (Host, Upgrade, Connection, Sec-WebSocket-Key, Sec-WebSocket-Version).
   * An array value sends the header once per element.
   */
  headers?: Record<string, string | string[] | null>;
  /** Replace the whole request head (everything before the blank line). */
  rawRequest?: string;
  /** Milliseconds to wait for the response head. Default 5000. */
  timeout?: number;
  /** Source address to connect from (any 127.x.y.z works on Linux loopback). */
  localAddress?: string;
}

/** The outcome of {@linkcode RawWs.waitClose}. */
export interface CloseResult {
  /** Close frame received from the server (undefined if none came). */
  code?: number;
  reason?: string;
  /** Whether the server's close frame had a payload at all. */
  gotCloseFrame: boolean;
  /** The TCP connection ended (FIN/RST) before the deadline. */
  tcpClosed: boolean;
  /** Milliseconds from the call to the close frame or TCP end. */
  ms: number;
}

type Waiter = () => void;

/**
 * A raw WebSocket connection. After the handshake every server frame is
 * queued; nothing is answered automatically unless `autoPong` is set.
 */
export class RawWs {
  readonly socket: net.Socket;
  readonly response: HttpResponse;
  readonly key: string;
  /** Frames received and not yet taken by nextFrame(). */
  readonly frames: Frame[] = [];
  /** Every frame ever received (for diagnostics). */
  readonly log: Frame[] = [];
  /** Answer pings with pongs (off by default: the suites test liveness). */
  autoPong = false;
  #parser = new FrameParser();
  #waiters: Waiter[] = [];
  #ended = false;
  #error: Error | null = null;
  #bytesIn = 0;

  private constructor(socket: net.Socket, response: HttpResponse, key: string, rest: Uint8Array) {
    this.socket = socket;
    this.response = response;
    this.key = key;
    socket.on("data", (c: Buffer) => this.#onData(new Uint8Array(c)));
    socket.on("end", () => this.#finish());
    socket.on("close", () => this.#finish());
    socket.on("error", (e: Error) => {
      this.#error = e;
      this.#finish();
    });
    if (rest.length) this.#onData(rest);
    if (socket.destroyed || socket.readableEnded) this.#finish();
    socket.resume();
  }

  /** Whether the server's side of the TCP connection has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Socket error seen, if any (e.g. ECONNRESET). */
  get error(): Error | null {
    return this.#error;
  }

  /** Bytes of frames received so far. */
  get bytesIn(): number {
    return this.#bytesIn;
  }

  #onData(c: Uint8Array) {
    this.#bytesIn += c.length;
    let frames: Frame[];
    try {
      frames = this.#parser.push(c);
    } catch (e) {
      this.#error = e as Error;
      this.socket.destroy();
      return;
    }
    for (const f of frames) {
      this.log.push(f);
      if (this.autoPong && f.opcode === OP.PING) {
        this.sendFrame({ opcode: OP.PONG, payload: f.payload });
        continue;
      }
      this.frames.push(f);
    }
    if (frames.length) this.#wake();
  }

  #finish() {
    if (!this.#ended) {
      this.#ended = true;
      this.#wake();
    }
  }

  #wake() {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Resolves on the next frame or TCP end, or after `ms`. */
  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.#waiters = this.#waiters.filter((w) => w !== done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#waiters.push(done);
    });
  }

  /**
   * Opens a TCP connection and performs the opening handshake (or whatever
   * the options make of it). Resolves with the connection whatever the
   * status; check `response.status` (101 = upgraded).
   */
  static async connect(host: string, port: number, opts: ConnectOptions = {}): Promise<RawWs> {
    const key = newKey();
    let head: string;
    if (opts.rawRequest !== undefined) {
      head = opts.rawRequest;
    } else {
      const h: Record<string, string | string[] | null> = {
        Host: `${host}:${port}`,
        Upgrade: "websocket",
        Connection: "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13",
      };
      for (const [k, v] of Object.entries(opts.headers ?? {})) {
        const existing = Object.keys(h).find((x) => x.toLowerCase() === k.toLowerCase());
        if (existing) delete h[existing];
        h[k] = v;
      }
      const lines = [`${opts.method ?? "GET"} ${opts.path ?? "/ws"} HTTP/1.1`];
      for (const [k, v] of Object.entries(h)) {
        if (v === null) continue;
        for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
      }
      head = lines.join("\r\n");
    }
    const socket = await openSocket(host, port, opts.timeout ?? 5000, opts.localAddress);
    socket.write(head + "\r\n\r\n");
    const { response, rest } = await readResponseHead(socket, opts.timeout ?? 5000);
    // The accept check is against the key actually sent.
    const sentKey = /^sec-websocket-key:\s*(.*)$/im.exec(head)?.[1]?.trim() ?? "";
    return new RawWs(socket, response, sentKey, rest);
  }

  /** Whether the handshake succeeded and the accept key is right. */
  get upgraded(): boolean {
    return this.response.status === 101 &&
      this.response.headers["sec-websocket-accept"] === acceptFor(this.key);
  }

  /** Writes raw bytes (a frame, half a frame, garbage). */
  write(b: Uint8Array | string): boolean {
    if (this.socket.destroyed) return false;
    return this.socket.write(b);
  }

  /**
   * Writes bytes and waits until the socket takes more (honours TCP
   * backpressure). Resolves false if the connection ended meanwhile.
   */
  writeAndDrain(b: Uint8Array): Promise<boolean> {
    if (this.socket.destroyed || this.#ended) return Promise.resolve(false);
    if (this.socket.write(b)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        this.socket.off("drain", onDrain);
        this.socket.off("close", onClose);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      this.socket.on("drain", onDrain);
      this.socket.on("close", onClose);
    });
  }

  /** Encodes and writes one frame. */
  sendFrame(o: EncodeOptions): boolean {
    return this.write(encodeFrame(o));
  }

  /** Writes a masked text frame. */
  sendText(s: string | Uint8Array): boolean {
    return this.sendFrame({ opcode: OP.TEXT, payload: s });
  }

  /** Writes a masked close frame. */
  sendClose(code?: number, reason: string | Uint8Array = ""): boolean {
    return this.sendFrame({ opcode: OP.CLOSE, payload: closePayload(code, reason) });
  }

  /** Waits for the next frame; null when the TCP connection ended or `ms` passed. */
  async nextFrame(ms = 3000): Promise<Frame | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = this.frames.shift();
      if (f) return f;
      if (this.#ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await this.#wait(left);
    }
  }

  /** Waits for the next frame with one of `opcodes`, dropping others. */
  async nextOf(opcodes: number[], ms = 3000): Promise<Frame | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = await this.nextFrame(Math.max(0, deadline - Date.now()));
      if (!f || opcodes.includes(f.opcode)) return f;
    }
  }

  /**
   * Waits for the server's close frame (skipping data and pings) and then for
   * the TCP connection to end, up to `ms` in total. Answers the server's
   * close if `echo` (as a well-behaved client does).
   */
  async waitClose(ms = 3000, echo = false): Promise<CloseResult> {
    const t0 = Date.now();
    const deadline = t0 + ms;
    const res: CloseResult = { gotCloseFrame: false, tcpClosed: false, ms: 0 };
    // A close frame may already have been received and queued.
    for (;;) {
      const f = await this.nextFrame(Math.max(0, deadline - Date.now()));
      if (!f) break;
      if (f.opcode === OP.CLOSE) {
        const c = parseClose(f.payload);
        res.gotCloseFrame = true;
        res.code = c.code;
        res.reason = c.reason;
        res.ms = Date.now() - t0;
        if (echo) this.sendClose(c.code);
        break;
      }
    }
    while (!this.#ended && Date.now() < deadline) {
      await this.#wait(deadline - Date.now());
      this.frames.length = 0;
    }
    res.tcpClosed = this.#ended;
    if (!res.gotCloseFrame) res.ms = Date.now() - t0;
    return res;
  }

  /** Waits until the TCP connection ends; true if it did within `ms`. */
  async waitEnd(ms = 3000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.#ended && Date.now() < deadline) await this.#wait(deadline - Date.now());
    return this.#ended;
  }

  /** Stops reading from the socket (the kernel buffers fill, then TCP flow control). */
  pause(): void {
    this.socket.pause();
  }

  /** Resumes reading. */
  resume(): void {
    this.socket.resume();
  }

  /** Drops the connection without a close frame (sends FIN). */
  end(): void {
    this.socket.end();
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.socket.destroy();
  }
}

/** Connects a TCP socket, rejecting after `ms`. */
export function openSocket(
  host: string,
  port: number,
  ms = 5000,
  localAddress?: string,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(localAddress ? { host, port, localAddress } : { host, port });
    s.setNoDelay(true);
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`Connect to ${host}:${port} timed out after ${ms}ms`));
    }, ms);
    s.once("connect", () => {
      clearTimeout(t);
      s.removeAllListeners("error");
      resolve(s);
    });
    s.once("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/**
 * Reads an HTTP response head from `socket`. For a non-101 answer it also
 * collects the body (Content-Length, or until the server closes, or a short
 * quiet period). Returns bytes after the head of a 101 for the frame parser.
 */
export function readResponseHead(
  socket: net.Socket,
  ms: number,
): Promise<{ response: HttpResponse; rest: Uint8Array }> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let head: { response: HttpResponse; bodyStart: number } | null = null;
    const t = setTimeout(() => finish(new Error(`No HTTP response within ${ms}ms`)), ms);
    let quiet: ReturnType<typeof setTimeout> | undefined;
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (!head) {
        const i = buf.indexOf("\r\n\r\n");
        if (i < 0) return;
        head = { response: parseHead(buf.subarray(0, i).toString("latin1")), bodyStart: i + 4 };
        if (head.response.status === 101) {
          // Hold further bytes in the stream until RawWs attaches its parser.
          socket.pause();
          finish(null, new Uint8Array(buf.subarray(head.bodyStart)));
          return;
        }
      }
      maybeDone();
    };
    const maybeDone = () => {
      if (!head) return;
      const cl = Number(head.response.headers["content-length"]);
      const body = buf.subarray(head.bodyStart);
      if (Number.isFinite(cl) && body.length >= cl) {
        finish(null);
        return;
      }
      // Chunked or unknown length: settle after a quiet 100 ms.
      clearTimeout(quiet);
      quiet = setTimeout(() => finish(null), 100);
    };
    const onEnd = () => {
      if (head) finish(null);
      else if (buf.length) {
        finish(new Error(`Malformed HTTP response: ${JSON.stringify(buf.toString("latin1").slice(0, 200))}`));
      } else finish(new Error("Connection closed before any HTTP response"));
    };
    const onError = (e: Error) => {
      if (head) finish(null);
      else finish(e);
    };
    const detach = () => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.off("error", onError);
    };
    let done = false;
    function finish(err: Error | null, rest = new Uint8Array(0)) {
      if (done) return;
      done = true;
      clearTimeout(t);
      clearTimeout(quiet);
      detach();
      if (err) {
        socket.destroy();
        reject(err);
        return;
      }
      const h = head!;
      if (h.response.status !== 101) {
        let body: Buffer = buf.subarray(h.bodyStart);
        if (/chunked/i.test(h.response.headers["transfer-encoding"] ?? "")) body = dechunk(body);
        h.response.body = body.toString("utf8");
      }
      resolve({ response: h.response, rest });
    }
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
    socket.on("error", onError);
  });
}

function parseHead(text: string): HttpResponse {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0] ?? "");
  if (!m) throw new Error(`Not an HTTP status line: ${JSON.stringify(lines[0])}`);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    if (i < 0) continue;
    const k = l.slice(0, i).trim().toLowerCase();
    const v = l.slice(i + 1).trim();
    headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
  }
  return { status: Number(m[1]), statusText: m[2] ?? "", headers, body: "" };
}

function dechunk(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  let p = 0;
  while (p < b.length) {
    const e = b.indexOf("\r\n", p);
    if (e < 0) break;
    const n = parseInt(b.subarray(p, e).toString("latin1"), 16);
    if (!Number.isFinite(n) || n === 0) break;
    parts.push(b.subarray(e + 2, e + 2 + n));
    p = e + 2 + n + 2;
  }
  return Buffer.concat(parts);
}

/**
 * Sends one raw HTTP request (any bytes) and reads the response. For
 * malformed requests a runtime may also just drop the connection: then
 * `closed` is true and `response` null.
 */
export async function rawHttp(
  host: string,
  port: number,
  request: string | Uint8Array,
  ms = 5000,
): Promise<{ response: HttpResponse | null; closed: boolean; error?: string }> {
  const s = await openSocket(host, port, ms);
  try {
    s.write(request);
    const { response } = await readResponseHead(s, ms);
    return { response, closed: false };
  } catch (e) {
    const msg = (e as Error).message;
    if (/closed before any HTTP response|ECONNRESET|EPIPE/i.test(msg)) {
      return { response: null, closed: true, error: msg };
    }
    throw e;
  } finally {
    s.destroy();
  }
}

/** What /proc says about a process: open file descriptors and memory (KiB). */
export interface ProcStats {
  fds: number;
  /** Of `fds`, how many are sockets. */
  sockets: number;
  rssKiB: number;
  /** Peak RSS since start (VmHWM). */
  hwmKiB: number;
}

/**
 * Reads /proc/PID/fd and /proc/PID/status (Linux). Works whatever the server
 * exposes, which is why the leak and memory checks use it rather than /metrics.
 */
export function procStats(pid: number): ProcStats {
  let fds = 0;
  let sockets = 0;
  for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
    fds++;
    try {
      if (Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`).startsWith("socket:")) sockets++;
    } catch {
      // closed between readdir and readlink
    }
  }
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  return { fds, sockets, rssKiB: kib("VmRSS"), hwmKiB: kib("VmHWM") };
}

/** Whether process `pid` is still alive (not a zombie). */
export function alive(pid: number): boolean {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/status`);
    return !/^State:\s+Z/m.test(s);
  } catch {
    return false;
  }
}

/** Socket inodes a process holds open (from /proc/PID/fd links `socket:[N]`). */
export function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`));
      if (m) out.add(m[1]!);
    } catch {
      // closed between readdir and readlink
    }
  }
  return out;
}

/**
 * The kernel's view of the TCP connection from local port `localPort` to
 * remote port `remotePort` on loopback: its state (hex, e.g. "01" =
 * ESTABLISHED, "08" = CLOSE_WAIT) and the inode of the socket holding it
 * ("0" once no process holds it), or null if the kernel has forgotten it.
 */
export function tcpConnection(
  localPort: number,
  remotePort: number,
): { state: string; inode: string } | null {
  const lp = localPort.toString(16).toUpperCase().padStart(4, "0");
  const rp = remotePort.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(table);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      if (cols[1]!.endsWith(`:${lp}`) && cols[2]!.endsWith(`:${rp}`)) {
        return { state: cols[3]!, inode: cols[9]! };
      }
    }
  }
  return null;
}

/**
 * Whether server process `pid` still holds its end of the connection that a
 * client made from `clientPort` to `serverPort`. Works while the client is
 * not reading (a FIN queued behind unsent data never reaches a client that
 * reads nothing, so the client cannot tell; the server's fd table can).
 */
export function serverHolds(pid: number, serverPort: number, clientPort: number): boolean {
  const c = tcpConnection(serverPort, clientPort);
  if (!c || c.inode === "0") return false;
  return socketInodes(pid).has(c.inode);
}

/**
 * GET `path` over a fresh connection with `Connection: close`. Unlike
 * `fetch`, it leaves no pooled keep-alive socket behind in the server,
 * which would spoil a count of the server's sockets.
 */
export async function httpGet(
  port: number,
  path: string,
  ms = 3000,
): Promise<{ status: number; body: string } | null> {
  try {
    const r = await rawHttp(
      "127.0.0.1",
      port,
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
      ms,
    );
    return r.response ? { status: r.response.status, body: r.response.body } : null;
  } catch {
    return null;
  }
}
