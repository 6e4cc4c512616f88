# Stand-in for denoland/deno:debian-<version>, built from a local debootstrap
# rootfs because no image registry is reachable from the test machines. It
# reproduces what the project's Dockerfile relies on in the official image:
# deno at /usr/bin/deno, user deno (uid 1993), DENO_DIR=/deno-dir/ owned by it.
ARG ROOTFS_IMAGE
FROM ${ROOTFS_IMAGE}
# The test machines reach the npm registry through a TLS-intercepting proxy,
# so the stand-in trusts what the host trusts (the official image would use
# deno's built-in public roots, which suffice on an ordinary network).
COPY host-ca.pem /etc/ssl/certs/ca-certificates.crt
ENV DENO_CERT=/etc/ssl/certs/ca-certificates.crt
COPY deno /usr/bin/deno
RUN useradd --uid 1993 --user-group deno \
 && mkdir /deno-dir/ \
 && chown deno:deno /deno-dir/ \
 && deno --version
ENV DENO_DIR=/deno-dir/ \
    DENO_INSTALL_ROOT=/usr/local
CMD ["deno", "--version"]
