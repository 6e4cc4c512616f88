# Stand-in for oven/bun:<version>-slim, built from a local debootstrap rootfs
# because no image registry is reachable from the test machines. It
# reproduces what the project's Dockerfile relies on in the official image:
# bun at /usr/local/bin/bun (and bunx), user bun (uid 1000), the transpiler
# cache off, WORKDIR /home/bun/app.
ARG ROOTFS_IMAGE
FROM ${ROOTFS_IMAGE}
# The test machines reach the npm registry through a TLS-intercepting proxy,
# so the stand-in trusts what the host trusts (the official image would use
# bun's built-in public roots, which suffice on an ordinary network).
COPY host-ca.pem /etc/ssl/certs/ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
COPY bun /usr/local/bin/bun
ENV BUN_RUNTIME_TRANSPILER_CACHE_PATH=0
RUN groupadd bun --gid 1000 \
 && useradd bun --uid 1000 --gid bun --shell /bin/sh --create-home \
 && ln -s /usr/local/bin/bun /usr/local/bin/bunx \
 && bun --version
WORKDIR /home/bun/app
CMD ["bun", "--version"]
