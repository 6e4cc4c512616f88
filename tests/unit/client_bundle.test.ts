/**
 * src/client_bundle.ts is generated from src/client/ and committed: this
 * rebuilds it in memory (Node + esbuild from node_modules, as the build
 * script does) and fails when the committed file is not what the sources
 * give, so a change to the page's script cannot ship without its bundle.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { ROOT } from "../helpers/harness.ts";

Deno.test("src/client_bundle.ts is the current build of src/client/ (node scripts/build-client.mjs)", async () => {
  const out = await new Deno.Command("node", {
    args: [`${ROOT}scripts/build-client.mjs`, "--stdout"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert(out.success, `the build failed: ${err}`);
  const built = new TextDecoder().decode(out.stdout);
  assert(built.includes("export const CLIENT_SCRIPT"), "the build printed a module");
  const committed = await Deno.readTextFile(`${ROOT}src/client_bundle.ts`);
  // assertEquals on two 20 KB strings prints a diff that says where they part.
  assertEquals(committed, built, "src/client_bundle.ts is stale: run node scripts/build-client.mjs");
});
