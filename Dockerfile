# Builds every Homeostat binary; the compose file picks one per service with `command`.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --workspace --bins

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/homeostat /src/target/release/homeostat-ingest /src/target/release/homeostat-features \
     /src/target/release/homeostat-detector /src/target/release/homeostat-predictor /src/target/release/homeostat-actuator /usr/local/bin/
COPY deploy/homeostat.toml /etc/homeostat/homeostat.toml
EXPOSE 9100
