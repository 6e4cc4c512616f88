/**
 * The index served at `/` when several files are watched
 * (docs/configuration.md#several-files): names, sizes and modification
 * times, server-rendered (usable without JavaScript), kept current by a
 * script that asks `/files` again every poll period.
 * Escaped by Hono's `html` template like the file's page; one nonce'd script
 * and style.
 * @module
 */
import { html } from "hono/html";
import type { FileInfo } from "./catalog.ts";
import { formatSize, tokenTimeMs } from "./shared/format.ts";
import { INDEX_SCRIPT } from "./client_bundle.ts";
import { renderShell } from "./page.ts";

/** What {@link renderIndex} needs; `nonce` must match the response's CSP. */
export interface IndexInput {
  files: FileInfo[];
  nonce: string;
  /** How often the script asks for the list again, ms (the poll period, within 0.5 s to 10 s). */
  poll: number;
  /** Where the list is (`/files`) and where a file's page is (`/f/` + name): the only URLs the page uses. */
  filesPath: string;
  pagePath: string;
}

const INDEX_CSS = `
table { border-collapse: collapse; margin: .6rem .9rem; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .25rem .9rem .25rem 0; border-bottom: 1px solid var(--line); }
td.size { text-align: right; }
td.error { color: var(--bad); }
a { color: var(--accent); font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
main { flex: 1; overflow: auto; }
`;

if (/<\/script|<!--/i.test(INDEX_SCRIPT)) {
  throw new Error("Cannot inline the index's script: it contains an end-tag sequence");
}

/** One row's cells as the server and the script both write them. */
export function rowCells(f: FileInfo): { size: string; modified: string; iso: string; error: string } {
  if ("error" in f) return { size: "", modified: "", iso: "", error: f.error };
  const ms = tokenTimeMs(f.lastMod);
  const iso = ms === null ? "" : new Date(ms).toISOString();
  return { size: formatSize(f.size), modified: iso, iso, error: "" };
}

/** Renders the index's HTML document. */
export function renderIndex(input: IndexInput): string {
  const { files, nonce } = input;
  const poll = Math.min(10_000, Math.max(500, input.poll));
  const rows = files.map((f) => {
    const c = rowCells(f);
    const href = input.pagePath + encodeURIComponent(f.name);
    return html`<tr data-name="${f.name}"><td><a href="${href}">${f.name}</a></td>${
      c.error
        ? html`
          <td class="size"></td>
          <td class="error">${c.error}</td>
        `
        : html`
          <td class="size">${c.size}</td>
          <td><time datetime="${c.iso}">${c.modified}</time></td>
        `
    }</tr>`;
  });
  // deno-fmt-ignore
  const header = html`<span id="file">files</span>
<span id="count" class="updated">${files.length} ${files.length === 1 ? "file" : "files"}</span>
`;
  // deno-fmt-ignore
  const body = html`<main>
<table>
<thead><tr><th>name</th><th>size</th><th>modified</th></tr></thead>
<tbody id="files">${rows}</tbody>
</table>
</main>`;
  return renderShell({
    title: "files",
    nonce,
    css: INDEX_CSS,
    data: { files: input.filesPath, page: input.pagePath, poll },
    header,
    body,
    script: INDEX_SCRIPT,
  });
}
