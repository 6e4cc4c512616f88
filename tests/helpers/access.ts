/**
 * What the access tests share (docs/security.md): an htpasswd file, Basic headers,
 * a certificate made with openssl at test time (never committed).
 * @module
 */
import bcrypt from "bcryptjs";

/** The users every access test uses. */
export const USER = "alice";
export const PASSWORD = "correct horse";

/** `Authorization: Basic …` for `user:password`. */
export function basic(user = USER, password = PASSWORD): string {
  return "Basic " + btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)));
}

/**
 * An htpasswd file as `htpasswd -B` writes it (`$2y$`, cost 5 unless a user
 * is given as `[password, cost]`), in a fresh directory; returns its path.
 */
export async function htpasswd(
  users: Record<string, string | [string, number]> = { [USER]: PASSWORD },
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "filewatch-auth-" });
  const lines = Object.entries(users).map(([u, p]) => {
    const [password, cost] = typeof p === "string" ? [p, 5] : p;
    return `${u}:${bcrypt.hashSync(password, cost).replace(/^\$2b\$/, "$2y$")}`;
  });
  const path = `${dir}/htpasswd`;
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made by openssl now,
 * as `cert.pem` and `key.pem` in `dir` (a fresh temporary directory when not
 * given); paths and the PEM text. Also used by tests/docker/check.ts.
 */
export async function certificate(
  dir?: string,
): Promise<{ dir: string; cert: string; key: string; pem: string }> {
  dir ??= await Deno.makeTempDir({ prefix: "filewatch-tls-" });
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      // Not a CA: rustls (Deno's fetch) refuses a CA certificate as the server's own.
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "extendedKeyUsage=serverAuth",
    ],
    stdout: "null",
    stderr: "piped",
  }).output().catch((e) => {
    throw new Error(`Cannot run openssl (apt-get install openssl): ${e.message}`);
  });
  if (!out.success) throw new Error(`openssl failed: ${new TextDecoder().decode(out.stderr)}`);
  return { dir, cert, key, pem: await Deno.readTextFile(cert) };
}
