/**
 * src/shared/ holds what the server and the page's script both run, so each
 * module there must be pure: no DOM, no runtime, nothing from outside the
 * folder but npm packages. Every file there, imported by anything yet or
 * not, is type-checked as the server is (no DOM library) and as the page
 * is (the DOM library, no `Deno`), and its imports are read.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { ROOT } from "../helpers/harness.ts";

const SHARED = `${ROOT}src/shared/`;

async function sharedFiles(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(SHARED)) {
    if (e.isFile && e.name.endsWith(".ts")) out.push(e.name);
  }
  return out.sort();
}

async function check(config: string): Promise<{ ok: boolean; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", "--config", config, "src/shared/"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { ok: r.success, out: text.decode(r.stdout) + text.decode(r.stderr) };
}

Deno.test("src/shared/ type-checks without the DOM (as the server) and without Deno (as the page)", async () => {
  const files = await sharedFiles();
  assert(files.includes("format.ts") && files.includes("chunks.ts"), files.join(", "));
  const server = await check("deno.json");
  assert(server.ok, `as the server (no DOM):\n${server.out}`);
  const page = await check("src/client/deno.json");
  assert(page.ok, `as the page (no Deno):\n${page.out}`);
});

Deno.test("src/shared/ imports nothing of the server, the page or a runtime", async () => {
  const bad: string[] = [];
  for (const name of await sharedFiles()) {
    const src = await Deno.readTextFile(SHARED + name);
    for (
      const m of src.matchAll(/\b(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']/g)
    ) {
      const spec = m[1] ?? m[2]!;
      // Within the folder, or an npm package (through the import map): nothing else.
      const local = spec.startsWith("./") && !spec.slice(2).includes("/");
      const pkg = !spec.startsWith(".") && !spec.startsWith("/") && !/^(node|jsr|bun|https?|file):/.test(spec);
      if (!local && !pkg) bad.push(`${name}: ${spec}`);
    }
  }
  assertEquals(bad, []);
});
