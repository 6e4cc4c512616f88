/**
 * Two independent servers on one file (docs/protocol.md#resume): what a client sees when a
 * load balancer sends its reconnect to another worker or replica. Tokens are
 * a function of the file's state, so both servers name each state alike, and
 * a client holding one server's token resumes on the other: nothing when
 * nothing changed, one append when the file only grew, the content otherwise;
 * never a missed version.
 *
 * The file is changed the racy way: several writes of different contents
 * under one pinned mtime (`utime`), and the mtime set back to an earlier one.
 * Each round ends with its state put in place whole by rename, with the
 * round's mtime already set, so both servers first see it in that state (a
 * `touch` seen by one server only is the one case where their tokens differ;
 * tests/unit/tokens.test.ts covers it).
 * @module
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { sleep, type V1Client, v1Client as v1 } from "../helpers/client.ts";
import { type RuntimeName, RUNTIMES, type Server, startServer, tempFile, waitFor } from "../helpers/harness.ts";

const POLL = 100; // ms
const enc = new TextEncoder();

/** The token a server's page names (what a browser starts from). */
async function pageToken(s: Server): Promise<string> {
  const body = await (await fetch(s.url)).text();
  return /data-last-mod="([0-9a-f]*)"/.exec(body)?.[1] ?? "";
}

/** Puts `text` in place whole, by rename, with mtime `at` already set. */
async function place(file: string, text: string, at: Date): Promise<void> {
  const tmp = `${file}.new`;
  await Deno.writeTextFile(tmp, text);
  await Deno.utime(tmp, at, at);
  await Deno.rename(tmp, file);
}

/** Several writes of different contents in place, each under mtime `at` (one clock tick, as far as stat can tell). */
async function racyWrites(file: string, at: Date, round: number): Promise<void> {
  for (let i = 0; i < 4; i++) {
    await Deno.writeTextFile(file, `racy ${round}.${i} ${"#".repeat(i * 3)}\n`);
    await Deno.utime(file, at, at);
    await sleep(i % 2 ? 0 : 15); // some states live past a poll, some do not
  }
}

const pairs: Array<[RuntimeName, RuntimeName]> = RUNTIMES.map((rt) => [rt, rt]);
if (RUNTIMES.includes("deno") && RUNTIMES.includes("bun")) pairs.push(["deno", "bun"]);

for (const [ra, rb] of pairs) {
  Deno.test({
    name: `[${
      ra === rb ? ra : `${ra}+${rb}`
    }] two servers on one file name each state alike and resume each other's clients`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const file = await tempFile("start\n");
      const args = ["--poll", `${POLL}ms`];
      const servers: Server[] = [];
      const clients: V1Client[] = [];
      try {
        servers.push(await startServer(ra, { file, args }));
        servers.push(await startServer(rb, { file, args }));
        const [a, b] = servers as [Server, Server];
        // Live clients, one on each: they must follow every round to the file's state.
        const live = [v1(a.wsUrl), v1(b.wsUrl)];
        clients.push(...live);

        /** Waits until both live clients hold `text`; returns the token each server gave it. */
        const settled = async (text: string, what: string): Promise<string> => {
          const bytes = enc.encode(text);
          await waitFor(
            () => live.every((l) => l.st.text === text && l.st.size === bytes.length),
            10_000,
            `${what}: both live clients hold the file (${live.map((l) => JSON.stringify(l.st.text)).join(" / ")})`,
          );
          for (const l of live) assertEquals(l.st.violations, [], l.st.violations.map((v) => v.reason).join("; "));
          const [ta, tb] = [live[0]!.st.lastMod!, live[1]!.st.lastMod!];
          assertEquals(ta, tb, `${what}: both servers name the state alike`);
          assertEquals([await pageToken(a), await pageToken(b)], [ta, ta], `${what}: both pages name it alike`);
          return ta;
        };

        /** A client that held `held` on one server resumes on `s`; returns what it was sent and ends holding. */
        const resume = async (s: Server, held: { lastMod: string; text: string }, expectNothing: boolean) => {
          const r = v1(s.wsUrl, { lastMod: held.lastMod, bytes: enc.encode(held.text) });
          clients.push(r);
          await r.c.opened;
          if (expectNothing) await sleep(3 * POLL + 200);
          else await waitFor(() => r.st.messages.length > 0, 5_000, "a message after resuming");
          await sleep(POLL); // nothing more may follow
          r.c.close();
          assertEquals(r.st.violations, [], r.st.violations.map((v) => v.reason).join("; "));
          return { types: r.st.messages.map((m) => m.msg.type), text: r.st.text, first: r.st.messages[0]?.msg };
        };

        const tick = new Date(Date.now() - 3_600_000); // an hour ago: never racy by age alone

        // 1. Racy writes under one mtime, then the round's state under that same mtime.
        await racyWrites(file, tick, 1);
        const one = "round one\n";
        await place(file, one, tick);
        const t1 = await settled(one, "round 1");
        for (const [from, to] of [[a, b], [b, a]] as const) {
          const r = await resume(to, { lastMod: t1, text: one }, true);
          assertEquals(r.types, [], `a current client resuming on ${from === a ? "B" : "A"} is sent nothing`);
        }

        // 2. The file grows (no utime): a client holding round 1 gets one append on either server.
        const two = one + "appended line\n";
        await Deno.writeTextFile(file, "appended line\n", { append: true });
        const t2 = await settled(two, "round 2");
        for (const s of [a, b]) {
          const r = await resume(s, { lastMod: t1, text: one }, false);
          assertEquals(r.types, ["append"], "one append from the size held");
          assertEquals([r.first?.prev, r.first?.offset], [t1, enc.encode(one).length]);
          assertEquals(r.text, two);
        }

        // 3. Racy writes again, the mtime set back to round 1's: the content differs, so does the token.
        await racyWrites(file, tick, 3);
        const three = "round three: other bytes\n";
        await place(file, three, tick);
        const t3 = await settled(three, "round 3");
        assert(t3 !== t1 && t3 !== t2, "a new content under an old mtime is a new token");
        for (const held of [{ lastMod: t2, text: two }, { lastMod: t1, text: one }]) {
          for (const s of [a, b]) {
            const r = await resume(s, held, false);
            assertEquals(r.types, ["content"], "an older version is sent the content, never told it is current");
            assertEquals(r.text, three);
          }
        }

        // 4. Round 1's bytes under round 1's mtime again: the same state, the same token, on both.
        await racyWrites(file, tick, 4);
        await place(file, one, tick);
        assertEquals(await settled(one, "round 4"), t1, "one state, one token, whenever it is seen");
        for (const s of [a, b]) {
          assertEquals((await resume(s, { lastMod: t1, text: one }, true)).types, []);
          const r = await resume(s, { lastMod: t3, text: three }, false);
          assertEquals([r.types, r.text], [["content"], one]);
        }
        for (const l of live) l.c.close();
      } finally {
        for (const c of clients) {
          try {
            c.c.ws.terminate();
          } catch { /* closed */ }
        }
        await Promise.all(servers.map((s) => s.stop()));
        await Deno.remove(file.replace(/\/[^/]+$/, ""), { recursive: true });
      }
    },
  });
}
