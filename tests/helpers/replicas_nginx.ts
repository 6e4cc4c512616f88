/**
 * Debian's nginx in front of filewatch processes, configured by the
 * repository's deploy/compose/nginx.conf (for tests/e2e/replicas_nginx.test.ts and
 * tests/browser/replicas.test.ts).
 * @module
 */
import { assertEquals } from "./assert.ts";
import { ROOT } from "./harness.ts";
import { freePort, runNginx, stopNginx } from "./nginx.ts";

export { freePort, stopNginx };

/** deploy/compose/nginx.conf with the replicas, the listen address and the paths of this run. */
export function nginxConfig(upstreams: number[], port: number, dir: string): string {
  const conf = Deno.readTextFileSync(`${ROOT}deploy/compose/nginx.conf`);
  let i = 0;
  const out = conf
    .replace(/server filewatch-\d+:8080/g, () => `server 127.0.0.1:${upstreams[i++]}`)
    .replace(/listen 80;/, `listen 127.0.0.1:${port};`)
    .replace("/var/run/nginx.pid", `${dir}/nginx.pid`)
    .replaceAll("/var/cache/nginx/", `${dir}/`)
    .replace("/dev/stderr", `${dir}/error.log`);
  assertEquals(i, upstreams.length, "one upstream line per replica in deploy/compose/nginx.conf");
  return out;
}

/** Runs nginx (tests/helpers/nginx.ts's runNginx) on `conf`; resolves once it answers `/healthz` through a replica. */
export function startNginx(conf: string, dir: string, port: number): Promise<Deno.ChildProcess> {
  return runNginx({
    conf,
    dir,
    port,
    ready: async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        await res.body?.cancel();
        return res.ok;
      } catch {
        return false;
      }
    },
  });
}
