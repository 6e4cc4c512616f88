/**
 * The client example in the docs works: docs/examples/follow.mjs (Node, npm
 * `ws`) follows a file on a real server on each runtime, applies appends, and
 * after a dropped connection resumes with `?lastMod=&size=`: what it missed
 * comes as one append, not the whole file. It ends holding exactly the file's
 * bytes. Its stderr log ("follow: content …", "follow: append …") is what
 * this test reads.
 * @module
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { appendBytes, ROOT, RUNTIMES, type Server, startServer, tempFile, waitFor } from "../helpers/harness.ts";

const EXAMPLE = `${ROOT}docs/examples/follow.mjs`;

/** The example as a child process, with its stderr lines. */
function follow(wsUrl: string, out: string) {
  const child = new Deno.Command("node", {
    args: [EXAMPLE, wsUrl, "--out", out],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const done = (async () => {
    let buf = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    }
  })();
  return {
    lines,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await done;
    },
  };
}

/**
 * A TCP relay in front of the server, so the test can drop the example's
 * connection (as a network would) while the server keeps running.
 */
function relay(target: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let refusing = false;
  const serve = (async () => {
    for await (const conn of listener) {
      if (refusing) {
        conn.close();
        continue;
      }
      let upstream: Deno.Conn;
      try {
        upstream = await Deno.connect({ hostname: "127.0.0.1", port: target });
      } catch {
        conn.close();
        continue;
      }
      open.add(conn).add(upstream);
      const closeBoth = () => {
        for (const c of [conn, upstream]) {
          if (open.delete(c)) {
            try {
              c.close();
            } catch { /* closed */ }
          }
        }
      };
      conn.readable.pipeTo(upstream.writable).catch(() => {}).finally(closeBoth);
      upstream.readable.pipeTo(conn.writable).catch(() => {}).finally(closeBoth);
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    /** Drops every relayed connection and refuses new ones until {@link resume}. */
    cut() {
      refusing = true;
      for (const c of [...open]) {
        open.delete(c);
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
    resume() {
      refusing = false;
    },
    async close() {
      this.cut();
      listener.close();
      await serve;
    },
  };
}

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([Deno.readFile(a), Deno.readFile(b)]);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  } catch {
    return false;
  }
}

/** The example's message log lines (content / append) from index `from`. */
const events = (lines: string[], from = 0) =>
  lines.slice(from).filter((l) => /^follow: (content|append|error) /.test(l));

for (const rt of RUNTIMES) {
  Deno.test(`[${rt}] docs/examples/follow.mjs follows a file and resumes by append after a dropped connection and a server restart`, async () => {
    const file = await tempFile("line 1\n", "app.log");
    const dir = file.slice(0, file.lastIndexOf("/"));
    const copy = `${dir}/copy.log`;
    let server: Server | null = await startServer(rt, { file, args: ["--poll", "100ms", "--quiet"] });
    const port = server.port;
    const net = relay(port);
    const ex = follow(`ws://127.0.0.1:${net.port}/ws`, copy);
    const why = () => `example's log:\n${ex.lines.join("\n")}\nserver's log:\n${server?.stderr.join("\n")}`;
    try {
      // The example logs a message before it writes the copy, but this process may read the copy before its
      // reader has taken that log line from the pipe: wait for both.
      const caughtUp = (n: number, from = 0) => async () =>
        await sameFile(file, copy) && events(ex.lines, from).length >= n;
      await waitFor(caughtUp(1), 10_000, "the first content").catch((e) => {
        throw new Error(`${e.message}\n${why()}`);
      });
      assertEquals(events(ex.lines).map((l) => l.split(" ")[1]), ["content"], why());

      await appendBytes(file, "line 2\n");
      await waitFor(caughtUp(2), 5_000, "the first append");
      assertEquals(events(ex.lines).map((l) => l.split(" ")[1]), ["content", "append"], why());

      // 1. The connection drops (the server keeps running); the file grows meanwhile.
      const before = /lastMod=(\w+) offset=\d+ size=(\d+)/.exec(events(ex.lines).at(-1)!)!;
      const mark = ex.lines.length;
      net.cut();
      await waitFor(() => ex.lines.slice(mark).some((l) => l.includes("closed")), 5_000, "the example to see the drop");
      await appendBytes(file, "line 3\n");
      await appendBytes(file, "line 4\n");
      net.resume();
      await waitFor(caughtUp(1, mark), 10_000, "the file after the reconnect").catch((e) => {
        throw new Error(`${e.message}\n${why()}`);
      });
      const resumed = ex.lines.slice(mark).find((l) => l.includes("connected"));
      assert(
        resumed?.includes(`resuming lastMod=${before[1]} size=${before[2]}`),
        `resumed with ?lastMod=&size=\n${why()}`,
      );
      const after = events(ex.lines, mark);
      assertEquals(after.length, 1, `one message after the reconnect\n${why()}`);
      assert(after[0]!.startsWith(`follow: append prev=${before[1]} `), `one append, not the content\n${why()}`);
      assert(after[0]!.includes(`offset=${before[2]} `), why());

      // 2. The server restarts on the same port: the unchanged file is not sent again, the next line is an append.
      const mark2 = ex.lines.length;
      await server.stop();
      server = null;
      server = await startServer(rt, { file, port, args: ["--poll", "100ms", "--quiet"] });
      await waitFor(
        () => ex.lines.slice(mark2).some((l) => l.includes("connected")),
        15_000,
        "the example to reconnect to the new server",
      );
      await appendBytes(file, "line 5\n");
      await waitFor(caughtUp(1, mark2), 5_000, "the append after the restart").catch((e) => {
        throw new Error(`${e.message}\n${why()}`);
      });
      const later = events(ex.lines, mark2);
      assertEquals(later.map((l) => l.split(" ")[1]), ["append"], `only the new line after the restart\n${why()}`);
      assertEquals(await Deno.readTextFile(copy), "line 1\nline 2\nline 3\nline 4\nline 5\n");
    } finally {
      await ex.stop();
      await net.close();
      await server?.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
