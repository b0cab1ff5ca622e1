# syntax=docker/dockerfile:1
# Multi-stage: a release build, then a small non-root runtime image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rust-toolchain.toml ./
COPY src ./src
COPY migrations ./migrations
COPY assets ./assets
COPY data ./data
# Cargo.toml names the benchmark targets: without their sources cargo refuses the manifest.
COPY benches ./benches
RUN cargo build --release --locked --features jemalloc --bin cinema && strip target/release/cinema

FROM debian:bookworm-slim
# The base image tag pins the distribution; its security updates are wanted, so packages are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --create-home cinema
WORKDIR /app
COPY --from=build /src/target/release/cinema /usr/local/bin/cinema
USER 10001
ENV APP_ENV=production \
    BIND_ADDR=0.0.0.0:8080 \
    VAR_DIR=/app/var \
    LOG_FORMAT=json
EXPOSE 8080
# `cinema health` asks the server on BIND_ADDR for /health/ready: no curl in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["cinema", "health"]
# A command line, not an entrypoint, so that `docker compose run --rm api cinema create-admin …` reads as it runs.
CMD ["cinema", "serve"]
