// The raw RFC 6455 WebSocket client of the benchmark workers
// (bench/client_worker.mjs, bench/append_worker.mjs): handshake, frame
// parsing, answers to pings, close codes.
//
// Why our own and not `ws`: at 5k x 64 KiB `ws` (which concatenates every
// message into a Buffer and emits it) cost the client about as much CPU as the
// server on a 2-core machine where they share the cores (BENCHMARKS.md). This
// one never builds a message: it parses frame headers, keeps the first
// `headLen` payload bytes of each data message, and shows the rest to the
// caller in place, as views of one read buffer shared by every socket of the
// process (no Buffer is allocated per read). One copy, so that both benchmarks
// measure against the same client.
import { createHash, randomBytes } from "node:crypto";
import net from "node:net";
import process from "node:process";

/** Milliseconds on CLOCK_MONOTONIC: one clock for every process on the machine. */
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const READ_BUFFER = Buffer.alloc(256 * 1024);

/**
 * A masked client frame of at most 125 bytes. Mask key 0: masking is then the
 * identity, which RFC 6455 allows, and the client does no XOR work.
 */
function clientFrame(first, body) {
  const out = Buffer.alloc(6 + body.length);
  out[0] = first;
  out[1] = 0x80 | body.length;
  body.copy(out, 6);
  return out;
}

/** A masked client text frame. */
export function textFrame(text) {
  const body = Buffer.from(text);
  if (body.length > 125) throw new Error("client frame too long");
  return clientFrame(0x81, body);
}

/**
 * Opens one raw WebSocket client to `url` (ws://host:port/path); one attempt,
 * no retries (the callers count and retry failed handshakes their own way).
 *
 * Callbacks (all but onMessage optional):
 * - onOpen(): the server answered 101 with the right Sec-WebSocket-Accept.
 * - onMessageStart(length): the first frame of a data message; `length` is
 *   that frame's payload length.
 * - onPayload(buf, start, end, offset, t): bytes buf[start, end) of the data
 *   message, at `offset` in it; `t` = nowMs() of the read that carried them.
 *   `buf` is the shared read buffer: valid only during the call.
 * - onMessage(head, length): a data message ended; `head` = its first
 *   min(length, headLen) bytes (a view, valid only during the call).
 * - onError(err): a socket error (a close follows).
 * - onClose(code): the socket closed after onOpen: the server's close code,
 *   1005 if its close frame had none, 1006 if it sent none.
 * - onFail(): the socket closed before the handshake completed (refused,
 *   handshake timeout, bad answer).
 *
 * @param {string} url
 * @param {{ path?: string; headers?: string; headLen: number; handshakeTimeoutMs: number;
 *   onOpen?: () => void; onMessageStart?: (length: number) => void;
 *   onPayload?: (buf: Buffer, start: number, end: number, offset: number, t: number) => void;
 *   onMessage: (head: Buffer, length: number) => void; onError?: (err: any) => void;
 *   onClose?: (code: number) => void; onFail?: () => void }} o
 *   `path` defaults to the URL's path and query; `headers` are extra request
 *   header lines, each ending in "\r\n".
 */
