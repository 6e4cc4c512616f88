/**
 * Debian's nginx in front of filewatch processes, configured by the
 * repository's deploy/compose/nginx.conf (for tests/e2e/replicas_nginx.test.ts and
 * tests/browser/replicas.test.ts).
 * @module
 */
import { assertEquals } from "../assert.ts";
import { ROOT, waitFor } from "./harness.ts";
import { stopNginx } from "./nginx.ts";

export { stopNginx };

/** The nginx binary; `FILEWATCH_NGINX` overrides it. */
export const NGINX = Deno.env.get("FILEWATCH_NGINX") ?? "/usr/sbin/nginx";

/** A free loopback port. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

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

/** Runs nginx in the foreground with its own prefix; resolves once it answers. */
export async function startNginx(conf: string, dir: string, port: number): Promise<Deno.ChildProcess> {
  await Deno.writeTextFile(`${dir}/nginx.conf`, conf);
  const child = new Deno.Command(NGINX, {
    args: ["-p", dir, "-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`, "-g", "daemon off;"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    await waitFor(
      async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/healthz`);
          await res.body?.cancel();
          return res.ok;
        } catch {
          return false;
        }
      },
      10_000,
      "nginx answering",
    );
  } catch (e) {
    const output = child.output();
    await stopNginx(child);
    const err = new TextDecoder().decode((await output).stderr);
    throw new Error(`${(e as Error).message}\n${err}\n${await Deno.readTextFile(`${dir}/error.log`).catch(() => "")}`);
  }
  return child;
}
