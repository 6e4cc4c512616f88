/**
 * A watched file played by the test: the {@link FileOps} the watcher's reads
 * go through, answering from `state`, with a hook run before every call so a
 * test can act as a writer at exactly the moment it wants (between a read's
 * stats, on every try, at a given time). Races that a real writer only hits
 * by chance happen here every time.
 * @module
 */
import type { FileOps, OpenFile, RawStat } from "../../src/read.ts";

/** One state of the fake file. */
export interface FakeState {
  bytes: Uint8Array;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino?: bigint;
}

/** The calls a reader makes, in the order it makes them. */
export type FakeCall = "stat" | "open" | "fstat" | "read";

const enc = new TextEncoder();

/** A state with `text` and both times set to `ns`. */
export function fakeState(text: string, ns: bigint, ino = 7n): FakeState {
  return { bytes: enc.encode(text), mtimeNs: ns, ctimeNs: ns, ino };
}

/** Now in ns with sub-millisecond digits, so ctimes look fine-grained as Bun's do (and not whole seconds). */
export function fineNowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n + 123_457n;
}

export class FakeFile implements FileOps {
  /** The file as the next call sees it; null: it does not exist. */
  state: FakeState | null;
  /** Every call made, in order. */
  readonly calls: FakeCall[] = [];
  /** Runs before each call; may change {@link state}. */
  before: (call: FakeCall, n: number) => void = () => {};

  constructor(initial: FakeState | null) {
    this.state = initial;
  }

  #enter(call: FakeCall): FakeState {
    this.calls.push(call);
    this.before(call, this.calls.length);
    if (!this.state) throw Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
    return this.state;
  }

  #raw(s: FakeState): RawStat {
    return { mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs, size: BigInt(s.bytes.length), ino: s.ino ?? 7n, dev: 1n };
  }

  stat(_path: string): Promise<RawStat> {
    return Promise.resolve(this.#raw(this.#enter("stat")));
  }

  open(_path: string): Promise<OpenFile> {
    this.#enter("open");
    const file: OpenFile = {
      stat: () => Promise.resolve(this.#raw(this.#enter("fstat"))),
      read: (buf, offset, length, position) => {
        const s = this.#enter("read");
        const part = s.bytes.subarray(position, position + length);
        buf.set(part, offset);
        return Promise.resolve({ bytesRead: part.length });
      },
      close: () => Promise.resolve(),
    };
    return Promise.resolve(file);
  }
}
