/**
 * Bare Deno baseline: Deno.serve + Deno.upgradeWebSocket, one shared poll,
 * every socket in one Set. No Hono, no sessions.
 *
 *   deno run --allow-net --allow-read --allow-env bench/baseline/deno.ts \
 *     --port 0 --poll 100ms FILE
 *
 * Experiment flags (the 64 KiB memory question, see BENCHMARKS.md):
 * - `--send bytes` sends the pre-encoded Uint8Array (a *binary* frame, so not
 *   what filewatch may do; here only to compare the copy cost);
 * - `--batch N` sends to N sockets, then yields a macrotask before the next N,
 *   so the per-send copies are written out and freed before more are made;
 * - env `DENO_USE_WRITEV=1` (read by Deno itself) makes each WebSocket write
 *   the frame with writev instead of copying it into a per-socket buffer;
 *   `--writev-env` sets it from JS at start-up (Deno reads it once, when the
 *   first server WebSocket is created, so setting it before that works).
 * - `--tail BYTES`: a new client gets the file's last BYTES, then every
 *   client each append's new bytes (the appends benchmark's bare server).
 *
 * @module
 */
import { listeningLine, parseBaselineArgs, renderPage, startPoll, startTailPoll, type Version } from "./_shared.ts";

const opts = parseBaselineArgs(Deno.args);
if (opts.writevEnv) Deno.env.set("DENO_USE_WRITEV", "1");
const sockets = new Set<WebSocket>();
let current: Version | null = null;
let generation = 0;

function sendTo(ws: WebSocket, v: Version): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  try {
    ws.send(opts.send === "bytes" ? v.bytes : v.text);
  } catch {
    // closing socket: its close event removes it
  }
}

async function broadcast(v: Version): Promise<void> {
  const gen = ++generation;
  if (opts.batch === 0) {
    for (const ws of sockets) sendTo(ws, v);
    return;
  }
  let n = 0;
  for (const ws of [...sockets]) {
    if (gen !== generation) return; // a newer version started its own broadcast
    sendTo(ws, v);
    if (++n % opts.batch === 0) await new Promise((r) => setTimeout(r, 0));
  }
}

const poll = opts.tail > 0
  ? startTailPoll(opts.file, opts.pollMs, opts.tail, (t) => {
    // Only the window is kept for new clients; the frame is the new bytes, or the window after a shrink.
    current = { mtimeNs: 0n, size: 0, bytes: new Uint8Array(0), text: t.window };
    void broadcast({ ...current, text: t.appended ?? t.window });
  })
  : startPoll(opts.file, opts.pollMs, (v) => {
    current = v;
    void broadcast(v);
  });
await poll.first;

const server = Deno.serve({
  hostname: opts.host,
  port: opts.port,
  onListen({ hostname, port }) {
    console.log(listeningLine(opts.file, hostname, port));
  },
}, (req) => {
  const { pathname } = new URL(req.url);
  if (req.method !== "GET") return new Response("method not allowed\n", { status: 405 });
  if (pathname === "/healthz") return new Response("ok\n");
  if (pathname === "/") {
    return new Response(renderPage(current?.text ?? ""), {
      headers: { "content-type": "text/html; charset=utf-8" },
    });
  }
  if (pathname !== "/ws") return new Response("not found\n", { status: 404 });
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("expected a WebSocket upgrade\n", { status: 426 });
  }
  // idleTimeout = filewatch's default pongWait, so both ping alike.
  const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 60 });
  socket.onopen = () => {
    sockets.add(socket);
    if (current) sendTo(socket, current);
  };
  socket.onclose = () => sockets.delete(socket);
  socket.onerror = () => sockets.delete(socket);
  return response;
});

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => {
    poll.stop();
    for (const ws of sockets) ws.close(1001, "server shutting down");
    void server.shutdown();
    Deno.exit(0);
  });
}
