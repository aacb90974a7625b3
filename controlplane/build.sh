#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, kwok) from Go modules into a cache outside the repository, keyed by version:
#
#   ${KUBE_OFFLOAD_CACHE:-$HOME/.cache/kube-offload}/<version-key>/bin
#
# The same bin dir also gets agnhost-webhook, Kubernetes' e2e admission webhook (a benchmark
# peer). It has a hash of its own: when only it is missing or stale, only it is built.
#
# Progress goes to stderr; stdout gets exactly one line, the bin directory, so callers can do
#   BIN=$(bash controlplane/build.sh | tail -1)
#
# Usage: build.sh [--print-bin-dir | --print-key | --force | --tool NAME | --real-node | --help]
#   --print-bin-dir  print the bin directory (built or not) and exit; needs no Go
#   --print-key      print the version key and exit
#   --force          rebuild even if the cache is complete
#   --tool NAME      build only the packaging tool NAME (helm, promtool) into the bin directory
#                    when missing or stale, and print its path (see build_tool below)
#   --real-node      build only what the sandbox's real nodes need (kubelet, kube-proxy, coredns,
#                    the demo shop's server) when missing or stale, and print the bin directory
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT=${KUBE_OFFLOAD_CACHE:-${HOME}/.cache/kube-offload}
# Bump when the build recipe below (flags, tags, stamps) changes, so caches are rebuilt.
RECIPE=1
# Bump when only the recipe of agnhost-webhook changes (its module, flags): rebuilds just it.
# A RECIPE bump already rebuilds it, with everything else, in the new cache dir.
AGNHOST_RECIPE=1
# Oldest Go that builds every module here (the highest `go` line among their dependencies).
MIN_GO=1.26.0

log() { printf '%s\n' "$*" >&2; }
die() { printf 'controlplane/build.sh: error: %s\n' "$*" >&2; exit 1; }

MODE=build
case "${1:-}" in
  "") ;;
  --print-bin-dir) MODE=print-bin-dir ;;
  --print-key) MODE=print-key ;;
  --force) MODE=force ;;
  --tool) MODE=tool; TOOL=${2:-}; [[ -n "$TOOL" ]] || die "--tool needs a name (helm, promtool)" ;;
  --real-node) MODE=real-node ;;
  -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument: $1 (try --help)" ;;
esac

# Module versions come straight from the go.mod files, so they are the single source of truth.
modver() { # modver <go.mod> <module path>
  local v
  v=$(sed -nE "s#^[[:space:]]*(require[[:space:]]+)?${2//./\\.}[[:space:]]+(v[^[:space:]]+).*#\\2#p" "$1" | head -n1)
  [[ -n "$v" ]] || die "cannot find $2 in $1"
  printf '%s' "$v"
}
K8S_VERSION=$(modver "$HERE/kube/go.mod" k8s.io/kubernetes)
ETCD_VERSION=$(modver "$HERE/etcd/go.mod" go.etcd.io/etcd/server/v3)
KWOK_VERSION=$(modver "$HERE/kwok/go.mod" sigs.k8s.io/kwok)

# Short hash of everything that determines the build: module files, wrapper sources, recipe.
SRC_HASH=$(
  cd "$HERE"
  {
    echo "recipe=$RECIPE"
    find kube etcd kwok -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print \
      | LC_ALL=C sort | xargs sha256sum
  } | sha256sum | cut -c1-12
)
KEY="k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}-${SRC_HASH}"
DEST="$CACHE_ROOT/$KEY"
BIN="$DEST/bin"

# agnhost-webhook is not part of KEY, so adding or changing it does not rebuild the control
# plane: its own hash (module files, main.go, AGNHOST_RECIPE) is written next to the bin dir,
# and a binary whose recorded hash differs is rebuilt alone.
AGNHOST=agnhost-webhook
AGNHOST_STAMP="$DEST/$AGNHOST.src-hash"
AGNHOST_HASH=$(
  cd "$HERE"
  {
    echo "agnhost-recipe=$AGNHOST_RECIPE"
    find agnhost -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print \
      | LC_ALL=C sort | xargs sha256sum
  } | sha256sum | cut -c1-12
)

