# errwatch in a container: built in one stage, run from a small one as an unprivileged user.
FROM rust:1-bookworm AS build
WORKDIR /src

# The dependencies first, librdkafka among them (minutes of C), in layers that only Cargo.toml
# and Cargo.lock decide: a change to errwatch's own code starts below them. Cargo wants a file
# for every target the manifest declares, so the bench and the test suite get empty ones.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches tests/it \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs benches/classify.rs tests/it/main.rs \
    && cargo build --release --locked --bin errwatch \
    && rm -rf src

# The real sources. The placeholder crate's fingerprints go, so that cargo rebuilds errwatch
# whatever the modification times the copied files carry.
COPY src src
COPY migrations migrations
RUN rm -rf target/release/.fingerprint/errwatch-* \
    && cargo build --release --locked --bin errwatch \
    && cp target/release/errwatch /usr/local/bin/errwatch

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin errwatch
COPY --from=build /usr/local/bin/errwatch /usr/local/bin/errwatch
# Numeric, so that a runtime that insists on a non-root user (Kubernetes' runAsNonRoot) can tell.
USER 10001:10001
ENTRYPOINT ["errwatch"]
CMD ["run"]
