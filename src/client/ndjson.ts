/**
 * Newline-delimited JSON read as it arrives: `/search` streams one JSON value
 * per line for as long as it scans, so the page reads its response body
 * chunk by chunk instead of waiting for the end. Pure apart from
 * {@link readNdjson}, which only pulls a stream's chunks through
 * {@link NdjsonSplitter}.
 * @module
 */

/**
 * Splits bytes into lines and parses each as JSON. Chunks may end anywhere:
 * inside a line, or inside a multi-byte UTF-8 character (the decoder keeps
 * the character's first bytes until the rest arrives). A line that is empty
 * is skipped; one that is not JSON is counted in {@link bad} and skipped, so
 * one broken line does not end a search's results.
 * @example
 * ```ts
 * const s = new NdjsonSplitter();
 * s.push(new TextEncoder().encode('{"n":1}\n{"n"')); // [{ n: 1 }]
 * s.push(new TextEncoder().encode(':2}\n'));         // [{ n: 2 }]
 * s.end();                                            // []
 * ```
 */
export class NdjsonSplitter {
  readonly #decoder = new TextDecoder("utf-8");
  /** The start of a line whose newline has not arrived yet. */
  #rest = "";
  /** Lines that were not JSON. */
  bad = 0;

  /** The values of the lines `chunk` completes. */
  push(chunk: Uint8Array): unknown[] {
    return this.#lines(this.#decoder.decode(chunk, { stream: true }), false);
  }

  /** The stream ended: the value of a last line without a newline, if any. */
  end(): unknown[] {
    return this.#lines(this.#decoder.decode(), true);
  }

  #lines(text: string, last: boolean): unknown[] {
    const out: unknown[] = [];
    let s = this.#rest + text;
    let at = 0;
    for (let nl = s.indexOf("\n"); nl !== -1; nl = s.indexOf("\n", at)) {
      this.#parse(s.slice(at, nl), out);
      at = nl + 1;
    }
    s = s.slice(at);
    if (last) {
      this.#parse(s, out);
      s = "";
    }
    this.#rest = s;
    return out;
  }

  #parse(line: string, out: unknown[]): void {
    if (line.trim() === "") return;
    try {
      out.push(JSON.parse(line));
    } catch {
      this.bad++;
    }
  }
}

/**
 * The JSON values of an NDJSON body, each as soon as its line is complete.
 * Cancelling the fetch (its AbortSignal) ends the iteration with the fetch's
 * AbortError; leaving the loop early cancels the body.
 * @example
 * ```ts
 * const res = await fetch(url, { signal });
 * for await (const value of readNdjson(res.body!)) console.log(value);
 * ```
 */
export async function* readNdjson(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const reader = body.getReader();
  const split = new NdjsonSplitter();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* split.push(value);
    }
    yield* split.end();
  } finally {
    // Stops the download when the consumer left early; harmless after the end.
    reader.cancel().catch(() => {});
  }
}
