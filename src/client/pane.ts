/**
 * What the page's wiring (main.ts) asks of the content pane, whichever it
 * is: {@link ContentView}, which holds the whole text, or {@link BigView},
 * the large-file view that reads the file through the server.
 * @module
 */
import type { Shown } from "./pause.ts";

/** The content pane, as main.ts drives it. */
export interface Pane {
  /** Whether it shows any text (an error banner then says the last content stays). */
  readonly hasText: boolean;
  /** How many lines Go to line may ask for. */
  readonly lineCount: number;
  /** Why line numbers make no links (null: they do). */
  linksOff(): string | null;
  /** Shows a change the connection brought (after pause let it through). */
  show(change: Shown): void;
  /** Goes to the end and follows it. */
  followEnd(): void;
  /** Shows and marks line `n`; `scroll` brings it into view. */
  goToLine(n: number, scroll: boolean): void;
  /** Goes to the line a URL fragment names (`#L120`). */
  goToHash(hash: string): void;
  wrapToggled(): void;
  numbersToggled(): void;
  scrolled(): void;
  clicked(ev: MouseEvent): void;
  belowClicked(): void;
  focus(): void;
}
