/**
 * Deno entrypoint: `deno task start FILE`, or
 * `deno run --allow-net --allow-read --allow-env src/deno.ts FILE`.
 * Only wiring; see src/main.ts.
 * @module
 */
import { accessOrExit, createServer, handleSignals, optionsOrExit } from "./main.ts";
import { denoRuntime } from "./runtime/deno.ts";

if (import.meta.main) {
  const runtime0 = { compression: false };
  const options = optionsOrExit(Deno.args, runtime0, "Deno");
  const access = accessOrExit(options);
  const server = createServer(options, denoRuntime(options), access);
  try {
    const http = Deno.serve({
      ...(access.tls ? { cert: access.tls.cert, key: access.tls.key } : {}),
      hostname: options.host,
      port: options.port,
      onListen: ({ hostname, port }) => server.listening(hostname, port),
    }, server.app.fetch);
    handleSignals(server, () => void http.shutdown());
  } catch (e) {
    console.error(`error: Cannot listen on ${options.host}:${options.port}: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