case "$MODE" in
  print-bin-dir) printf '%s\n' "$BIN"; exit 0 ;;
  print-key) printf '%s\n' "$KEY"; exit 0 ;;
esac

# --- version stamps -----------------------------------------------------------------------
# set_version_stamps: sets kube_ldflags, etcd_ldflags, kwok_ldflags (also used by --real-node).
set_version_stamps() {
  local build_date k8s_core k8s_major k8s_minor pkg
  build_date=$(date -u ${SOURCE_DATE_EPOCH:+--date=@${SOURCE_DATE_EPOCH}} +%Y-%m-%dT%H:%M:%SZ)
  k8s_core=${K8S_VERSION#v}; k8s_core=${k8s_core%%[-+]*}
  k8s_major=${k8s_core%%.*}
  k8s_minor=${k8s_core#*.}; k8s_minor=${k8s_minor%%.*}
  kube_ldflags=""
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    kube_ldflags+=" -X ${pkg}.gitVersion=${K8S_VERSION}"
    kube_ldflags+=" -X ${pkg}.gitMajor=${k8s_major}"
    kube_ldflags+=" -X ${pkg}.gitMinor=${k8s_minor}"
    # Built from the published module zip, not a git checkout: no commit hash is known.
    # "archive" is the tree state upstream uses for source without git metadata.
    kube_ldflags+=" -X ${pkg}.gitCommit=unknown"
    kube_ldflags+=" -X ${pkg}.gitTreeState=archive"
    kube_ldflags+=" -X ${pkg}.buildDate=${build_date}"
  done
  etcd_ldflags=" -X go.etcd.io/etcd/api/v3/version.GitSHA=go-module-${ETCD_VERSION}"
  kwok_ldflags=" -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
  kwok_ldflags+=" -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}"
}

# require_go: Go >= MIN_GO on PATH (else a clear error); sets GOVER.
require_go() {
  local num
  command -v go >/dev/null 2>&1 ||
    die "'go' not found on PATH; Go >= ${MIN_GO} is needed to build the control plane"
  GOVER=$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null) || die "'go env GOVERSION' failed; is Go installed correctly?"
  GOVER=${GOVER#go}
  num=${GOVER%%[!0-9.]*} # strip suffixes such as "rc1" or " X:..."
  if [[ "$(printf '%s\n%s\n' "$MIN_GO" "$num" | sort -V | head -n1)" != "$MIN_GO" ]]; then
    die "Go ${GOVER} is too old; Go >= ${MIN_GO} is needed (k8s.io/kubernetes ${K8S_VERSION} requires it)"
  fi
}

# --- packaging tools: helm, promtool (build_tool) ------------------------------------------
# Used by the packaging tests only (the Helm chart, the PrometheusRule), so never built by a plain
# run: `build.sh --tool NAME` builds NAME when it is missing or its sources changed, and prints
# its path. Like agnhost-webhook they are not part of KEY: each tool's module (controlplane/NAME:
# go.mod with a `tool` line, go.sum) and TOOLS_RECIPE hash to <key>/NAME.src-hash, and the binary
# lands in the same bin dir, through a temp file renamed into place.
TOOLS_RECIPE=1
# name|package|-X version stamps (module versions come from the tool's go.mod)
tool_spec() {
  local v
  case "$1" in
    helm)
      v=$(modver "$HERE/helm/go.mod" helm.sh/helm/v4)
      printf '%s' "helm.sh/helm/v4/cmd/helm|-X helm.sh/helm/v4/internal/version.version=${v} -X helm.sh/helm/v4/internal/version.gitTreeState=archive" ;;
    promtool)
      # Prometheus publishes v3.X.Y as the Go module version v0.3XX.Y.
      v=$(modver "$HERE/promtool/go.mod" github.com/prometheus/prometheus)
      local minor=${v#v0.3}; minor=${minor%%.*}; minor=$((10#$minor))
      printf '%s' "github.com/prometheus/prometheus/cmd/promtool|-X github.com/prometheus/common/version.Version=3.${minor}.${v##*.} -X github.com/prometheus/common/version.Branch=archive" ;;
    *) die "unknown tool '$1' (helm, promtool)" ;;
  esac
}
tool_hash() { # tool_hash <name>
  (
    cd "$HERE"
    {
      echo "tools-recipe=$TOOLS_RECIPE"
      find "$1" -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print | LC_ALL=C sort | xargs sha256sum
    } | sha256sum | cut -c1-12
  )
}
build_tool() { # build_tool <name>: prints the binary's path
  local name=$1 spec pkg ldx hash tmp t0=$SECONDS
  spec=$(tool_spec "$name"); pkg=${spec%%|*}; ldx=${spec#*|}
  hash=$(tool_hash "$name")
  if [[ -x "$BIN/$name" && "$(cat "$DEST/$name.src-hash" 2>/dev/null)" == "$hash" ]]; then
    log "$name cached at $BIN/$name"
    printf '%s\n' "$BIN/$name"
    return 0
  fi
  command -v go >/dev/null 2>&1 || die "'go' not found on PATH; Go >= ${MIN_GO} is needed to build $name"
  export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
  mkdir -p "$BIN"
  tmp=$(mktemp -d "$BIN/.tmp-$name.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  log "building $name ($pkg, sources $hash)... go $(go env GOVERSION), GOMODCACHE=$(go env GOMODCACHE)"
  (cd "$HERE/$name" && go build -p 2 -mod=readonly -trimpath -buildvcs=false -ldflags="-s -w ${ldx}" -o "$tmp/$name" "$pkg") ||
    die "building $name ($pkg in controlplane/$name) failed"
  mv -f "$tmp/$name" "$BIN/$name"
  printf '%s\n' "$hash" >"$tmp/hash"
  mv -f "$tmp/hash" "$DEST/$name.src-hash"
  rm -rf "$tmp"
  trap - EXIT
  log "built $name in $((SECONDS - t0))s at $BIN/$name"
  printf '%s\n' "$BIN/$name"
}
if [[ "$MODE" == tool ]]; then
  build_tool "$TOOL"
  exit 0
fi

# --- real-node binaries: kubelet, kube-proxy, coredns, shop (build_real_node) ---------------
# What the sandbox's real nodes run (src/sandbox/realnode): a kubelet and kube-proxy from the same
# k8s.io/kubernetes as the control plane (module realnode/kube), a slim CoreDNS (realnode/coredns)
# and the demo shop's server (demo/shop/server, baked into the nodes' image). Never built by a plain
# run: `build.sh --real-node` builds each one that is missing or whose sources changed into the bin
# dir and prints the bin dir. Like agnhost-webhook they are not part of KEY: each binary's module
# files and REAL_NODE_RECIPE hash to <key>/NAME.src-hash. Build the control plane first: a full
# control-plane build replaces the whole key directory.
REAL_NODE_RECIPE=1
# name|module dir (relative to controlplane/)|package|kind (kube: the control plane's tags and stamps)
REAL_NODE_TARGETS=(
  "kubelet|realnode/kube|k8s.io/kubernetes/cmd/kubelet|kube"
  "kube-proxy|realnode/kube|k8s.io/kubernetes/cmd/kube-proxy|kube"
  "coredns|realnode/coredns|.|plain"
  "shop|../demo/shop/server|.|plain"
)
real_node_hash() { # real_node_hash <module dir>
  (
    cd "$HERE/$1"
    {
      echo "real-node-recipe=$REAL_NODE_RECIPE"
      find . -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print | LC_ALL=C sort | xargs sha256sum
    } | sha256sum | cut -c1-12
  )
}
real_node_stale() { # real_node_stale <target spec>: missing, or built from other sources
  local name dir
  IFS='|' read -r name dir _ <<<"$1"
  [[ ! -x "$BIN/$name" || "$(cat "$DEST/$name.src-hash" 2>/dev/null)" != "$(real_node_hash "$dir")" ]]
}
build_real_node_one() { # build_real_node_one <target spec> <temp dir>
  local name dir pkg kind tags="" ldx="" hash t0=$SECONDS
  IFS='|' read -r name dir pkg kind <<<"$1"
  hash=$(real_node_hash "$dir")
  [[ "$kind" == kube ]] && { ldx=$kube_ldflags; tags="selinux,notest,grpcnotrace"; }
  log "building $name (controlplane/$dir, sources $hash)..."
  (cd "$HERE/$dir" && go build -p 2 -mod=readonly -trimpath -buildvcs=false ${tags:+-tags="$tags"} \
    -ldflags="-s -w${ldx}" -o "$2/$name" "$pkg") || die "building $name ($pkg in controlplane/$dir) failed"
  mv -f "$2/$name" "$BIN/$name"
  printf '%s\n' "$hash" >"$2/hash"
  mv -f "$2/hash" "$DEST/$name.src-hash"
  log "built $name in $((SECONDS - t0))s"
}
build_real_node() {
  local t stale=() tmp
  [[ "$(modver "$HERE/realnode/kube/go.mod" k8s.io/kubernetes)" == "$K8S_VERSION" ]] ||
    die "controlplane/realnode/kube/go.mod must require k8s.io/kubernetes ${K8S_VERSION}, as controlplane/kube does"
  for t in "${REAL_NODE_TARGETS[@]}"; do real_node_stale "$t" && stale+=("$t"); done
  if ((${#stale[@]} == 0)); then
    log "real-node binaries cached at $BIN"
    return 0
  fi
  require_go
  export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
  mkdir -p "$BIN"
  exec 8>"$CACHE_ROOT/.lock-$KEY-real-node"
  flock 8
  set_version_stamps
  tmp=$(mktemp -d "$BIN/.tmp-real-node.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  for t in "${stale[@]}"; do
    real_node_stale "$t" && build_real_node_one "$t" "$tmp" # another run may have built it meanwhile
  done
  rm -rf "$tmp"
  trap - EXIT
}
if [[ "$MODE" == real-node ]]; then
  build_real_node
  printf '%s\n' "$BIN"
  exit 0
fi

# The agnhost module must use the control plane's k8s.io/kubernetes.
AGNHOST_K8S_VERSION=$(modver "$HERE/agnhost/go.mod" k8s.io/kubernetes)
[[ "$AGNHOST_K8S_VERSION" == "$K8S_VERSION" ]] ||
  die "controlplane/agnhost/go.mod requires k8s.io/kubernetes ${AGNHOST_K8S_VERSION}, controlplane/kube/go.mod ${K8S_VERSION}; they must match"

# name|module dir|package|kind
TARGETS=(
  "kube-apiserver|kube|k8s.io/kubernetes/cmd/kube-apiserver|kube"
  "kube-controller-manager|kube|k8s.io/kubernetes/cmd/kube-controller-manager|kube"
  "kube-scheduler|kube|k8s.io/kubernetes/cmd/kube-scheduler|kube"
  "kubectl|kube|k8s.io/kubernetes/cmd/kubectl|kube"
  "etcd|etcd|./cmd/etcd|etcd"
  "kwok|kwok|sigs.k8s.io/kwok/cmd/kwok|kwok"
)
# Built with the kube recipe (tags, version stamps); not in TARGETS, see AGNHOST_HASH.
AGNHOST_TARGET="$AGNHOST|agnhost|.|kube"

complete() { # complete <bin dir>: every control-plane binary present and executable
  local t
  for t in "${TARGETS[@]}"; do [[ -x "$1/${t%%|*}" ]] || return 1; done
}

agnhost_current() { # agnhost_current <dest dir>: agnhost-webhook present, built from these sources
  [[ -x "$1/bin/$AGNHOST" && "$(cat "$1/$AGNHOST.src-hash" 2>/dev/null)" == "$AGNHOST_HASH" ]]
}

if [[ "$MODE" != force ]] && complete "$BIN" && agnhost_current "$DEST"; then
  log "control plane cached at $BIN"
  printf '%s\n' "$BIN"
  exit 0
fi

# --- Go toolchain check -------------------------------------------------------------------
require_go # see its definition above
# Use the Go that is installed; never switch to (or download) another toolchain silently.
export GOTOOLCHAIN=local
# The modules here are standalone; ignore any go.work a parent directory might hold.
export GOWORK=off
# Static binaries like upstream releases; needs no C compiler.
export CGO_ENABLED=0

# --- one build at a time per key ----------------------------------------------------------
mkdir -p "$CACHE_ROOT"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_ROOT/.lock-$KEY"
  if ! flock -n 9; then
    log "another build of $KEY is running; waiting for it..."
    flock 9
  fi
  if [[ "$MODE" != force ]] && complete "$BIN" && agnhost_current "$DEST"; then
    log "control plane cached at $BIN"
    printf '%s\n' "$BIN"
    exit 0
  fi
  # We hold the lock: leftovers of interrupted builds of this key are safe to remove.
  rm -rf "$CACHE_ROOT/.tmp-$KEY".* "$BIN/.tmp-$AGNHOST".*
fi
trap 'exit 130' INT
trap 'exit 143' TERM

set_version_stamps

# --- build ----------------------------------------------------------------------------------
START=$SECONDS
build_one() { # build_one <target spec> <output file> <progress label>
  local name dir pkg kind tags="" ldx t0
  IFS='|' read -r name dir pkg kind <<<"$1"
  case "$kind" in
    kube) ldx=$kube_ldflags; tags="selinux,notest,grpcnotrace" ;; # upstream's release tags
    etcd) ldx=$etcd_ldflags ;;
    kwok) ldx=$kwok_ldflags ;;
  esac
  log "building $name ($3)... [$((SECONDS - START))s elapsed]"
  t0=$SECONDS
  if ! (cd "$HERE/$dir" && go build -p 2 -mod=readonly -trimpath -buildvcs=false ${tags:+-tags="$tags"} \
    -ldflags="-s -w${ldx}" -o "$2" "$pkg"); then
    die "building $name ($pkg in controlplane/$dir) failed"
  fi
  log "built $name in $((SECONDS - t0))s [$((SECONDS - START))s elapsed]"
}

# The control plane is there and current: build only agnhost-webhook (missing, or its sources
# changed) into the bin dir, through a temp file renamed over the old one, then record its hash.
if [[ "$MODE" != force ]] && complete "$BIN"; then
  log "control plane cached at $BIN; $AGNHOST is missing or out of date (sources $AGNHOST_HASH)"
  log "  go ${GOVER}, GOCACHE=$(go env GOCACHE), GOMODCACHE=$(go env GOMODCACHE)"
  ATMP=$(mktemp -d "$BIN/.tmp-$AGNHOST.XXXXXX")
  trap 'rm -rf "$ATMP"' EXIT
  build_one "$AGNHOST_TARGET" "$ATMP/$AGNHOST" "1/1"
  mv -f "$ATMP/$AGNHOST" "$BIN/$AGNHOST"
  printf '%s\n' "$AGNHOST_HASH" >"$ATMP/hash"
  mv -f "$ATMP/hash" "$AGNHOST_STAMP"
  rm -rf "$ATMP"
  trap - EXIT
  log "$AGNHOST built in $((SECONDS - START))s at $BIN"
  printf '%s\n' "$BIN"
  exit 0
fi

TMP=$(mktemp -d "$CACHE_ROOT/.tmp-$KEY.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"
mkdir -p "$TMP/bin"

log "building control plane $KEY"
log "  go ${GOVER}, GOCACHE=$(go env GOCACHE), GOMODCACHE=$(go env GOMODCACHE)"
ALL=("${TARGETS[@]}" "$AGNHOST_TARGET")
n=${#ALL[@]}
i=0
for t in "${ALL[@]}"; do
  i=$((i + 1))
  build_one "$t" "$TMP/bin/${t%%|*}" "$i/$n"
done
printf '%s\n' "$AGNHOST_HASH" >"$TMP/$AGNHOST.src-hash"

# --- publish atomically ---------------------------------------------------------------------
# DEST only ever appears by rename, complete. A stale DEST (binary deleted by hand, or --force)
# is moved aside first and removed after the swap.
OLD=""
if [[ -e "$DEST" ]]; then
  OLD="$CACHE_ROOT/.old-$KEY.$$"
  mv -T "$DEST" "$OLD"
fi
if ! mv -T "$TMP" "$DEST" 2>/dev/null; then
  complete "$BIN" || die "could not move $TMP to $DEST"
fi
[[ -n "$OLD" ]] && rm -rf "$OLD"
trap - EXIT
log "control plane built in $((SECONDS - START))s at $BIN"
printf '%s\n' "$BIN"
