# podagent's container image: a static-stdlib release build on a minimal, shell-less runtime base.
#
#   docker build -t podagent .
#
# The build stage runs scripts/release-build.sh, the same script CI runs (CI has no container engine).
# The runtime stage is distroless: glibc and libgcc (libstdc++ is linked in), no shell, no package
# manager; it runs as the non-root UID 65532. `watch`/`run` need no shell (--check and --exec run
# commands directly unless --shell), and `podagent install /shared` copies the binary into an emptyDir
# for other images.

FROM swift:6.3-bookworm AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libinotifytools0-dev libyaml-dev binutils >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
COPY scripts scripts
# install-deps.sh (called by the release script) finds everything installed and does nothing.
RUN scripts/release-build.sh /out/podagent

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/podagent /usr/local/bin/podagent
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/podagent"]
CMD ["--help"]
