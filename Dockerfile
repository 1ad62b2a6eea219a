# rogue-runner as a small container image: a static musl binary on `scratch`.
#   docker build -t rogue-runner .
#   docker run --rm rogue-runner --version
#   docker run --rm -v "$PWD:/work" --user "$(id -u):$(id -g)" rogue-runner \
#       run --scenarios-dir tests/rogue/scenarios --agent '*=http://host.docker.internal:8000'
# tests/distribution.rs checks the shape of this file (stages, user, entrypoint, certificates).

# Alpine's Rust targets x86_64/aarch64-unknown-linux-musl and links statically by default,
# so the binary needs no libc at run time. build-base: aws-lc-sys (rustls) compiles C.
ARG RUST_VERSION=1.95
FROM rust:${RUST_VERSION}-alpine AS build
RUN apk add --no-cache build-base ca-certificates
WORKDIR /src
COPY . .
# `ldd` lists no shared library: the build fails if the binary is not static (it would not
# start on scratch).
RUN cargo build --release --locked --bin rogue-runner \
    && cp target/release/rogue-runner /rogue-runner \
    && ! ldd /rogue-runner 2>/dev/null | grep -q '=>' \
    && /rogue-runner --version \
    && mkdir -p /rootfs/work

FROM scratch
# reqwest's rustls verifies servers with rustls-platform-verifier, which on Linux reads the
# system roots (SSL_CERT_FILE, else /etc/ssl/certs): scratch has none, so ship Alpine's bundle.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
COPY --from=build /rogue-runner /rogue-runner
# /work is where reports, ./reports/… and .rogue_cache go: writable by the non-root user
# (mount your repository there and pass --user to keep the files yours).
COPY --from=build --chown=65532:65532 /rootfs/work /work
WORKDIR /work
USER 65532:65532
ENTRYPOINT ["/rogue-runner"]
CMD ["--help"]
