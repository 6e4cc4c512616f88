/**
 * Level colours (src/shared/palette.ts): each passes WCAG AA on every
 * background the page draws lines on, in both themes, computed here from
 * the hex values — and those backgrounds are the page's own.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { contrast, LEVEL_COLORS, luminance, type Theme, THEME_BACKGROUNDS, WCAG_AA } from "../../src/shared/palette.ts";
import { LEVELS } from "../../src/shared/levels.ts";
import { readdirSync, readFileSync } from "node:fs";

const SRC = new URL("../../src/", import.meta.url);

/**
 * The page's theme declarations, read from its source: the first time each
 * custom property is set is the light theme, the second the dark one. Looked
 * for in every source file but the bundle, so moving the style sheet does not
 * lose it.
 */
function pageThemes(): Record<Theme, Record<string, string>> {
  const files: string[] = [];
  const walk = (dir: URL) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(new URL(`${e.name}/`, dir));
      else if (e.name.endsWith(".ts") && e.name !== "client_bundle.ts") files.push(new URL(e.name, dir).pathname);
    }
  };
  walk(SRC);
  const out: Record<Theme, Record<string, string>> = { light: {}, dark: {} };
  for (const name of Object.keys(THEME_BACKGROUNDS.light)) {
    const values: string[] = [];
    for (const f of files) {
      for (const m of readFileSync(f, "utf8").matchAll(new RegExp(`--${name}:\\s*(#[0-9a-fA-F]{6})\\b`, "g"))) {
        values.push(m[1]!.toLowerCase());
      }
    }
    assertEquals(values.length, 2, `--${name} should be declared once per theme in src/ (found ${values.join(", ")})`);
    out.light[name] = values[0]!;
    out.dark[name] = values[1]!;
  }
  return out;
}

Deno.test("contrast() computes the WCAG 2 ratio", () => {
  assertEquals(contrast("#000000", "#ffffff"), 21);
  assertEquals(contrast("#ffffff", "#ffffff"), 1);
  assertEquals(contrast("#777777", "#ffffff").toFixed(2), "4.48", "the classic just-failing grey");
  assertEquals(contrast("#767676", "#FFFFFF").toFixed(2), "4.54", "the classic just-passing grey");
  assertEquals(luminance("#ffffff"), 1);
});

Deno.test("the backgrounds the palette was checked against are the page's own", () => {
  const page = pageThemes();
  assertEquals(page, { light: { ...THEME_BACKGROUNDS.light }, dark: { ...THEME_BACKGROUNDS.dark } });
  assert(luminance(page.light["bg"]!) > luminance(page.dark["bg"]!), "the first declarations are the light theme");
});

Deno.test("every level colour passes WCAG AA on every background of its theme", () => {
  const failing: string[] = [];
  for (const level of LEVELS) {
    for (const theme of ["light", "dark"] as const) {
      for (const [name, bg] of Object.entries(THEME_BACKGROUNDS[theme])) {
        const fg = LEVEL_COLORS[level][theme];
        const r = contrast(fg, bg);
        if (r < WCAG_AA) failing.push(`${level} ${fg} on ${theme} --${name} ${bg}: ${r.toFixed(2)}`);
      }
    }
  }
  assertEquals(failing, []);
});

Deno.test("the levels look different from each other in each theme", () => {
  for (const theme of ["light", "dark"] as const) {
    const colours = LEVELS.map((l) => LEVEL_COLORS[l][theme]);
    assertEquals(new Set(colours).size, LEVELS.length, theme);
  }
});
