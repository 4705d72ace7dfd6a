# errwatch in a container: built in one stage, run from a small one.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin errwatch

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/errwatch /usr/local/bin/errwatch
USER nobody
ENTRYPOINT ["errwatch"]
CMD ["run"]
