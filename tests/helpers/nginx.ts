/**
 * Debian's real nginx for the proxy tests, run as a plain process with its
 * own prefix directory, in front of a filewatch server, with the site from
 * deploy/nginx.conf: only the listen port, the upstream address and the
 * certificate paths are substituted, each exactly once (so a change of the
 * file's shape fails here rather than testing something else).
 * @module
 */
import { ROOT } from "./harness.ts";

/** nginx's binary; `FILEWATCH_NGINX` overrides it. */
export const NGINX = Deno.env.get("FILEWATCH_NGINX") ?? "/usr/sbin/nginx";
/** The prefix deploy/nginx.conf serves filewatch under. */
export const PREFIX = "/logs";

export interface Nginx {
  port: number;
  pid: number;
  /** https://127.0.0.1:PORT */
  origin: string;
  /** Stops nginx (SIGQUIT, then SIGKILL after 5 s) and waits for it. */
  stop(): Promise<void>;
  errorLog(): Promise<string>;
}

/** A port nothing listens on right now. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** deploy/nginx.conf with the test's port, upstream and certificate. */
export async function siteConfig(o: { port: number; upstream: number; cert: string; key: string }): Promise<string> {
  let site = await Deno.readTextFile(`${ROOT}deploy/nginx.conf`);
  const swap = (from: RegExp, to: string) => {
    const n = [...site.matchAll(new RegExp(from, "gm"))].length;
    if (n !== 1) throw new Error(`deploy/nginx.conf: expected ${from} once, found it ${n} times`);
    site = site.replace(from, to);
  };
  swap(/^(\s*)listen 443 ssl;/m, `$1listen 127.0.0.1:${o.port} ssl;`);
  swap(/^(\s*)proxy_pass http:\/\/127\.0\.0\.1:8080;/m, `$1proxy_pass http://127.0.0.1:${o.upstream};`);
  swap(/^(\s*)ssl_certificate\s+\S+;/m, `$1ssl_certificate ${o.cert};`);
  swap(/^(\s*)ssl_certificate_key\s+\S+;/m, `$1ssl_certificate_key ${o.key};`);
  return site;
}

/** Starts nginx in front of filewatch on `upstream`; fails clearly when nginx is not installed. */
export async function startNginx(o: { upstream: number; cert: string; key: string; port?: number }): Promise<Nginx> {
  const dir = await Deno.makeTempDir({ prefix: "filewatch-nginx-" });
  // Run as root, nginx's workers switch to "nobody", which must reach the temp directories.
  await Deno.chmod(dir, 0o755);
  const port = o.port ?? freePort();
  await Deno.writeTextFile(`${dir}/site.conf`, await siteConfig({ port, ...o }));
  // The main file around the site, as Debian's /etc/nginx/nginx.conf would be, with every path in `dir`.
  const conf = [
    "worker_processes 1;",
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log info;`,
    "events { worker_connections 512; }",
    "http {",
    `  access_log ${dir}/access.log;`,
    ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((k) => `  ${k}_temp_path ${dir}/${k};`),
    `  include ${dir}/site.conf;`,
    "}",
    "",
  ].join("\n");
  const child = await runNginx({ conf, dir, port });
  return {
    port,
    pid: child.pid,
    origin: `https://127.0.0.1:${port}`,
    stop: () => stopNginx(child),
    errorLog: () => Deno.readTextFile(`${dir}/error.log`).catch(() => ""),
  };
}

/**
 * Runs nginx with `conf` as its main file, in the foreground (`-g 'daemon
 * off;'`) with `dir` as its prefix and `dir/error.log` as its start-up error
 * log; resolves once `ready` is true (by default: something accepts on
 * 127.0.0.1:`port`). When nginx exits first, or is not ready within 10 s, it
 * is stopped and the error says why with its stderr and error log. Fails
 * clearly when nginx is not installed. The one starter of the proxy and the
 * replica tests.
 */
export async function runNginx(
  o: { conf: string; dir: string; port: number; ready?: () => Promise<boolean> },
): Promise<Deno.ChildProcess> {
  try {
    await Deno.stat(NGINX);
  } catch {
    throw new Error(`Cannot find nginx at "${NGINX}": install it (apt-get install nginx) or set FILEWATCH_NGINX`);
  }
  const { dir, port } = o;
  const ready = o.ready ?? (async () => {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return true;
    } catch {
      return false;
    }
  });
  await Deno.writeTextFile(`${dir}/nginx.conf`, o.conf);
  const child = new Deno.Command(NGINX, {
    args: ["-p", `${dir}/`, "-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`, "-g", "daemon off;"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let errText = "";
  void (async () => {
    while (true) {
      const { value, done } = await stderr.read().catch(() => ({ value: undefined, done: true }));
      if (done) break;
      errText += value;
    }
  })();
  let exited = false;
  void child.status.then(() => {
    exited = true;
  });
  const why = async () => `${errText}\n${await Deno.readTextFile(`${dir}/error.log`).catch(() => "")}`;
  const end = Date.now() + 10_000;
  while (!await ready()) {
    if (exited) throw new Error(`nginx exited at start:\n${await why()}`);
    if (Date.now() > end) {
      await stopNginx(child);
      throw new Error(`nginx did not answer on ${port} in 10s:\n${await why()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

/**
 * Stops nginx as its own signals say: SIGQUIT to the master, which ends its
 * workers; SIGKILL only if it is still there after 5 s. Killing the master
 * outright leaves its workers running (orphans that keep the port and any
 * file descriptor they inherited).
 */
export async function stopNginx(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGQUIT");
  } catch { /* gone */ }
  const t = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 5_000);
  await child.status;
  clearTimeout(t);
}
