/**
 * Replicas behind a real nginx (Debian's), configured by the repository's own
 * deploy/compose/nginx.conf with only the upstream and listen addresses and
 * the file paths changed (docs/deployment.md#replicas): 300 viewers that reconnect the way the
 * page does (resuming with `?lastMod=&size=`), a log growing every 200 ms, and
 * one of three replicas stopped with SIGTERM in the middle. Every viewer must
 * end with the file's final bytes, apply no version twice, and the ones that
 * were moved must not be sent the content again.
 * @module
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { sleep } from "../helpers/client.ts";
import { RUNTIMES, type Server, startServer, tempFile, waitFor } from "../helpers/harness.ts";
import { freePort, nginxConfig, startNginx, stopNginx } from "../helpers/replicas_nginx.ts";
import { V1State } from "../helpers/v1state.ts";

const VIEWERS = 300;
const CHANGE_EVERY_MS = 200;

/**
 * A viewer that behaves like the page: filewatch.v1, and after any close it
 * reconnects (after a short random wait) with `?lastMod=&size=` of what it holds.
 */
class Viewer {
  readonly st = new V1State();
  /** Every version token applied, in order. */
  readonly applied: string[] = [];
  /** Messages received on each connection after the first. */
  readonly afterReconnect: string[] = [];
  connections = 0;
  closes: number[] = [];
  #ws: WebSocket | null = null;
  #stopped = false;
  constructor(readonly url: string) {}

  open(): Promise<void> {
    const held = this.st.lastMod !== null ? `?lastMod=${this.st.lastMod}&size=${this.st.size}` : "";
    const ws = new WebSocket(this.url + held, ["filewatch.v1"]);
    const first = this.connections++ === 0;
    this.#ws = ws;
    ws.onmessage = (ev) => {
      const kind = this.st.apply(String(ev.data));
      if (kind === "content" || kind === "append") this.applied.push(this.st.lastMod!);
      if (!first) this.afterReconnect.push(kind);
    };
    return new Promise((resolve) => {
      ws.onopen = () => resolve();
      ws.onclose = (ev) => {
        resolve();
        if (this.#ws !== ws) return;
        this.closes.push(ev.code);
        if (!this.#stopped) setTimeout(() => void this.open(), 100 + Math.random() * 400);
      };
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#ws?.close();
  }
}

for (const rt of RUNTIMES) {
  Deno.test({
    name:
      `[${rt}] behind nginx: a replica stopped with SIGTERM moves its ${VIEWERS} viewers without a resend or a missed version`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const file = await tempFile("line 0\n");
      const dir = await Deno.makeTempDir({ prefix: "filewatch-nginx-" });
      const servers: Server[] = [];
      let nginx: Deno.ChildProcess | null = null;
      const viewers: Viewer[] = [];
      let writing = true;
      let writer: Promise<void> = Promise.resolve();
      try {
        // As deploy/compose/compose.yaml runs them (the cap off: every connection comes from nginx). The
        // replica that will be stopped sees every change at once (file events); the others only poll, as
        // replicas on a network filesystem do, so they publish fewer, larger versions: a moved viewer holds
        // a version they never published, and must still get an append from it, not the content.
        const args = ["--max-clients-per-ip", "0"];
        const polling = [...args, "--no-events", "--poll", "300ms"];
        for (const a of [polling, [...args, "--poll", "200ms"], polling]) {
          servers.push(await startServer(rt, { file, args: a }));
        }
        const port = freePort();
        nginx = await startNginx(nginxConfig(servers.map((s) => s.port), port, dir), dir, port);
        const url = `ws://127.0.0.1:${port}/ws`;

        for (let i = 0; i < VIEWERS; i++) viewers.push(new Viewer(url));
        for (let i = 0; i < VIEWERS; i += 50) await Promise.all(viewers.slice(i, i + 50).map((v) => v.open()));
        await waitFor(() => viewers.every((v) => v.st.lastMod !== null), 20_000, "every viewer holding the file");

        // A log that grows every 200 ms, each time by a burst of lines a few ms apart: the replicas
        // coalesce a burst differently, and the replica is stopped in the middle of one, so its viewers
        // hold versions the replica they move to may never have published.
        let n = 0;
        let bursts = 0;
        let stopVictim!: () => void;
        const midBurst = new Promise<void>((r) => (stopVictim = r));
        writer = (async () => {
          while (writing) {
            bursts++;
            for (let i = 0; i < 6; i++) {
              await Deno.writeTextFile(file, `line ${++n}\n`, { append: true });
              if (bursts === 8 && i === 3) stopVictim();
              await sleep(9);
            }
            await sleep(CHANGE_EVERY_MS);
          }
        })();
        await midBurst;
        const victim = servers[1]!;
        const status = await victim.stop("SIGTERM");
        assertEquals(status.code, 0, victim.stderr.join("\n"));
        await sleep(3_000);
        writing = false;
        await writer;
        await Deno.writeTextFile(file, "the last line\n", { append: true });
        const final = await Deno.readTextFile(file);

        await waitFor(() => viewers.every((v) => v.st.text === final), 20_000, "every viewer holding the final file")
          .catch((e) => {
            const behind = viewers.filter((v) => v.st.text !== final);
            throw new Error(`${(e as Error).message}: ${behind.length} not, e.g. ${behind[0]?.st.text.slice(-40)}`);
          });
        const moved = viewers.filter((v) => v.closes.includes(1001));
        assert(moved.length >= VIEWERS / 10, `viewers of the stopped replica got 1001 (${moved.length})`);
        for (const [i, v] of viewers.entries()) {
          assertEquals(
            v.st.violations,
            [],
            `viewer ${i} (closes ${v.closes.join(",")}): ${
              v.st.violations.map((x) => x.reason).join("; ")
            }\n${v.st.describe()}`,
          );
          assertEquals(
            new Set(v.applied).size,
            v.applied.length,
            `viewer ${i} applied a version twice (closes ${v.closes.join(",")}):\n${v.st.describe()}`,
          );
        }
        // Moved viewers held a version of this file: after reconnecting they get appends, never the content again.
        const resent = moved.filter((v) => v.afterReconnect.includes("content"));
        assertEquals(resent.length, 0, `${resent.length} of ${moved.length} moved viewers were sent the content again`);
        assert(moved.every((v) => v.connections >= 2), "every moved viewer reconnected");
      } finally {
        writing = false;
        await writer.catch(() => {});
        for (const v of viewers) v.stop();
        if (nginx) await stopNginx(nginx);
        await Promise.all(servers.map((s) => s.stop()));
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
}
