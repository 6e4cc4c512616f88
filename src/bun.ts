/**
 * Bun entrypoint: `bun run src/bun.ts FILE`. Only wiring; see src/main.ts.
 * @module
 */
import { accessOrExit, createServer, handleSignals, optionsOrExit, superviseWorkers, type TestHooks } from "./main.ts";
import { bunRuntime, type BunServer } from "./runtime/bun.ts";

/**
 * Runs the server with this process's arguments. `hooks` come from code only
 * (tests/e2e/lockout_server.ts); workers started by `--workers` do not get them.
 */
export function main(hooks: TestHooks = {}): void {
  const options = optionsOrExit(Bun.argv.slice(2), { compression: true }, "Bun");
  // Checked before any worker starts: a bad auth file or certificate exits 2 once.
  const access = accessOrExit(options);
  if (options.workers > 1) {
    superviseWorkers(options, { cmd: process.execPath, args: ["run", import.meta.filename, ...Bun.argv.slice(2)] });
  } else {
    const { runtime, websocket, attach } = bunRuntime(options);
    const server = createServer(options, runtime, access, hooks);
    try {
      const tls = access.tls ? { tls: { cert: access.tls.cert, key: access.tls.key } } : {};
      const http = Bun.serve({
        ...tls,
        hostname: options.host,
        port: options.port,
        reusePort: options.worker !== null,
        fetch: server.app.fetch,
        websocket,
      });
      attach(http as unknown as BunServer);
      server.listening(http.hostname ?? options.host, http.port ?? options.port);
      handleSignals(server, () => void http.stop(false));
    } catch (e) {
      console.error(`error: Cannot listen on ${options.host}:${options.port}: ${(e as Error).message}`);
      process.exit(1);
    }
  }
}

if (import.meta.main) main();
