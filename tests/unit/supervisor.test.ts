import { assert, assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";
import { availableParallelism } from "node:os";
import { ConfigError, MAX_WORKERS, parseConfig, parseWorkers, workersUnsupported } from "../../src/config.ts";
import { Metrics } from "../../src/metrics.ts";
import { pickPort } from "../../src/supervisor.ts";
import { WORKER_ID_ENV, WORKER_PORT_ENV, workerSlot } from "../../src/worker.ts";

Deno.test("parseWorkers() takes 1 to 64, or auto for one per core", () => {
  assertEquals(parseWorkers("1"), 1);
  assertEquals(parseWorkers("4"), 4);
  assertEquals(parseWorkers("auto"), Math.min(MAX_WORKERS, availableParallelism()));
  for (const bad of ["0", "65", "-1", "two", "1.5", ""]) {
    assert(assertThrows(() => parseWorkers(bad), bad) instanceof RangeError, bad);
  }
  assertEquals(parseConfig(["f"], {}).workers, 1, "one process by default");
  assertEquals(parseConfig(["f"], { FILEWATCH_WORKERS: "3" }).workers, 3);
  assertEquals(parseConfig(["--workers", "2", "f"], { FILEWATCH_WORKERS: "3" }).workers, 2, "flags win");
  const e = assertThrows(() => parseConfig(["--workers", "0", "f"], {}));
  assert(e instanceof ConfigError);
  assertMatch(e.message, /^Cannot parse --workers "0": expected a number from 1 to 64$/);
});

Deno.test("workerSlot() reads the supervisor's variables, and only well-formed ones", () => {
  assertEquals(workerSlot({}), null);
  assertEquals(workerSlot({ [WORKER_ID_ENV]: "1", [WORKER_PORT_ENV]: "8080" }), { id: 1, port: 8080 });
  assertEquals(workerSlot({ [WORKER_ID_ENV]: "1" }), null);
  assertEquals(workerSlot({ [WORKER_ID_ENV]: "x", [WORKER_PORT_ENV]: "8080" }), null);
});

Deno.test("workersUnsupported() refuses more than one worker where SO_REUSEPORT does not balance", () => {
  assertEquals(workersUnsupported(4, "linux"), null);
  assertEquals(workersUnsupported(1, "darwin"), null, "one process needs no port sharing");
  assertMatch(workersUnsupported(2, "darwin")!, /^Cannot use --workers 2 on darwin: .*Linux only/);
  assertMatch(workersUnsupported(2, "win32")!, /^Cannot use --workers 2 on win32/);
});

Deno.test("pickPort() finds a port that is free to listen on", async () => {
  const port = await pickPort("127.0.0.1");
  assert(port > 0 && port < 65536);
  const l = Deno.listen({ hostname: "127.0.0.1", port });
  l.close();
});

Deno.test("Metrics.constant labels every series (the worker under a supervisor)", () => {
  const m = new Metrics();
  m.define("a_total", "counter", "A.");
  m.define("b", "gauge", "B.", () => [{ labels: { reason: "x" }, value: 2 }]);
  m.inc("a_total", {}, 3);
  assertEquals(
    m.render(),
    '# HELP a_total A.\n# TYPE a_total counter\na_total 3\n# HELP b B.\n# TYPE b gauge\nb{reason="x"} 2\n',
  );
  m.constant = { worker: "1" };
  assertEquals(
    m.render(),
    '# HELP a_total A.\n# TYPE a_total counter\na_total{worker="1"} 3\n# HELP b B.\n# TYPE b gauge\nb{reason="x",worker="1"} 2\n',
  );
});
