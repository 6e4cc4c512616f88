/**
 * `--tls-cert` / `--tls-key`: read and checked at start-up, so a missing,
 * unreadable, malformed or mismatched pair is one clear line and exit 2 on
 * both runtimes, rather than whatever each runtime's TLS stack throws when
 * it first listens (docs/security.md#tls).
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";

/** PEM text for the runtime's serve options (`Deno.serve({cert, key})`, `Bun.serve({tls: {cert, key}})`). */
export interface TlsFiles {
  cert: string;
  key: string;
  /** When the certificate expires (for the start-up log). */
  notAfter: Date;
}

/**
 * Reads and validates a certificate (chain) and its private key.
 * @throws {RangeError} with a one-line reason naming the flag and the file
 */
export function loadTls(certPath: string, keyPath: string): TlsFiles {
  const read = (flag: string, path: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch (e) {
      const code = (e as { code?: string }).code;
      const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (e as Error).message;
      throw new RangeError(`Cannot read ${flag} "${path}": ${why}`);
    }
  };
  const cert = read("--tls-cert", certPath);
  const key = read("--tls-key", keyPath);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new RangeError(`Cannot use --tls-cert "${certPath}": not a PEM certificate`);
  }
  let pkey;
  try {
    pkey = createPrivateKey(key);
  } catch {
    throw new RangeError(`Cannot use --tls-key "${keyPath}": not a PEM private key (or it is encrypted)`);
  }
  if (!x509.checkPrivateKey(pkey)) {
    throw new RangeError(`Cannot use --tls-key "${keyPath}": it does not match the certificate in "${certPath}"`);
  }
  return { cert, key, notAfter: new Date(x509.validTo) };
}
