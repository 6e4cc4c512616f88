/**
 * The contract between the supervisor and its workers (src/worker.ts): the
 * variables, the start-up line as one side writes and the other reads it,
 * and the parent watch.
 * @module
 */
import { assertEquals } from "../helpers/assert.ts";
import { PassThrough } from "node:stream";
import {
  askToStop,
  exitWithSupervisor,
  parseStartupLine,
  startupLine,
  WORKER_ID_ENV,
  WORKER_PORT_ENV,
  workerEnv,
  workerSlot,
} from "../../src/worker.ts";

Deno.test("workerEnv() sets the variables workerSlot() reads back", () => {
  const env = workerEnv({ id: 3, port: 41234 });
  assertEquals(env, { [WORKER_ID_ENV]: "3", [WORKER_PORT_ENV]: "41234" });
  assertEquals(workerSlot({ PATH: "/bin", ...env }), { id: 3, port: 41234 });
});

Deno.test("parseStartupLine() reads back what startupLine() writes: what is watched and the URL", () => {
  for (
    const [watching, url] of [
      ["app.log", "http://127.0.0.1:8080/"],
      ["a.log b.log c.log", "https://[::1]:8443/logs/"],
      ["/var/log (*.log)", "http://0.0.0.0:1/"],
      ["12 files", "http://localhost:80/a/b/"],
    ]
  ) {
    const line = startupLine(watching!, url!);
    assertEquals(parseStartupLine(line), { watching, url }, line);
  }
  assertEquals(
    startupLine("app.log", "http://127.0.0.1:8080/"),
    "filewatch: watching app.log on http://127.0.0.1:8080/",
  );
});

Deno.test("parseStartupLine() passes over every other line a worker may print", () => {
  for (
    const line of [
      "",
      "filewatch: watching app.log",
      "filewatch: watching app.log on http://127.0.0.1:8080", // no trailing slash
      "filewatch: watching app.log on ftp://127.0.0.1:8080/",
      "filewatch: watching app.log on http://127.0.0.1:8080/ ", // trailing space
      " filewatch: watching app.log on http://127.0.0.1:8080/",
      '{"level":"info","msg":"listening","url":"http://127.0.0.1:8080/"}',
      "2024-01-01T00:00:00Z info listening url=http://127.0.0.1:8080/",
    ]
  ) {
    assertEquals(parseStartupLine(line), null, JSON.stringify(line));
  }
});

Deno.test("exitWithSupervisor() stops the worker once the supervisor's end of stdin closes, not before", async () => {
  const stdin = new PassThrough();
  let stops = 0;
  exitWithSupervisor(stdin, () => stops++);
  stdin.write("anything the supervisor might send\n");
  await new Promise((r) => setTimeout(r, 10));
  assertEquals(stops, 0, "data is not the end");
  stdin.end();
  await new Promise((r) => setTimeout(r, 10));
  assertEquals(stops, 1);
});

Deno.test("askToStop() names the signal on the worker's stdin, and the worker stops once, as on that signal", async () => {
  const pipe = new PassThrough();
  const signals: string[] = [];
  exitWithSupervisor(pipe, (signal) => signals.push(signal));
  askToStop(pipe, "SIGINT");
  await new Promise((r) => setTimeout(r, 10));
  // The line, then the end of stdin: one stop (a second would mean "exit now").
  assertEquals(signals, ["SIGINT"]);
});
