# syntax=docker/dockerfile:1
# Multi-stage: a release build, then a small non-root runtime image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rust-toolchain.toml ./
COPY src ./src
COPY migrations ./migrations
COPY assets ./assets
COPY data ./data
RUN cargo build --release --locked --bin cinema && strip target/release/cinema

FROM debian:bookworm-slim
# The base image tag pins the distribution; its security updates are wanted, so packages are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
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
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["curl", "-fsS", "http://127.0.0.1:8080/health/ready"]
ENTRYPOINT ["cinema"]
CMD ["serve"]
