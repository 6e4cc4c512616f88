/**
 * The HTTP answers' contract, checked: every `/lines`, `/time` and `/files`
 * answer and every `/search` event the e2e suite receives goes through
 * {@link assertHttp}, against docs/http.schema.json, as tests/helpers/schema.ts
 * holds WebSocket messages to filewatch.v1's schema. A field the document does
 * not describe fails the suite instead of drifting from the docs.
 * @module
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import schema from "../../docs/http.schema.json" with { type: "json" };

const ajv = new Ajv2020({ strict: true, allErrors: true });
ajv.addSchema(schema, "http");

/** The answers docs/http.schema.json defines. */
export type HttpAnswer = "lines" | "time" | "searchEvent" | "files";

/**
 * Throws unless `value` (parsed JSON) is a valid `def` answer.
 * @example
 * ```ts
 * assertHttp("time", { n: 1, offset: 0, t: "2026-12-07T00:11:49.000Z" }); // passes
 * assertHttp("time", { n: 0 }); // throws: n must be >= 1, offset and t required
 * ```
 */
export function assertHttp(def: HttpAnswer, value: unknown): void {
  const validate = ajv.getSchema(`http#/$defs/${def}`)!;
  if (!validate(value)) {
    const shown = JSON.stringify(value)?.slice(0, 400);
    throw new Error(`not a ${def} answer (docs/http.schema.json): ${ajv.errorsText(validate.errors)}; got ${shown}`);
  }
}

/** `GET url` as JSON, checked against `def`; throws with the body on another status. */
export async function getJson<T>(url: string, def: HttpAnswer, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${text}`);
  const value = JSON.parse(text);
  assertHttp(def, value);
  return value as T;
}

/** The events of a `/search` answer (application/x-ndjson), each checked against `searchEvent`. */
export async function searchEvents(res: Response): Promise<Record<string, unknown>[]> {
  const text = await res.text();
  const events = text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const e of events) assertHttp("searchEvent", e);
  return events;
}
