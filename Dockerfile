# CassandraNet agent image. Nothing is pulled: the image is the static
# binary built on the host (make image runs `make build`, CGO_ENABLED=0).
#   make image && docker run --pull=never --rm cassnet:dev version
FROM scratch
COPY --chown=65532:65532 deploy/rootfs/ /
COPY bin/cassnet /cassnet
# A dedicated non-root user; /data (the data dir) and /shared (the
# compose join-token volume) belong to it, so named volumes do too.
USER 65532:65532
VOLUME ["/data"]
# gossip (TCP+UDP), Raft/RPC, libp2p, REST. The game-server gRPC port
# (7949) listens on 127.0.0.1 inside the container by default.
EXPOSE 7946/tcp 7946/udp 7947 7948 8080
ENTRYPOINT ["/cassnet"]
# e.g. agent --data-dir /data --bind 0.0.0.0 --advertise <this container's
# name> ... (deploy/compose.yaml)
CMD ["help"]
