/**
 * The hub's series in `/metrics`, defined in one place (each is documented
 * in docs/operations.md#metrics). Counters are incremented by name where
 * their event happens (src/hub.ts, src/fanout.ts); gauges and the watchers'
 * counters are read at scrape time.
 * @module
 */
import type { Channel, Channels } from "./channels.ts";
import { Metrics } from "./metrics.ts";
import { CLOSE_REASONS, REFUSALS } from "./session.ts";

/** What the hub's gauges read at scrape time. */
export interface HubReadings {
  /** Connected clients. */
  clients(): number;
  /** Places taken under --max-clients. */
  admitted(): number;
  /** Clients whose writes are backed up. */
  lagging(): number;
  /** The files being watched. */
  channels: Channels;
}

/** A new registry holding the hub's series, in the order `/metrics` shows them. */
export function hubMetrics(read: HubReadings): Metrics {
  const m = new Metrics();
  const one = (value: number) => [{ labels: {}, value }];
  const total = (k: "versions" | "appends" | "readErrors") => () => one(read.channels.total(k));
  const channelsWhere = (test: (ch: Channel) => boolean) => {
    let n = 0;
    for (const ch of read.channels.values()) if (test(ch)) n++;
    return n;
  };
  m.define("filewatch_clients", "gauge", "Connected WebSocket clients.", () => one(read.clients()));
  m.define("filewatch_upgrades_total", "counter", "WebSocket upgrades accepted.");
  m.define(
    "filewatch_admitted_clients",
    "gauge",
    "Places taken under --max-clients: connected clients, upgrades in flight, and dropped ones not yet gone.",
    () => one(read.admitted()),
  );
  m.define(
    "filewatch_upgrades_refused_total",
    "counter",
    "WebSocket upgrades refused, by reason.",
    undefined,
    REFUSALS.map((reason) => ({ reason })),
  );
  m.define("filewatch_messages_sent_total", "counter", "Messages sent to clients.");
  m.define("filewatch_bytes_sent_total", "counter", "Payload bytes sent to clients.");
  m.define("filewatch_versions_total", "counter", "New versions of the file seen after the first.", total("versions"));
  m.define(
    "filewatch_appends_total",
    "counter",
    "New versions that were the previous one plus appended bytes (sent as appends).",
    total("appends"),
  );
  m.define(
    "filewatch_read_errors_total",
    "counter",
    "Times the file could not be read (each distinct error once).",
    total("readErrors"),
  );
  m.define(
    "filewatch_closes_total",
    "counter",
    "Connections closed, by reason.",
    undefined,
    CLOSE_REASONS.map((reason) => ({ reason })),
  );
  m.define(
    "filewatch_watch_mode",
    "gauge",
    "How changes are noticed (1 = current mode; with several files, how many watchers are in it).",
    () =>
      (["events", "polling", "idle"] as const).map((mode) => ({
        labels: { mode },
        value: channelsWhere((ch) => ch.watcher.mode === mode),
      })),
  );
  m.define(
    "filewatch_watchers",
    "gauge",
    "File watchers running (files with at least one viewer).",
    () => one(channelsWhere((ch) => ch.watcher.subscribers > 0)),
  );
  m.define("filewatch_lagging_clients", "gauge", "Clients whose writes are backed up.", () => one(read.lagging()));
  return m;
}
