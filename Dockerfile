# syntax=docker/dockerfile:1.7
#
# One image per service, all from one build of the workspace:
#
#   docker build --target archive-svc -t registry.example.com/call-archive/archive-svc:0.1.0 .
#   docker build --target media-svc   -t registry.example.com/call-archive/media-svc:0.1.0   .
#   docker build --target authz-svc   -t registry.example.com/call-archive/authz-svc:0.1.0   .
#   docker build --target audit-svc   -t registry.example.com/call-archive/audit-svc:0.1.0   .
#   docker build --target gateway     -t registry.example.com/call-archive/gateway:0.1.0     .
#
# BuildKit is required (cache mounts). The `build` stage is shared, so building
# the five targets one after another compiles the workspace once.
# k8s/validate.sh lints this file (hadolint) and checks that every target the
# manifests use exists here; no Docker engine is available where it was written,
# so it has not been built there.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------
# build: every service binary, release profile, exactly the locked dependencies.
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
# protoc comes from the protoc-bin-vendored crate and SQLite is compiled by
# libsqlite3-sys, so the rust image's gcc is all the native tooling needed.
# audit-svc's `s3` feature: its signed checkpoints go to an S3 bucket
# (AUDIT_CHECKPOINT_STORE=s3://…), with the object-store client media-svc uses.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
        -p archive-svc -p media-svc -p authz-svc -p audit-svc -p gateway \
        --features audit-svc/s3 \
    && mkdir -p /out \
    && cp target/release/archive-svc target/release/media-svc \
          target/release/authz-svc target/release/audit-svc \
          target/release/audit-verify target/release/gateway /out/

# ---------------------------------------------------------------------------
# runtime: glibc + CA certificates (media-svc's S3 client verifies TLS with the
# system roots), no shell, no package manager, user 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
# Logs as JSON lines for the cluster's log collector; RUST_LOG sets the level.
# Metrics on 9090 in every image (each service is alone in its container).
ENV LOG_FORMAT=json RUST_LOG=info METRICS_LISTEN=0.0.0.0:9090
USER 65532:65532

# The binaries' own defaults listen on 127.0.0.1, which nothing outside the
# container can reach: each image listens on all interfaces instead.

FROM runtime AS archive-svc
ENV ARCHIVE_LISTEN=0.0.0.0:50051
COPY --from=build /out/archive-svc /usr/local/bin/archive-svc
EXPOSE 50051 9090
ENTRYPOINT ["/usr/local/bin/archive-svc"]

FROM runtime AS media-svc
ENV MEDIA_LISTEN=0.0.0.0:50052 MEDIA_HTTP_LISTEN=0.0.0.0:8082
COPY --from=build /out/media-svc /usr/local/bin/media-svc
EXPOSE 50052 8082 9090
ENTRYPOINT ["/usr/local/bin/media-svc"]

FROM runtime AS authz-svc
ENV AUTHZ_LISTEN=0.0.0.0:50053
COPY --from=build /out/authz-svc /usr/local/bin/authz-svc
EXPOSE 50053 9090
ENTRYPOINT ["/usr/local/bin/authz-svc"]

FROM runtime AS audit-svc
ENV AUDIT_LISTEN=0.0.0.0:50054
# audit-verify checks a tenant's trail straight on a database (e.g. a restored
# backup) against the signed checkpoints, or an export offline:
# `kubectl exec … -- audit-verify --tenant 10009 --public-key HEX`.
COPY --from=build /out/audit-svc /out/audit-verify /usr/local/bin/
EXPOSE 50054 9090
ENTRYPOINT ["/usr/local/bin/audit-svc"]

FROM runtime AS gateway
ENV GATEWAY_LISTEN=0.0.0.0:50050 GATEWAY_HTTP_LISTEN=0.0.0.0:50056
COPY --from=build /out/gateway /usr/local/bin/gateway
EXPOSE 50050 50056 9090
ENTRYPOINT ["/usr/local/bin/gateway"]
# The gateway alone in front of the services; without `serve` the binary
# would start the whole embedded suite in one process.
CMD ["serve"]
