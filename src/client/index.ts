/**
 * The index page's script (several files: docs/configuration.md#several-files):
 * asks the server's `/files` again every poll period and redraws the table,
 * so files that appear, go or change show without a reload. The URLs come from the page
 * (`data-files`, `data-page` on `<body>`), never built here from the host.
 * scripts/build-client.mjs bundles it into src/client_bundle.ts (INDEX_SCRIPT).
 * @module
 */
import { type Row, rowsOf } from "./files.ts";

function start(): void {
  const body = document.body;
  const tbody = document.getElementById("files");
  const status = document.getElementById("status");
  const statusText = document.getElementById("status-text");
  const count = document.getElementById("count");
  if (!tbody || !status || !statusText || !count) {
    throw new Error("Cannot start the index: an element is missing");
  }
  const filesPath = body.dataset.files || "/files";
  const pagePath = body.dataset.page || "/f/";
  const poll = Math.max(500, Number(body.dataset.poll) || 1000);
  const setStatus = (state: string, text: string) => {
    status.dataset.state = state;
    statusText.textContent = text;
  };

  const cell = (text: string, cls?: string) => {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    return td;
  };
  const draw = (rows: Row[]) => {
    const trs = rows.map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.name = r.name;
      const a = document.createElement("a");
      a.href = r.href;
      a.textContent = r.name;
      const name = document.createElement("td");
      name.append(a);
      tr.append(name, cell(r.size, "size"));
      if (r.error) tr.append(cell(r.error, "error"));
      else {
        const td = document.createElement("td");
        const time = document.createElement("time");
        time.dateTime = r.iso;
        time.textContent = r.iso ? new Date(r.iso).toLocaleString() : "";
        td.append(time);
        tr.append(td);
      }
      return tr;
    });
    tbody.replaceChildren(...trs);
    count.textContent = `${rows.length} ${rows.length === 1 ? "file" : "files"}`;
  };

  let timer: number | undefined;
  let busy = false;
  const refresh = async () => {
    clearTimeout(timer);
    if (!busy) {
      busy = true;
      try {
        const res = await fetch(filesPath, {
          cache: "no-store",
          headers: { Accept: "application/json" },
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        draw(rowsOf(await res.json(), pagePath));
        setStatus("connected", "live");
      } catch {
        setStatus("offline", "offline, retrying");
      } finally {
        busy = false;
      }
    }
    timer = setTimeout(refresh, poll);
  };
  // Back from a file's page (the browser may restore this page as it was), or a tab shown again: at once.
  addEventListener("pageshow", () => void refresh());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") void refresh();
  });
  void refresh();
}

if (typeof document !== "undefined") start();
