/**
 * When a watched file is looked at: every poll period, soon after a file
 * event, and again soon after an append. File events make changes fast;
 * polling makes them certain (docs/detection.md#watching-and-reading).
 * @module
 */
import { basename, dirname } from "node:path";
import { watchName } from "./dir_events.ts";
import { describeError } from "./read.ts";

/** File events come in bursts (truncate, write, close): wait this long for the burst to end. */
export const EVENT_DEBOUNCE_MS = 2;
/**
 * After an append was published, file events wait until this long after it
 * before the next check: a busy log (a line a millisecond) then goes out as
 * one append per this period, not one per line, while a quiet log's next
 * line still goes out at once. Must stay well under 100 ms, the longest an
 * append may wait (docs/detection.md#appends).
 */
export const APPEND_COALESCE_MS = 40;

/** What a {@link Schedule} needs to know of its file. */
export interface ScheduleOptions {
  file: string;
  /** Poll period, ms. */
  poll: number;
  /** Also watch the parent directory for events. */
  events: boolean;
  /** Told about event-watcher failures (polling carries on alone). */
  onWarning?: (message: string) => void;
}

/**
 * Calls `check` when the file should be looked at, between {@link start} and
 * {@link stop}. A check it asks for while one runs is the watcher's to
 * queue (src/watcher.ts).
 */
export class Schedule {
  #timer: ReturnType<typeof setInterval> | undefined;
  #debounce: ReturnType<typeof setTimeout> | undefined;
  /** Stops the file events; set while they run. */
  #stopEvents: (() => void) | undefined;
  /** performance.now() of the last published append (for {@link APPEND_COALESCE_MS}). */
  #lastAppendAt = -Infinity;

  constructor(readonly options: ScheduleOptions, readonly check: () => void) {}

  /** File events are being listened to (else only the poll looks). */
  get hasEvents(): boolean {
    return this.#stopEvents !== undefined;
  }

  /** Starts the poll and, when asked for, the file events. */
  start(): void {
    this.#timer = setInterval(this.check, this.options.poll);
    if (this.options.events) this.#startEvents();
  }

  /** Stops everything; {@link start} may run it again. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    clearTimeout(this.#debounce);
    this.#debounce = undefined;
    this.#endEvents();
  }

  /**
   * An append was published: the file is looked at again
   * {@link APPEND_COALESCE_MS} later whether or not an event comes (Deno has
   * gone a second without file events under load:
   * docs/detection.md#appends), and events wait until then too.
   */
  appended(): void {
    this.#lastAppendAt = performance.now();
    this.#soon(APPEND_COALESCE_MS);
  }

  /**
   * A file event: check soon. A check already scheduled takes every event
   * that comes before it (a busy log would otherwise push it back forever).
   */
  #onEvent(): void {
    this.#soon(Math.max(EVENT_DEBOUNCE_MS, this.#lastAppendAt + APPEND_COALESCE_MS - performance.now()));
  }

  /** Runs a check in `ms` unless one is already scheduled; the first check that finds nothing new schedules no more. */
  #soon(ms: number): void {
    // Only while watching: a check for a page view with nobody subscribed arms nothing.
    if (this.#debounce !== undefined || this.#timer === undefined) return;
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      this.check();
    }, Math.ceil(ms));
  }

  #startEvents(): void {
    const { file, poll, onWarning } = this.options;
    try {
      // The parent directory, not the file: an editor's rename-save replaces the
      // inode, and a watch on the old inode would go quiet. One watch per
      // directory serves every file in it (src/dir_events.ts).
      let active = true;
      const stop = watchName(dirname(file), basename(file), {
        onEvent: () => {
          // A stopped watcher must not arm the debounce timer, which would run a
          // check after the last subscriber left (tests/unit/watcher_leaks.test.ts).
          if (active) this.#onEvent();
        },
        onError: (e) => {
          onWarning?.(`file events stopped (${e.message}); polling every ${poll}ms`);
          this.#endEvents();
        },
      });
      this.#stopEvents = () => {
        active = false;
        stop();
      };
    } catch (e) {
      // ENOSPC (inotify limits), a missing directory, a filesystem without events:
      // polling carries on alone.
      onWarning?.(`file events unavailable (${describeError(e, dirname(file)).message}); polling every ${poll}ms`);
      this.#stopEvents = undefined;
    }
  }

  #endEvents(): void {
    try {
      this.#stopEvents?.();
    } catch { /* already closed */ }
    this.#stopEvents = undefined;
  }
}
