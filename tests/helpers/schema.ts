/**
 * The filewatch.v1 contract, checked: every message the e2e suite receives on
 * a filewatch.v1 connection goes through {@link assertV1}, against the JSON
 * Schema published in docs/filewatch.v1.schema.json. A server change that the
 * document does not describe (a renamed field, a new type, a negative offset)
 * fails the suite instead of drifting from the docs.
 *
 * ajv (npm) rather than a hand-written check: the schema is the document
 * people read and feed to their own validators, so the tests must read that
 * very file with a real JSON Schema implementation.
 * @module
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import schema from "../../docs/filewatch.v1.schema.json" with { type: "json" };

/** The compiled schema: ajv's strict mode also refuses a schema with unknown keywords or loose types. */
const validate = new Ajv2020({ strict: true, allErrors: true }).compile(schema);

/** Thrown for a message the schema refuses; `errors` is ajv's list. */
export class SchemaViolation extends Error {
  override name = "SchemaViolation";
  constructor(readonly errors: unknown[], readonly received: unknown) {
    super(`not a filewatch.v1 message (docs/filewatch.v1.schema.json): ${describe(errors)}; got ${preview(received)}`);
  }
}

function describe(errors: unknown[]): string {
  return errors
    .map((e) => {
      const { instancePath, schemaPath, message, params } = e as Record<string, unknown>;
      return `${instancePath || "/"} ${message} ${JSON.stringify(params)} (${schemaPath})`;
    })
    .join("; ");
}

function preview(v: unknown): string {
  const s = JSON.stringify(v, (_k, x) => typeof x === "string" && x.length > 80 ? x.slice(0, 80) + "…" : x);
  return s === undefined ? String(v) : s.length > 400 ? s.slice(0, 400) + "…" : s;
}

/**
 * Throws a {@link SchemaViolation} unless `message` (parsed JSON) is a valid
 * filewatch.v1 message.
 *
 * @example
 * ```ts
 * assertV1({ type: "error", message: "file not found" }); // passes
 * assertV1({ type: "content" }); // throws: required lastMod, offset, size, data
 * ```
 */
export function assertV1(message: unknown): void {
  if (!validate(message)) throw new SchemaViolation([...(validate.errors ?? [])], message);
}

/** The schema's verdict without throwing: null when valid, else the reason. */
export function v1Violation(message: unknown): string | null {
  try {
    assertV1(message);
    return null;
  } catch (e) {
    if (e instanceof SchemaViolation) return e.message;
    throw e;
  }
}
