/**
 * One connected client: what it has seen, what it still needs, and whether it
 * is alive. Kept small on purpose (ten thousand of them must fit in a few
 * MiB). Also the words for how a connection is refused or ends, as counted
 * in metrics and logs (docs/operations.md#metrics).
 * @module
 */
import type { Format } from "./messages.ts";
import type { Peer } from "./runtime/types.ts";

/** Why an upgrade was refused before it happened. */
export type Refusal = "origin" | "limit" | "ip_limit" | "bad_request" | "shutting_down";
/** Every {@link Refusal}. */
export const REFUSALS: readonly Refusal[] = ["origin", "limit", "ip_limit", "bad_request", "shutting_down"];

/** Why a connection ended, as counted in metrics and logs. */
export type CloseReason =
  | "client"
  | "pong_timeout"
  | "slow_consumer"
  | "read_limit"
  | "shutdown"
  | "error";

/** Close codes (RFC 6455 §7.4.1). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  /** Not sent on the wire: what a peer sees when the connection is dropped. */
  abnormal: 1006,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
} as const;

/** The close code and reason text the server sends for each {@link CloseReason} of its own. */
export const CLOSE_FOR: Readonly<Record<CloseReason, readonly [number, string]>> = {
  client: [CLOSE.normal, ""],
  pong_timeout: [CLOSE.policy, "pong timeout"],
  slow_consumer: [CLOSE.policy, "slow consumer"],
  read_limit: [CLOSE.tooBig, "message too big"],
  shutdown: [CLOSE.goingAway, "server shutting down"],
  error: [CLOSE.internal, "internal error"],
};

/** Every {@link CloseReason}. */
export const CLOSE_REASONS = Object.keys(CLOSE_FOR) as readonly CloseReason[];

/**
 * A connected client. The hub and the fan-out own the logic; this is the
 * state. Which file it watches the hub keeps (`Hub.sessions`).
 */
export class Session {
  /** Set once the runtime reports the socket open. */
  peer: Peer | null = null;
  /** The seq of the last snapshot handed to this client (0 = none). */
  seq = 0;
  /**
   * What the client holds: the lineage of its version (-1: none, or an
   * error), the version's token and its size. Within one lineage a version is
   * a prefix of every later one, so a client holding `size` bytes of it needs
   * only the bytes after them (src/lineage.ts).
   */
  lineage = -1;
  token: string | null = null;
  size = 0;
  /** ms timestamp: closed for silence when reached (where the core pings). */
  deadline = 0;
  /** ms timestamp: next ping due (where the core pings). */
  nextPing = 0;
  /** ms timestamp since which writes have been backing up; 0 = not stuck. */
  stuckSince = 0;
  /** Subscribed to its format's broadcast topic (runtimes with pub/sub). */
  inTopic = false;
  /** Set by whoever closes first; makes closing idempotent. */
  closeReason: CloseReason | null = null;
  /** Holds one of the hub's admission places until forgotten. */
  holdsSlot = true;

  constructor(
    readonly format: Format,
    readonly ip: string,
    /** The token of the version the client says it holds (`?lastMod=`), null = nothing seen. */
    readonly resumeToken: string | null,
    readonly openedAt: number,
    /** The size of that version (`?size=`), null = not given. */
    readonly resumeSize: number | null = null,
  ) {}
}
