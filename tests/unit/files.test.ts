/**
 * Several files (docs/configuration.md#several-files): names, the glob, the catalog, the index's rows.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { Catalog } from "../../src/catalog.ts";
import { globTest, uniqueNames } from "../../src/names.ts";
import { rowsOf } from "../../src/client/files.ts";
import { renderIndex } from "../../src/index_page.ts";
import { parseConfig } from "../../src/config.ts";
import { IDLE_CHANNELS_KEPT } from "../../src/channels.ts";
import { Hub } from "../../src/hub.ts";
import { createLogger } from "../../src/log.ts";
import { FileWatcher } from "../../src/watcher.ts";
import { parseExposition } from "../helpers/prom.ts";
import { fakeRuntime } from "../helpers/fake_runtime.ts";
import { watchedDirs, watchName } from "../../src/dir_events.ts";
import { waitFor } from "../helpers/harness.ts";

const names = (paths: string[]) => uniqueNames(paths).map((e) => e.name);

Deno.test("uniqueNames() uses base names, adds parents joined by ~ only where they collide, never a /", () => {
  assertEquals(names(["/var/log/app.log", "/var/log/err.log"]), [
    "app.log",
    "err.log",
  ]);
  assertEquals(names(["/srv/a/app.log", "/srv/b/app.log", "/srv/err.log"]), [
    "a~app.log",
    "b~app.log",
    "err.log",
  ]);
  assertEquals(names(["/x/a/app.log", "/y/a/app.log"]), [
    "x~a~app.log",
    "y~a~app.log",
  ]);
  assertEquals(names(["/a/app.log", "/b/c/app.log", "/d/c/app.log"]), [
    "a~app.log",
    "b~c~app.log",
    "d~c~app.log",
  ]);
  for (const n of names(["/p/q/r.log", "/s/q/r.log", "/t/r.log", "/r.log"])) {
    assert(!n.includes("/"), n);
  }
});

Deno.test("uniqueNames() lists one path given twice once, and resolves relative paths", () => {
  const cwd = Deno.cwd();
  assertEquals(uniqueNames(["a.log", `${cwd}/a.log`, "./a.log"]), [{
    name: "a.log",
    path: `${cwd}/a.log`,
  }]);
});

Deno.test("uniqueNames() makes a name unique even when a real file is called like a joined one", () => {
  // "/m/x~app.log" is x~app.log from the start; "/n/x/app.log" and "/o/app.log" collide on app.log and grow
  // to x~app.log and o~app.log; the new collision grows both x~app.log names once more.
  const got = names(["/m/x~app.log", "/n/x/app.log", "/o/app.log"]);
  assertEquals(got, ["m~x~app.log", "n~x~app.log", "o~app.log"]);
  // Where no parent is left to add, a number makes the name unique.
  assertEquals(names(["/x~app.log", "/x/app.log", "/app.log"]), ["x~app.log", "x~app.log~2", "app.log"]);
});

Deno.test("globTest() reads *, ?, [..], [!..], {a,b}; * does not match hidden files; a bad pattern throws", () => {
  const log = globTest("*.log");
  assert(
    log("app.log") && log(".log") === false && !log("app.log.1") &&
      !log(".hidden.log"),
  );
  assert(globTest(".*")(".hidden"));
  assert(
    globTest("app-?.log")("app-1.log") && !globTest("app-?.log")("app-12.log"),
  );
  assert(globTest("[ab]*.txt")("a1.txt") && !globTest("[ab]*.txt")("c1.txt"));
  assert(globTest("[!ab]*")("c") && !globTest("[!ab]*")("a"));
  assert(
    globTest("{access,error}.log")("error.log") &&
      !globTest("{access,error}.log")("debug.log"),
  );
  assert(globTest("a+b(c).log")("a+b(c).log"), "regex characters are literal");
  assert(globTest("*")("anything at all") && !globTest("*")(".dot"));
  assert(assertThrows(() => globTest("{a,b")) instanceof RangeError);
});

Deno.test("Catalog (--dir) lists regular files and symlinks inside DIR; never FIFOs, directories or symlinks outside", async () => {
  const root = await Deno.makeTempDir();
  const dir = `${root}/d`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${dir}/a.log`, "a");
  await Deno.writeTextFile(`${dir}/b.txt`, "b");
  await Deno.writeTextFile(`${root}/outside.log`, "secret");
  await Deno.symlink(`${root}/outside.log`, `${dir}/out.log`);
  await Deno.symlink(`${dir}/a.log`, `${dir}/in.log`);
  await Deno.symlink(`${dir}/missing`, `${dir}/dangling.log`);
  await Deno.mkdir(`${dir}/sub.log`);
  assert(
    (await new Deno.Command("mkfifo", { args: [`${dir}/pipe.log`] }).output())
      .success,
  );
  const c = new Catalog({
    files: [],
    dir,
    glob: "*.log",
    maxFiles: 100,
    ttl: 0,
  });
  assertEquals((await c.entries()).map((e) => e.name), ["a.log", "in.log"]);
  assertEquals(await c.lookup("out.log"), undefined);
  assertEquals(await c.lookup("../outside.log"), undefined);
  assertEquals((await c.lookup("a.log"))?.path, `${dir}/a.log`);
  const list = await c.list();
  assertEquals(list.map((f) => [f.name, "size" in f ? f.size : f.error]), [[
    "a.log",
    1,
  ], ["in.log", 1]]);
  await Deno.writeTextFile(`${dir}/new.log`, "new");
  await Deno.remove(`${dir}/a.log`);
  assertEquals(
    (await c.entries()).map((e) => e.name),
    ["new.log"],
    "in.log now dangles, a.log is gone",
  );
});

Deno.test("Catalog (--dir) lists the first --max-files by name and warns once; reads DIR at most once per ttl", async () => {
  const dir = await Deno.makeTempDir();
  for (const n of ["c", "a", "d", "b"]) {
    await Deno.writeTextFile(`${dir}/${n}`, n);
  }
  const warnings: string[] = [];
  const c = new Catalog({
    files: [],
    dir,
    glob: "*",
    maxFiles: 2,
    ttl: 60_000,
    onWarning: (m) => warnings.push(m),
  });
  assertEquals((await c.entries()).map((e) => e.name), ["a", "b"]);
  await c.entries();
  assertEquals(warnings.length, 1);
  await Deno.writeTextFile(`${dir}/0`, "0");
  assertEquals(
    (await c.entries()).map((e) => e.name),
    ["a", "b"],
    "within the ttl, the listing is not read again",
  );
});

Deno.test("Catalog (FILEs) is the list as given; a missing file stays listed with its error", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/x.log`, "12345");
  const c = new Catalog({
    files: [`${dir}/x.log`, `${dir}/gone.log`],
    dir: null,
    glob: "*",
    maxFiles: 10,
    ttl: 0,
  });
  const list = await c.list();
  assertEquals(list[1]!.name, "x.log", "sorted by name");
  assertEquals("size" in list[1]! && list[1].size, 5);
  assertEquals(list[0], { name: "gone.log", error: "gone.log: file not found" });
});

Deno.test("rowsOf() turns /files into rows with encoded links, and drops malformed entries", () => {
  const rows = rowsOf([
    { name: "a b.log", size: 2048, lastMod: "18ece2539aee4d15" },
    { name: "gone", error: "gone: file not found" },
    { name: 5 },
    null,
    { name: "x", size: "big", lastMod: "1" },
  ], "/f/");
  assertEquals(rows.length, 2);
  assertEquals([rows[0]!.href, rows[0]!.size, rows[0]!.error], [
    "/f/a%20b.log",
    "2 KiB",
    "",
  ]);
  assert(rows[0]!.iso.startsWith("2026-") || rows[0]!.iso.length > 0);
  assertEquals([rows[1]!.href, rows[1]!.error], [
    "/f/gone",
    "gone: file not found",
  ]);
  assertEquals(rowsOf({ not: "a list" }, "/f/"), []);
});

Deno.test("renderIndex() escapes names, links them, and carries the URLs and poll period its script uses", () => {
  const html = renderIndex({
    files: [{ name: "<img src=x>.log", size: 3, lastMod: "18ece2539aee4d15" }, {
      name: "e",
      error: "e: gone",
    }],
    nonce: "abc",
    poll: 50,
    filesPath: "/files",
    pagePath: "/f/",
  });
  assert(
    html.includes("&lt;img src=x&gt;.log") && !html.includes("<img src=x>"),
    "escaped",
  );
  assert(html.includes(`href="/f/%3Cimg%20src%3Dx%3E.log"`));
  assert(
    html.includes(`data-files="/files" data-page="/f/" data-poll="500"`),
    "poll clamped to 500 ms",
  );
  assert(html.includes(`<script nonce="abc">`));
  assert(html.includes("e: gone"));
});

Deno.test("Hub channels: one watcher and one topic pair per file, started by the first viewer, stopped by the last", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/a`, "A");
  await Deno.writeTextFile(`${dir}/b`, "B");
  const options = parseConfig(["--dir", dir], {});
  const fake = fakeRuntime({ pubsub: true });
  const made: FileWatcher[] = [];
  const watcherFor = (file: string) => {
    const w = new FileWatcher({ file, poll: 3_600_000, maxFileSize: 1024, events: false });
    made.push(w);
    return w;
  };
  const hub = new Hub(options, null, fake.runtime, createLogger("text", true, () => {}), watcherFor);
  const gauge = (name: string) => parseExposition(hub.metrics.render()).get(name);
  try {
    const a = hub.channel("a", `${dir}/a`);
    const b = hub.channel("b", `${dir}/b`);
    assert(hub.channel("a", `${dir}/a`) === a, "one channel per name");
    assertEquals(made.length, 2);
    assertEquals(gauge("filewatch_watchers"), 0, "no viewer, no watcher running");
    await Promise.all([a.watcher.current(), b.watcher.current()]);
    const open = (ch: typeof a) => {
      assertEquals(hub.admit("1.1.1.1"), null);
      const before = fake.conns.length;
      void fake.runtime.upgrade(null as never, null, hub.connect("plain", "1.1.1.1", null, null, ch));
      return fake.conns[before]!;
    };
    const ca = open(a);
    const cb = open(b);
    assertEquals([ca.peer.sent, cb.peer.sent], [["A"], ["B"]]);
    assertEquals(gauge("filewatch_watchers"), 2);
    assert(ca.peer.topics.has(a.topics.plain) && !ca.peer.topics.has(b.topics.plain));
    assert(a.topics.plain !== b.topics.plain && a.topics.plain !== "fw.plain");
    await Deno.writeTextFile(`${dir}/a`, "A2");
    await a.watcher.check();
    assertEquals([ca.peer.sent, cb.peer.sent], [["A", "A2"], ["B"]], "a change reaches its file's viewers only");
    assertEquals(fake.published.map(([t]) => t), [a.topics.plain]);
    ca.events.onClose(1000, "");
    assertEquals(gauge("filewatch_watchers"), 1, "a's watcher stops with its last viewer");
    assertEquals(a.watcher.mode, "idle");
    cb.events.onClose(1000, "");
    assertEquals(gauge("filewatch_watchers"), 0);
    assertEquals(gauge("filewatch_versions_total"), 1);
  } finally {
    await hub.shutdown(10);
  }
});

Deno.test("watchName(): files in one directory share one watch; each hears its own name; the last to leave closes it", async () => {
  const dir = await Deno.makeTempDir();
  const heard = { a: 0, b: 0 };
  const before = watchedDirs();
  const stopA = watchName(dir, "a", { onEvent: () => heard.a++, onError: () => {} });
  const stopB = watchName(dir, "b", { onEvent: () => heard.b++, onError: () => {} });
  assertEquals(watchedDirs(), before + 1, "one watch for the directory");
  try {
    await Deno.writeTextFile(`${dir}/a`, "x");
    await waitFor(() => heard.a > 0, 3_000, "an event for a");
    await new Promise((r) => setTimeout(r, 100));
    assertEquals(heard.b, 0, "b hears nothing of a");
    stopA();
    assertEquals(watchedDirs(), before + 1, "b still watches");
  } finally {
    stopA();
    stopB();
  }
  assertEquals(watchedDirs(), before, "closed with the last");
});

Deno.test("Hub keeps at most IDLE_CHANNELS_KEPT channels without viewers (page views of many files), the newest", async () => {
  const dir = await Deno.makeTempDir();
  const options = parseConfig(["--dir", dir], {});
  const fake = fakeRuntime();
  const watcherFor = (file: string) => new FileWatcher({ file, poll: 3_600_000, maxFileSize: 1024, events: false });
  const hub = new Hub(options, null, fake.runtime, createLogger("text", true, () => {}), watcherFor);
  try {
    const first = hub.channel("f0", `${dir}/f0`);
    for (let i = 1; i < 40; i++) hub.channel(`f${i}`, `${dir}/f${i}`);
    assertEquals(hub.channels, IDLE_CHANNELS_KEPT);
    assert(hub.channel("f39", `${dir}/f39`) !== first);
    assertEquals(first.watcher.mode, "idle");
  } finally {
    await hub.shutdown(10);
  }
});
