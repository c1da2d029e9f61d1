# teamgw in a container. Run it privileged with hugepages and the host's
# network devices, e.g.:
#   docker run --rm --privileged --network host -v /dev/hugepages:/dev/hugepages \
#     -v /etc/teamgw:/etc/teamgw teamgw -config /etc/teamgw/teamgw.toml
FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libdpdk-dev libsystemd-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# DPDK from its static archives, as `make` links it (dataplane/dpdk/dpdk.go).
ENV PKG_CONFIG=/src/dataplane/dpdk/pkg-config-static \
    CGO_LDFLAGS_ALLOW='-Wl,--(no-)?whole-archive|-l:.*'
RUN go build -trimpath -tags dpdkstatic -o /out/ ./cmd/teamgw ./cmd/teamctl

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends dpdk iproute2 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/teamgw /out/teamctl /usr/local/bin/
COPY configs/examples /etc/teamgw/examples
ENTRYPOINT ["/usr/local/bin/teamgw"]
CMD ["-config", "/etc/teamgw/teamgw.toml"]
