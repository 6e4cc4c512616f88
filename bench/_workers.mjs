// Worker processes of the load-client coordinators (bench/client.mjs,
// bench/append_client.mjs): fork one, wait for its next message of a type
// (bounded), and stop them all at the end of a run. The clients are spread
// over processes so that the client side can use more than one core; the
// plumbing is the same for both benchmarks, so it is here once.
import { fork } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Forks the worker script `url` with an IPC channel ("advanced" serialization:
 * typed arrays cross it as they are). Every message goes to `handlers`, then
 * to the oldest `next()` waiting for its type.
 */
export function forkWorker(url) {
  const child = fork(url, [], {
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const waiters = [];
  const handlers = new Set();
  child.on("message", (msg) => {
    for (const h of handlers) h(msg);
    const i = waiters.findIndex((wt) => wt.type === msg.type);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(msg);
  });
  child.on("exit", (code) => {
    for (const wt of waiters.splice(0)) wt.reject(new Error(`worker exited with ${code}`));
  });
  return {
    child,
    handlers,
    send: (m) => child.connected && child.send(m),
    /** Resolves with the next message of `type`; rejects after `ms`. */
    next(type, ms) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timeout waiting for worker "${type}"`)), ms);
        waiters.push({
          type,
          resolve: (m) => (clearTimeout(t), resolve(m)),
          reject: (e) => (clearTimeout(t), reject(e)),
        });
      });
    },
  };
}

/** Asks every worker to close, waits (at most 10 s) for them to exit, then SIGKILLs the rest. */
export async function stopWorkers(workers) {
  for (const wk of workers) wk.send({ cmd: "close" });
  await Promise.race([
    Promise.all(workers.map((wk) => new Promise((r) => wk.child.exitCode !== null ? r() : wk.child.once("exit", r)))),
    sleep(10_000),
  ]);
  for (const wk of workers) if (wk.child.exitCode === null) wk.child.kill("SIGKILL");
}