export function openRawWs(url, o) {
  const target = new URL(url);
  const path = o.path ?? `${target.pathname}${target.search}`;
  const key = randomBytes(16).toString("base64");
  const accept = createHash("sha1").update(key + WS_GUID).digest("base64");
  // onread with the shared buffer: the callback consumes it synchronously.
  const sock = net.connect({
    host: target.hostname,
    port: Number(target.port),
    // A loopback source other than 127.0.0.1 (127.0.0.2, …): one source reaches
    // one port through ~28k ephemeral ports only (bench/workers.ts).
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    onread: { buffer: READ_BUFFER, callback: (n, buf) => void onData(buf.subarray(0, n)) },
  });
  sock.setNoDelay(true);
  let upgraded = false;
  let handshake = Buffer.alloc(0);
  // Frame state.
  const hdr = Buffer.alloc(14);
  let hdrHave = 0;
  let remaining = 0; // payload bytes left in the current frame
  let opcode = 0;
  let fin = false;
  let inPayload = false;
  let msgLen = 0; // bytes of the current data message so far
  const head = Buffer.alloc(o.headLen);
  let headHave = 0;
  let ctl = Buffer.alloc(0); // control frame payload being collected
  let ctlHave = 0;
  let closeCode = 1006;
  const timer = setTimeout(() => sock.destroy(new Error("handshake timeout")), o.handshakeTimeoutMs);

  const endFrame = () => {
    inPayload = false;
    hdrHave = 0;
    if (opcode === 0x9) {
      // Ping: answer with a masked pong carrying the same payload (RFC 6455 5.5.2).
      sock.write(clientFrame(0x8a, ctl.subarray(0, ctlHave)));
    } else if (opcode === 0x8) {
      closeCode = ctlHave >= 2 ? ctl.readUInt16BE(0) : 1005;
      sock.destroy();
    } else if (opcode <= 0x2 && fin) {
      o.onMessage(head.subarray(0, headHave), msgLen);
      msgLen = 0;
      headHave = 0;
    }
  };
  const onFrames = (buf) => {
    // The clock is read only for callers that look at payloads as they come.
    const t = o.onPayload ? nowMs() : 0;
    let p = 0;
    while (p < buf.length) {
      if (!inPayload) {
        // Collect the header: 2 bytes, then 0/2/8 length bytes (server frames are unmasked).
        while (hdrHave < 2 && p < buf.length) hdr[hdrHave++] = buf[p++];
        if (hdrHave < 2) return;
        const len7 = hdr[1] & 0x7f;
        const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
        while (hdrHave < need && p < buf.length) hdr[hdrHave++] = buf[p++];
        if (hdrHave < need) return;
        fin = (hdr[0] & 0x80) !== 0;
        const op = hdr[0] & 0x0f;
        remaining = len7 === 126 ? hdr.readUInt16BE(2) : len7 === 127 ? Number(hdr.readBigUInt64BE(2)) : len7;
        if (op >= 0x8) {
          opcode = op;
          ctl = Buffer.alloc(remaining);
          ctlHave = 0;
        } else {
          if (op !== 0) opcode = op; // a continuation keeps the data opcode of its message
          if (msgLen === 0) o.onMessageStart?.(remaining);
        }
        inPayload = true;
        if (remaining === 0) {
          endFrame();
          continue;
        }
      }
      const take = Math.min(remaining, buf.length - p);
      if (opcode >= 0x8) {
        buf.copy(ctl, ctlHave, p, p + take);
        ctlHave += take;
      } else {
        if (headHave < o.headLen) {
          const h = Math.min(o.headLen - headHave, take);
          buf.copy(head, headHave, p, p + h);
          headHave += h;
        }
        o.onPayload?.(buf, p, p + take, msgLen, t);
        msgLen += take;
      }
      p += take;
      remaining -= take;
      if (remaining === 0) endFrame();
    }
  };

  sock.on("connect", () => {
    sock.write(
      `GET ${path} HTTP/1.1\r\nHost: ${target.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${o.headers ?? ""}\r\n`,
    );
  });
  const onData = (chunk) => {
    if (upgraded) return onFrames(chunk);
    handshake = Buffer.concat([handshake, chunk]);
    const end = handshake.indexOf("\r\n\r\n");
    if (end < 0) {
      if (handshake.length > 16384) sock.destroy(new Error("handshake too long"));
      return;
    }
    const text = handshake.toString("latin1", 0, end);
    if (!/^HTTP\/1\.1 101 /.test(text) || !text.includes(accept)) {
      sock.destroy(new Error(`bad handshake: ${text.split("\r\n")[0]}`));
      return;
    }
    upgraded = true;
    clearTimeout(timer);
    o.onOpen?.();
    // Frames that came with the handshake (a copy by Buffer.concat, not the shared read buffer).
    const rest = handshake.subarray(end + 4);
    handshake = Buffer.alloc(0);
    if (rest.length) onFrames(rest);
  };
  sock.on("error", (err) => o.onError?.(err));
  sock.on("close", () => {
    if (upgraded) o.onClose?.(closeCode);
    else {
      clearTimeout(timer);
      o.onFail?.();
    }
  });
  return {
    sock,
    sendText: (text) => sock.write(textFrame(text)),
    pause: () => sock.pause(),
    terminate: () => sock.destroy(),
  };
}
