/**
 * What deploy/ promises (docs/deployment.md), checked in the files themselves
 * (no YAML parser among the dependencies: the checks read the lines). The
 * nginx configuration is run for real by tests/e2e/replicas_nginx.test.ts.
 * @module
 */
import { readFileSync } from "node:fs";
import { assert, assertEquals } from "../helpers/assert.ts";
import { DEFAULTS, pingPeriodOf } from "../../src/config.ts";

const read = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), "utf8");
const num = (text: string, re: RegExp, what: string): number => {
  const m = re.exec(text);
  assert(m, `${what} not found`);
  return Number(m[1]);
};

Deno.test("deploy/kubernetes.yaml: 3+ replicas, probes, a PDB, a grace period that lets clients get 1001, a read-only shared volume, an nginx Ingress with long timeouts", () => {
  const k = read("deploy/kubernetes.yaml");
  const kinds = [...k.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]);
  assertEquals(kinds.sort(), ["Deployment", "Ingress", "PersistentVolumeClaim", "PodDisruptionBudget", "Service"]);
  assert(num(k, /^ {2}replicas: (\d+)$/m, "replicas") >= 3);
  assert(/readinessProbe:\n\s+(?:#.*\n\s+)*httpGet: \{ path: \/readyz/.test(k), "readiness on /readyz");
  assert(/livenessProbe:\n\s+httpGet: \{ path: \/healthz/.test(k), "liveness on /healthz");
  // preStop's sleep, then the server's shutdown (at most 5 s), must fit in the grace period.
  const preStop = num(k, /preStop:\n(?:\s+#.*\n)*\s+sleep: \{ seconds: (\d+) \}/, "preStop sleep");
  assert(
    num(k, /terminationGracePeriodSeconds: (\d+)/, "grace") >= preStop + 5 + 5,
    "grace ≥ preStop + shutdown + margin",
  );
  assert(/maxUnavailable: 1\n\s+selector:/.test(k), "the PDB lets one replica go at a time");
  assert(/accessModes: \[ReadOnlyMany\]/.test(k) && /claimName: filewatch-logs\n\s+readOnly: true/.test(k));
  assert(/mountPath: \/data, readOnly: true/.test(k));
  assert(/ingressClassName: nginx/.test(k));
  const pingSeconds = pingPeriodOf(DEFAULTS.pongWait) / 1000;
  for (const t of ["read", "send"]) {
    assert(num(k, new RegExp(`proxy-${t}-timeout: "(\\d+)"`), `proxy-${t}-timeout`) > 2 * pingSeconds);
  }
  assert(/FILEWATCH_MAX_CLIENTS_PER_IP, value: "0"/.test(k), "no per-address cap behind the Ingress");
});

Deno.test("deploy/compose: nginx's upstreams are the compose file's replicas; WebSocket headers and long timeouts", () => {
  const compose = read("deploy/compose/compose.yaml");
  const conf = read("deploy/compose/nginx.conf");
  const services = [...compose.matchAll(/^ {2}(filewatch-\d+): \*filewatch$/gm)].map((m) => m[1]);
  const upstreams = [...conf.matchAll(/^\s+server (filewatch-\d+):8080\b/gm)].map((m) => m[1]);
  assert(services.length >= 3, `replicas: ${services.join(", ")}`);
  assertEquals(upstreams, services);
  assert(/FILEWATCH_MAX_CLIENTS_PER_IP: "0"/.test(compose) && /:\/data:ro$/m.test(compose));
  for (const line of ["proxy_http_version 1.1;", "proxy_set_header Upgrade $http_upgrade;"]) {
    assert(conf.includes(line), line);
  }
  assert(/proxy_set_header Connection \$connection_upgrade;/.test(conf));
  assert(/proxy_read_timeout 1h;/.test(conf) && /proxy_buffering off;/.test(conf));
});

Deno.test("deploy/: the public names are allowed hosts, no per-address request cap behind a proxy, nginx bounds slow headers", () => {
  const k = read("deploy/kubernetes.yaml");
  const ingressHost = /^\s+- host: (\S+)$/m.exec(k)?.[1];
  assert(ingressHost, "the Ingress's host");
  assertEquals(/FILEWATCH_ALLOWED_HOSTS, value: (\S+) \}/.exec(k)?.[1], ingressHost, "the Ingress's host is answered");
  assert(/FILEWATCH_MAX_REQUESTS_PER_IP, value: "0"/.test(k), "no per-address request cap behind the Ingress");
  const compose = read("deploy/compose/compose.yaml");
  assert(/FILEWATCH_MAX_REQUESTS_PER_IP: "0"/.test(compose) && /FILEWATCH_ALLOWED_HOSTS: /.test(compose));
  const site = read("deploy/nginx.conf");
  const serverName = /^\s+server_name (\S+);$/m.exec(site)?.[1];
  assert(serverName, "server_name");
  assert(site.includes(`--allowed-host ${serverName}`), "the documented command answers the server_name");
  assert(/proxy_set_header Host \$http_host;/.test(site), "nginx passes the name on");
  for (const conf of [site, read("deploy/compose/nginx.conf")]) {
    assert(
      num(conf, /client_header_timeout (\d+)s;/, "client_header_timeout") <= 30,
      "slow headers cut off within 30 s",
    );
  }
});
