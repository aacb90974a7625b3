# syntax=docker/dockerfile:1
#
# Base images, pinned by digest (the multi-arch index digest: the same reference serves amd64
# and arm64) so that a build is reproducible and a base change is a reviewed diff. The tag stays
# in front for readers; with both, the digest wins. These two were not pulled from the registries
# here (this project's CI has no route to them); each is the digest that several independent
# public projects pin for the same tag (node:24-bookworm-slim and
# gcr.io/distroless/nodejs24-debian12:nonroot), and the two were pinned together in one of them.
# Refresh them together, e.g. with Renovate's pinDigests or by hand:
#   docker buildx imagetools inspect node:24-bookworm-slim      (the "Digest:" line)
#   docker buildx imagetools inspect gcr.io/distroless/nodejs24-debian12:nonroot
# A build may still pass others: --build-arg NODE_IMAGE=... --build-arg RUNTIME_IMAGE=...
#
# The runtime image is distroless (gcr.io/distroless/nodejs24-debian12, maintained by Google's
# distroless project: Debian 12, the Node.js 24 LTS binary, no shell, no npm, no package
# manager, user 65532 "nonroot"), so an attacker in the container has no shell or npm to use.
# The trade-offs: `kubectl exec ... sh` does not work (debug with an ephemeral container:
# `kubectl debug -it POD --image=busybox --target=webhook`); the Node.js patch version is the
# one distroless ships, not node:24's; and it is built for amd64 and arm64 only. Dependencies
# are installed in a node:24-bookworm-slim stage (the same Debian 12), so nothing native breaks.
#
# test/e2e/install.test.ts builds this file with buildah and local stand-ins for both bases
# (src/sandbox/image-build.ts: node, npm and a busybox shell in the build base; /nodejs/bin/node
# and user 65532 in the runtime base), offline: a build step that needs more than node and npm
# needs the stand-ins extended too.
ARG NODE_IMAGE=node:24-bookworm-slim@sha256:3638d9a6fe4030bd716be989438248074489337ba3275657f93595428be4fc03
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a

# Build stage: compile TypeScript to dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY webhooks ./webhooks
RUN npm run build

# Production dependencies only, installed here so that the runtime image needs no npm.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# Runtime: compiled code and production dependencies, as a non-root user, no shell.
FROM ${RUNTIME_IMAGE}
ARG RUNTIME_IMAGE
ARG VERSION=0.1.0
ARG REVISION=""
ARG CREATED=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="kube-offload" \
      org.opencontainers.image.description="Admission webhooks, syncer and virtual node provider that stretch a Kubernetes namespace across clusters" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"
ENV NODE_ENV=production
WORKDIR /app
# package.json: "type": "module" for dist/, and the version `kube-offload version` prints.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
# 65532 is distroless's "nonroot"; numeric so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/nodejs/bin/node", "bin/kube-offload.js"]
CMD ["webhook", "--port=8443", "--host=0.0.0.0", "--cert-dir=/var/run/kube-offload/certs"]
