#!/usr/bin/env bash
# Remotes from files, the alternative to `kube-offload peer` (which the shipped Deployments follow):
# makes the kubeconfigs the local syncer and virtual node provider use to reach one remote
# cluster, as the identities manifests/remote creates there (apply it in the remote first), and
# optionally stores them in the local cluster's Secrets kube-offload-syncer-remotes and
# kube-offload-virtual-node-remotes under the key <name>.kubeconfig (other remotes' keys stay),
# which manifests/examples/remote-files mounts and passes with --remote=NAME=FILE.
#
#   scripts/remote-kubeconfig.sh --remote-context CTX --name NAME [options]
#
#   --remote-context CTX  kubeconfig context of the remote cluster (admin enough to make tokens)
#   --name NAME           the remote's name (the NAME of --remote NAME=FILE)
#   --server URL          the remote apiserver URL as the local pods reach it (default: the
#                         context's server)
#   --duration D          token lifetime, e.g. 8760h (default). The token expires: make a new
#                         one before then (KubeOffloadRemoteUnreachable fires when it has)
#   --long-lived          a token that never expires instead: a kubernetes.io/service-account-token
#                         Secret in the remote (revoke it by deleting that Secret)
#   --out DIR             where to write syncer/NAME.kubeconfig and virtual-node/NAME.kubeconfig
#                         (default ./remote-kubeconfigs, mode 0600)
#   --apply-context CTX   also store them in the LOCAL cluster of context CTX
#   --kubectl PATH        kubectl to use (default: kubectl on PATH)
set -euo pipefail

die() { printf 'remote-kubeconfig.sh: %s\n' "$*" >&2; exit 1; }

REMOTE_CTX="" NAME="" SERVER="" DURATION=8760h LONG_LIVED=false OUT=./remote-kubeconfigs APPLY_CTX="" KUBECTL=kubectl
while [[ $# -gt 0 ]]; do
  case "$1" in
    --remote-context) REMOTE_CTX=${2:?}; shift 2 ;;
    --name) NAME=${2:?}; shift 2 ;;
    --server) SERVER=${2:?}; shift 2 ;;
    --duration) DURATION=${2:?}; shift 2 ;;
    --long-lived) LONG_LIVED=true; shift ;;
    --out) OUT=${2:?}; shift 2 ;;
    --apply-context) APPLY_CTX=${2:?}; shift 2 ;;
    --kubectl) KUBECTL=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
done
[[ -n "$REMOTE_CTX" && -n "$NAME" ]] || die "--remote-context and --name are required (try --help)"
[[ "$NAME" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "--name $NAME is not a DNS label"

NS=kube-offload-system
remote() { "$KUBECTL" --context "$REMOTE_CTX" "$@"; }

# The remote's server and CA, as the admin's kubeconfig knows them.
cluster_field() { "$KUBECTL" config view --raw --minify --context "$REMOTE_CTX" -o "jsonpath={.clusters[0].cluster.$1}"; }
[[ -n "$SERVER" ]] || SERVER=$(cluster_field server)
CA_DATA=$(cluster_field 'certificate-authority-data')
if [[ -z "$CA_DATA" ]]; then
  CA_FILE=$(cluster_field 'certificate-authority')
  [[ -n "$CA_FILE" ]] || die "context $REMOTE_CTX has no certificate-authority(-data); the kubeconfigs need the remote's CA"
  CA_DATA=$(base64 -w0 <"$CA_FILE")
fi

token_for() { # token_for <service account>
  local sa=$1
  if [[ "$LONG_LIVED" == true ]]; then
    remote -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: $sa-token
  namespace: $NS
  annotations:
    kubernetes.io/service-account.name: $sa
type: kubernetes.io/service-account-token
EOF
    local token="" i
    for i in $(seq 1 50); do # the token controller fills it in within a moment
      token=$(remote -n "$NS" get secret "$sa-token" -o 'jsonpath={.data.token}')
      [[ -n "$token" ]] && break
      sleep 0.2
    done
    [[ -n "$token" ]] || die "the token controller did not fill in $NS/$sa-token"
    base64 -d <<<"$token"
  else
    remote -n "$NS" create token "$sa" --duration "$DURATION"
  fi
}

write_kubeconfig() { # write_kubeconfig <file> <user> <token>
  umask 077
  mkdir -p "$(dirname "$1")"
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: $NAME
    cluster:
      server: $SERVER
      certificate-authority-data: $CA_DATA
users:
  - name: $2
    user:
      token: $3
contexts:
  - name: $NAME
    context:
      cluster: $NAME
      user: $2
current-context: $NAME
EOF
}

store() { # store <secret> <file>: create the Secret, or add/replace just this remote's key
  local key="$NAME.kubeconfig" data
  data=$(base64 -w0 <"$2")
  if "$KUBECTL" --context "$APPLY_CTX" -n "$NS" get secret "$1" >/dev/null 2>&1; then
    "$KUBECTL" --context "$APPLY_CTX" -n "$NS" patch secret "$1" --type merge \
      -p "{\"data\":{\"$key\":\"$data\"}}" >/dev/null
  else
    "$KUBECTL" --context "$APPLY_CTX" -n "$NS" create secret generic "$1" --from-file="$key=$2" >/dev/null
  fi
  printf 'stored %s in %s/%s (context %s)\n' "$key" "$NS" "$1" "$APPLY_CTX"
}

for component in syncer virtual-node; do
  sa=kube-offload-$component-remote
  remote -n "$NS" get serviceaccount "$sa" >/dev/null ||
    die "ServiceAccount $NS/$sa not found in $REMOTE_CTX: kubectl --context $REMOTE_CTX apply -k manifests/remote"
  file="$OUT/$component/$NAME.kubeconfig"
  write_kubeconfig "$file" "$sa" "$(token_for "$sa")"
  printf 'wrote %s\n' "$file"
  [[ -z "$APPLY_CTX" ]] || store "kube-offload-$component-remotes" "$file"
done
