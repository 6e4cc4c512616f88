/**
 * Bare Bun baseline: Bun.serve with its built-in WebSocket pub/sub (one topic,
 * `server.publish` encodes the frame once for all subscribers), one shared poll.
 * No Hono, no sessions.
 *
 *   bun run bench/baseline/bun.ts --port 0 --poll 100ms [--tail BYTES] FILE
 *
 * `--tail BYTES`: a new client gets the file's last BYTES, then every client
 * each append's new bytes (the appends benchmark's bare server).
 *
 * @module
 */
import process from "node:process";
import { listeningLine, parseBaselineArgs, renderPage, startPoll, startTailPoll, type Version } from "./_shared.ts";

// The few parts of Bun's API used here, typed locally so `deno check` and
// `deno lint` can read this file without bun-types.
interface BunSocket {
  subscribe(topic: string): void;
  sendText(data: string): number;
}
interface BunServer {
  port: number;
  hostname: string;
  upgrade(req: Request): boolean;
  publish(topic: string, data: string): number;
  stop(closeActive?: boolean): void;
}
interface BunApi {
  serve(options: {
    hostname: string;
    port: number;
    fetch(req: Request, server: BunServer): Response | undefined;
    websocket: {
      idleTimeout?: number;
      open(ws: BunSocket): void;
      message(ws: BunSocket, msg: string | Uint8Array): void;
    };
  }): BunServer;
}
const Bun = (globalThis as unknown as { Bun: BunApi }).Bun;

const TOPIC = "file";
const opts = parseBaselineArgs(process.argv.slice(2));
let current: Version | null = null;
let server: BunServer | null = null;

const poll = opts.tail > 0
  ? startTailPoll(opts.file, opts.pollMs, opts.tail, (t) => {
    current = { mtimeNs: 0n, size: 0, bytes: new Uint8Array(0), text: t.window };
    server?.publish(TOPIC, t.appended ?? t.window);
  })
  : startPoll(opts.file, opts.pollMs, (v) => {
    current = v;
    server?.publish(TOPIC, v.text);
  });
await poll.first;

server = Bun.serve({
  hostname: opts.host,
  port: opts.port,
  fetch(req, srv) {
    const { pathname } = new URL(req.url);
    if (req.method !== "GET") return new Response("method not allowed\n", { status: 405 });
    if (pathname === "/healthz") return new Response("ok\n");
    if (pathname === "/") {
      return new Response(renderPage(current?.text ?? ""), {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    }
    if (pathname !== "/ws") return new Response("not found\n", { status: 404 });
    if (srv.upgrade(req)) return undefined;
    return new Response("expected a WebSocket upgrade\n", { status: 426 });
  },
  websocket: {
    // = filewatch's default pongWait; Bun pings idle sockets itself.
    idleTimeout: 60,
    open(ws) {
      ws.subscribe(TOPIC);
      if (current) ws.sendText(current.text);
    },
    message() {},
  },
});
console.log(listeningLine(opts.file, server.hostname, server.port));

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    poll.stop();
    server?.stop(true);
    process.exit(0);
  });
}
