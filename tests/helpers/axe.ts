/**
 * axe-core in a page under test: `axeViolations(page)` runs the npm
 * `axe-core` engine in the page and returns what it finds at the impacts
 * asked for (serious and critical by default). For any page the suite opens:
 * the file's page, its error state, and the index of several files.
 * @module
 */
import type { Page } from "playwright-core";
import { ROOT } from "./harness.ts";

/** One rule axe found broken, with the elements it names. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

// The function given to page.evaluate() runs in the browser, where this exists.
declare const document: unknown;

let source: string | null = null;

/**
 * Runs axe-core over the whole document and returns the violations of the
 * given impacts. The page's CSP allows only its own nonce'd script, so a
 * `<script>` tag (Playwright's `addScriptTag`) would be refused; the engine's
 * source is evaluated through the DevTools protocol instead, which the CSP
 * does not govern, so the page is checked under its real policy.
 */
export async function axeViolations(
  page: Page,
  impacts: readonly string[] = ["serious", "critical"],
): Promise<AxeViolation[]> {
  source ??= await Deno.readTextFile(`${ROOT}node_modules/axe-core/axe.min.js`);
  const loaded = await page.evaluate("typeof axe");
  if (loaded === "undefined") await page.evaluate(`${source}\n;void 0`);
  const all = await page.evaluate(async () => {
    // deno-lint-ignore no-explicit-any
    const axe = (globalThis as any).axe;
    const r = await axe.run(document, { resultTypes: ["violations"] });
    // deno-lint-ignore no-explicit-any
    return r.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      // deno-lint-ignore no-explicit-any
      targets: v.nodes.map((n: any) => n.target.join(" ")),
    }));
  }) as AxeViolation[];
  return all.filter((v) => v.impact !== null && impacts.includes(v.impact));
}
