# The jsbench image: `jsbench image build` (or docker/build-jsbench-image.sh, which runs it)
# builds it through the Docker API from the running jsbench binary. Its build context holds this
# recipe and rootfs/, which jsbench fills (harness/src/image/):
#   /jsbench                     the jsbench binary that ran `image build`
#   /lib…, /usr/lib…             the shared libraries it links and its dynamic loader, each at
#                                the path ldd resolved on the building machine (none if static)
#   /usr/local/bin/nats-server   the pinned nats-server (static): `jsbench coordinate` starts
#                                its coordination server with it (found on PATH)
#   /tmp                         empty, mode 1777
#   /etc/passwd, /etc/group      root and nobody (whose home is /tmp)
#   /etc/nsswitch.conf, /etc/hosts  name lookup through files then DNS (engines and Kubernetes
#                                mount their own /etc/hosts and /etc/resolv.conf over these)
# FROM scratch: nothing is pulled, so it builds on a machine without a registry.
FROM scratch
COPY rootfs/ /
# The directories of the shared libraries, passed by jsbench (the loader searches them first,
# whatever its compiled-in defaults on the machine the image runs on).
ARG JSBENCH_LIB_PATH=
ENV LD_LIBRARY_PATH=${JSBENCH_LIB_PATH} PATH=/usr/local/bin HOME=/tmp
# Not root: a worker only connects and publishes; a coordinator writes its results under --out
# (a mounted, writable volume) and its coordination server's store under /tmp.
USER 65534:65534
WORKDIR /tmp
ENTRYPOINT ["/jsbench"]
