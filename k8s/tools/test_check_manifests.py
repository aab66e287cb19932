"""The checks of check_manifests.py pass on the real overlays and fail on each
kind of mistake they exist to catch (each test breaks one thing in a freshly
rendered overlay). Run by k8s/validate.sh:

    python3 -m unittest discover -s k8s/tools -p 'test_*.py'
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import check_manifests
import ed25519
import kube
import sources
from kube import Pod
from netpol import Address, Network

K8S = Path(__file__).resolve().parents[1]
ROOT = K8S.parent


def render(overlay: str) -> list[dict]:
    out = subprocess.run(["kubectl", "kustomize", str(K8S / "overlays" / overlay)],
                         check=True, capture_output=True, text=True).stdout
    return kube.load(out)


def container(objects: list[dict], workload: str, kind: str = "Deployment") -> dict:
    return kube.pod_spec(kube.named(objects, kind, workload))["containers"][0]


def configmap_of(objects: list[dict], workload: str) -> dict:
    """The workload's own ConfigMap (`<workload>-config-<hash>`), not the shared telemetry one."""
    names = [s["configMapRef"]["name"] for s in container(objects, workload)["envFrom"] if "configMapRef" in s]
    name = next(n for n in names if n.startswith(f"{workload}-config-"))
    return kube.named(objects, "ConfigMap", name)


# The files of the shared library a test may change (fake_root copies them).
COPIED_COMMON = ("host.rs", "identity/keys.rs")


def fake_root(tmp: str) -> Path:
    """A workspace root in `tmp` whose files a test may change: the Dockerfile,
    common/src/host.rs and common/src/identity/keys.rs copied, the service
    crates and the shared library's other files linked."""
    root = Path(tmp)
    for crate in sources.SERVICE_CONFIG:
        (root / crate).symlink_to(ROOT / crate)
    for path in (ROOT / "common/src").rglob("*"):
        if path.is_dir():
            continue
        relative = path.relative_to(ROOT / "common/src")
        target = root / "common/src" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative.as_posix() in COPIED_COMMON:
            shutil.copy(path, target)
        else:
            target.symlink_to(path)
    shutil.copy(ROOT / "Dockerfile", root / "Dockerfile")
    return root


def deployment_spec(objects: list[dict], name: str) -> dict:
    return kube.pod_spec(kube.named(objects, "Deployment", name))


def volume(objects: list[dict], workload: str, name: str, kind: str = "Deployment") -> dict:
    return next(v for v in kube.pod_spec(kube.named(objects, kind, workload))["volumes"] if v["name"] == name)


def generated(objects: list[dict], kind: str, prefix: str) -> dict:
    """The object a generator named `<prefix>-<hash>`."""
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(f"{prefix}-"))


def trust_configmap(objects: list[dict]) -> dict:
    return kube.named(objects, "ConfigMap", "archive-trust")


def edit_trust(objects: list[dict], holder: str, change: dict | None) -> None:
    """Updates `holder`'s entries of the render's trust file with `change`,
    or removes them (None)."""
    data = trust_configmap(objects)["data"]
    trust = json.loads(data["trust.json"])
    trust["keys"] = [k if k["holder"] != holder else k | change for k in trust["keys"]
                     if change is not None or k["holder"] != holder]
    data["trust.json"] = json.dumps(trust)


DEV_IDENTITY = K8S / "overlays/dev/identity"


def telemetry_configmap(objects: list[dict]) -> dict:
    return next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("telemetry-config-"))


class RealOverlays(unittest.TestCase):
    dev: list[dict]
    prod: list[dict]

    @classmethod
    def setUpClass(cls) -> None:
        cls.dev = render("dev")
        cls.prod = render("prod")

    def errors(self, objects: list[dict], external_secrets: bool = False, root: Path = ROOT) -> list[str]:
        report, _ = check_manifests.check(objects, external_secrets=external_secrets, root=root)
        return report.errors

    def assertFails(self, objects: list[dict], fragment: str, external_secrets: bool = False,
                    root: Path = ROOT) -> None:
        errors = self.errors(objects, external_secrets, root)
        self.assertTrue(any(fragment in e for e in errors),
                        f"expected an error containing {fragment!r}, got {errors}")

    def dev_copy(self) -> list[dict]:
        return copy.deepcopy(self.dev)

    # --- the real thing passes --------------------------------------------------

    def test_dev_overlay_passes(self) -> None:
        self.assertEqual(self.errors(self.dev), [])

    def test_prod_overlay_passes_with_its_secrets_listed_as_external(self) -> None:
        report, external = check_manifests.check(self.prod, external_secrets=True)
        self.assertEqual(report.errors, [])
        secrets = {name for kind, name in external if kind == "Secret"}
        self.assertEqual(secrets, {"archive-keys", "archive-database", "archive-object-store", "archive-tls",
                                   "archive-checkpoint-key", "archive-checkpoint-store"}
                         | {f"{svc}-identity" for svc in check_manifests.SERVICES})
        self.assertEqual({name for kind, name in external if kind == "ConfigMap"}, {"archive-trust"})
        self.assertEqual(external[("Secret", "archive-keys")],
                         {"jwt-secret", "playback-key", "page-token-secret (optional)"})
        self.assertEqual(external[("Secret", "archive-database")],
                         {f"{svc}{owner}" for svc in check_manifests.DATABASE_SERVICES for owner in ("", "-owner")})
        self.assertEqual(external[("Secret", "archive-checkpoint-key")], {"checkpoint-key.pem"})
        for svc in check_manifests.SERVICES:
            self.assertEqual(external[("Secret", f"{svc}-identity")], {f"{svc}.pem"})
        self.assertEqual(external[("ConfigMap", "archive-trust")], {"trust.json"})

    def test_prod_overlay_fails_where_secrets_must_be_in_the_render(self) -> None:
        self.assertFails(self.prod, "Secret archive-keys does not exist")
        self.assertFails(self.prod, "Secret media-svc-identity does not exist")
        self.assertFails(self.prod, "ConfigMap archive-trust does not exist")

    def test_other_configmaps_may_not_come_from_outside(self) -> None:
        objects = [o for o in copy.deepcopy(self.prod)
                   if not (o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("authz-svc-config-"))]
        self.assertFails(objects, "ConfigMap authz-svc-config-", external_secrets=True)

    # --- agreement with the code ------------------------------------------------

    def test_loopback_listen_address_is_caught(self) -> None:
        objects = self.dev_copy()
        configmap_of(objects, "archive-svc")["data"]["ARCHIVE_LISTEN"] = "127.0.0.1:50051"
        self.assertFails(objects, "ARCHIVE_LISTEN listens on 127.0.0.1")

    def test_listen_port_other_than_the_container_port_is_caught(self) -> None:
        objects = self.dev_copy()
        configmap_of(objects, "media-svc")["data"]["MEDIA_HTTP_LISTEN"] = "0.0.0.0:8083"
        self.assertFails(objects, "MEDIA_HTTP_LISTEN port 8083 is not a containerPort")

    def test_variable_the_binary_does_not_read_is_caught(self) -> None:
        objects = self.dev_copy()
        data = configmap_of(objects, "archive-svc")["data"]
        data["ARCHIVE_MEDIA_ENDPOINT"] = data.pop("ARCHIVE_MEDIA_URL")
        self.assertFails(objects, "sets ARCHIVE_MEDIA_ENDPOINT, which archive-svc does not read")

    def test_missing_required_variable_is_caught(self) -> None:
        objects = self.dev_copy()
        del configmap_of(objects, "audit-svc")["data"]["ARCHIVE_IDENTITY_KEY_FILE"]
        self.assertFails(objects, "ARCHIVE_IDENTITY_KEY_FILE is required by audit-svc and not set")
        del configmap_of(objects, "gateway")["data"]["ARCHIVE_TRUST_FILE"]
        self.assertFails(objects, "ARCHIVE_TRUST_FILE is required by gateway and not set")

    def test_the_retired_shared_identity_secret_is_caught(self) -> None:
        objects = self.dev_copy()
        container(objects, "media-svc")["env"].append(
            {"name": "ARCHIVE_IDENTITY_SECRET", "valueFrom": {"secretKeyRef": {"name": "archive-keys", "key": "x"}}})
        self.assertFails(objects, "sets ARCHIVE_IDENTITY_SECRET, which media-svc does not read")

    def test_database_url_left_to_its_sqlite_default_is_caught(self) -> None:
        objects = self.dev_copy()
        c = container(objects, "authz-svc")
        c["env"] = [v for v in c["env"] if v["name"] != "AUTHZ_DATABASE_URL"]
        self.assertFails(objects, "AUTHZ_DATABASE_URL must be set, from a Secret")

    def test_url_naming_a_missing_service_is_caught(self) -> None:
        objects = self.dev_copy()
        configmap_of(objects, "gateway")["data"]["GATEWAY_AUDIT_URL"] = "http://audit:50054"
        self.assertFails(objects, "names Service audit, which does not exist")

    def test_public_url_without_an_ingress_route_is_caught(self) -> None:
        objects = self.dev_copy()
        configmap_of(objects, "gateway")["data"]["GATEWAY_PUBLIC_URL"] = "https://elsewhere.example.org"
        self.assertFails(objects, "no Ingress routes elsewhere.example.org/exports/ to gateway:http")

    def test_gateway_without_serve_is_caught(self) -> None:
        objects = self.dev_copy()
        del container(objects, "gateway")["args"]
        self.assertFails(objects, "the gateway must run `serve`")

    def test_non_grpc_liveness_probe_is_caught(self) -> None:
        objects = self.dev_copy()
        container(objects, "authz-svc")["livenessProbe"] = {"tcpSocket": {"port": 50053}}
        self.assertFails(objects, "livenessProbe must be a grpc probe")

    def test_liveness_probe_on_the_overall_status_is_caught(self) -> None:
        objects = self.dev_copy()
        del container(objects, "archive-svc")["livenessProbe"]["grpc"]["service"]
        self.assertFails(objects, "livenessProbe asks about '', not the 'liveness' health name")

    def test_readiness_probe_on_the_liveness_name_is_caught(self) -> None:
        objects = self.dev_copy()
        container(objects, "media-svc")["readinessProbe"]["grpc"]["service"] = "liveness"
        self.assertFails(objects, "readinessProbe asks about 'liveness'")

    def test_liveness_name_missing_from_the_code_is_caught(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = fake_root(tmp)
            host = (ROOT / "common/src/host.rs").read_text().replace("pub const LIVENESS", "pub const ALIVE")
            (root / "common/src/host.rs").write_text(host)
            self.assertFails(self.dev, "no LIVENESS health name", root=root)

    # --- metrics and traces -------------------------------------------------------

    def test_metrics_listening_on_loopback_is_caught(self) -> None:
        objects = self.dev_copy()
        configmap_of(objects, "authz-svc")["data"]["METRICS_LISTEN"] = "127.0.0.1:9090"
        self.assertFails(objects, "METRICS_LISTEN listens on 127.0.0.1")

    def test_scrape_annotation_on_the_wrong_port_is_caught(self) -> None:
        objects = self.dev_copy()
        meta = kube.named(objects, "Deployment", "gateway")["spec"]["template"]["metadata"]
        meta["annotations"]["prometheus.io/port"] = "50050"
        self.assertFails(objects, "pod annotation prometheus.io/port is '50050', expected '9090'")

    def test_service_without_a_metrics_port_is_caught(self) -> None:
        objects = self.dev_copy()
        svc = kube.named(objects, "Service", "audit-svc")
        svc["spec"]["ports"] = [p for p in svc["spec"]["ports"] if p["name"] != "metrics"]
        self.assertFails(objects, "Service audit-svc has no port named metrics")

    def test_metrics_open_to_every_namespace_is_caught(self) -> None:
        objects = self.dev_copy()
        del kube.named(objects, "NetworkPolicy", "metrics-scrape")["spec"]["ingress"][0]["from"]
        self.assertFails(objects, "archive-svc:metrics reachable from")

    def test_metrics_closed_to_prometheus_is_caught(self) -> None:
        objects = [o for o in self.dev_copy()
                   if not (o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "metrics-scrape")]
        self.assertFails(objects, "media-svc:metrics reachable from [], expected exactly ['prometheus']")

    def test_another_monitoring_namespace_is_followed(self) -> None:
        objects = self.dev_copy()
        peer = kube.named(objects, "NetworkPolicy", "metrics-scrape")["spec"]["ingress"][0]["from"][0]
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] = "observability"
        self.assertEqual(self.errors(objects), self.errors(self.dev))

    def test_unknown_otel_variable_is_caught(self) -> None:
        objects = copy.deepcopy(self.prod)
        telemetry_configmap(objects)["data"]["OTEL_EXPORTER_OTLP_COMPRESSION"] = "gzip"
        self.assertFails(objects, "sets OTEL_EXPORTER_OTLP_COMPRESSION, which gateway does not read",
                         external_secrets=True)

    def test_otlp_over_http_protobuf_is_caught(self) -> None:
        objects = copy.deepcopy(self.prod)
        telemetry_configmap(objects)["data"]["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
        self.assertFails(objects, "OTEL_EXPORTER_OTLP_PROTOCOL: only grpc is supported", external_secrets=True)

    def test_sampler_ratio_out_of_range_is_caught(self) -> None:
        objects = copy.deepcopy(self.prod)
        telemetry_configmap(objects)["data"]["OTEL_TRACES_SAMPLER_ARG"] = "10"
        self.assertFails(objects, "OTEL_TRACES_SAMPLER_ARG must be a ratio", external_secrets=True)

    def test_collector_blocked_by_the_policies_is_caught(self) -> None:
        objects = [o for o in copy.deepcopy(self.prod)
                   if not (o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "telemetry-clients")]
        self.assertFails(objects, "OTEL_EXPORTER_OTLP_ENDPOINT: NetworkPolicies block media-svc -> "
                                  "otel-collector.observability:4317", external_secrets=True)

    def test_collector_reachable_from_a_pod_that_exports_nothing_is_caught(self) -> None:
        objects = copy.deepcopy(self.prod)
        labels = kube.named(objects, "Job", "archive-svc-migrate")["spec"]["template"]["metadata"]["labels"]
        labels["call-archive/telemetry-client"] = "true"
        self.assertFails(objects, "otel-collector.observability:4317 reachable from ['archive-svc', 'archive-svc-migrate', ",
                         external_secrets=True)

    def test_image_without_a_dockerfile_target_is_caught(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = fake_root(tmp)
            dockerfile = (ROOT / "Dockerfile").read_text().replace("AS authz-svc", "AS authz")
            (root / "Dockerfile").write_text(dockerfile)
            self.assertFails(self.dev, "no target `authz-svc`", root=root)

    def test_dockerfile_copying_an_unknown_binary_is_caught(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = fake_root(tmp)
            text = (root / "Dockerfile").read_text().replace("/out/audit-verify", "/out/audit-check")
            (root / "Dockerfile").write_text(text)
            self.assertFails(self.dev, "copies audit-check, which no crate builds", root=root)

    def test_serving_variable_in_the_migrate_job_is_caught(self) -> None:
        objects = self.dev_copy()
        container(objects, "authz-svc-migrate", "Job")["env"].append({"name": "AUTHZ_LISTEN", "value": "0.0.0.0:1"})
        self.assertFails(objects, "sets AUTHZ_LISTEN, which `authz-svc migrate` does not read")

    def test_services_migrating_on_start_are_caught(self) -> None:
        objects = self.dev_copy()
        configmap_of(objects, "archive-svc")["data"]["ARCHIVE_MIGRATE"] = "true"
        self.assertFails(objects, "ARCHIVE_MIGRATE: the services do not migrate")

    # --- the schema step -----------------------------------------------------------

    def test_missing_migrate_job_is_caught(self) -> None:
        objects = [o for o in self.dev_copy() if not (o["kind"] == "Job" and o["metadata"]["name"] == "audit-svc-migrate")]
        self.assertFails(objects, "needs exactly one Job running `audit-svc migrate`, found 0")

    def test_migrate_without_a_runtime_role_is_caught(self) -> None:
        objects = self.dev_copy()
        container(objects, "archive-svc-migrate", "Job")["args"] = ["migrate"]
        self.assertFails(objects, "args must be [migrate, --grant-to, <runtime role>]")

    def test_service_running_as_the_owner_is_caught(self) -> None:
        objects = self.dev_copy()
        for c in kube.all_containers(kube.pod_spec(kube.named(objects, "Deployment", "authz-svc"))):
            for var in c.get("env") or []:
                ref = (var.get("valueFrom") or {}).get("secretKeyRef")
                if ref and ref["key"] == "authz-svc":
                    ref["key"] = "authz-svc-owner"
        self.assertFails(objects, "the service must run as the runtime role")

    def test_runtime_url_of_another_role_than_the_grant_is_caught(self) -> None:
        objects = self.dev_copy()
        container(objects, "audit-svc-migrate", "Job")["args"][2] = "audit_reader"
        self.assertFails(objects, "AUDIT_DATABASE_URL connects as 'audit_svc', but Job audit-svc-migrate grants 'audit_reader'")
        self.assertFails(objects, "db-check checks role 'audit_svc', `migrate` grants 'audit_reader'")

    def test_deployment_not_waiting_for_the_schema_is_caught(self) -> None:
        objects = self.dev_copy()
        del kube.pod_spec(kube.named(objects, "Deployment", "archive-svc"))["initContainers"]
        self.assertFails(objects, "Deployment/archive-svc: no init container wait-for-schema")

    def test_stale_schema_version_is_caught(self) -> None:
        objects = self.dev_copy()
        wait = kube.pod_spec(kube.named(objects, "Deployment", "archive-svc"))["initContainers"][0]
        next(v for v in wait["env"] if v["name"] == "SCHEMA_VERSION")["value"] = "5"
        newest = sources.schema_version(ROOT, "archive-svc")
        self.assertFails(objects, f"waits for migration '5', the newest of archive-svc/migrations/postgres is {newest}")

    def test_migrate_job_without_the_database_check_is_caught(self) -> None:
        objects = self.dev_copy()
        del kube.pod_spec(kube.named(objects, "Job", "authz-svc-migrate"))["initContainers"]
        self.assertFails(objects, "Job/authz-svc-migrate: no init container db-check")

    # --- identities: each process's own key, the trust file ---------------------------

    def test_another_processs_key_mounted_is_caught(self) -> None:
        objects = self.dev_copy()
        stolen = copy.deepcopy(volume(objects, "archive-svc", "identity")) | {"name": "stolen"}
        deployment_spec(objects, "gateway")["volumes"].append(stolen)
        name = stolen["secret"]["secretName"]
        self.assertFails(objects, f"Deployment/gateway: mounts Secret {name}, the identity key of archive-svc")
        self.assertFails(objects, f"Deployment/gateway: mounts archive-svc.pem (Secret {name}), archive-svc's private key")

    def test_a_process_key_in_a_migrate_job_is_caught(self) -> None:
        objects = self.dev_copy()
        key = copy.deepcopy(volume(objects, "audit-svc", "identity"))
        kube.pod_spec(kube.named(objects, "Job", "audit-svc-migrate"))["volumes"].append(key)
        self.assertFails(objects, "Job/audit-svc-migrate: mounts Secret audit-svc-identity-")

    def test_a_process_key_read_as_a_variable_is_caught(self) -> None:
        objects = self.dev_copy()
        name = generated(objects, "Secret", "authz-svc-identity")["metadata"]["name"]
        container(objects, "archive-svc")["env"].append(
            {"name": "X", "valueFrom": {"secretKeyRef": {"name": name, "key": "authz-svc.pem"}}})
        self.assertFails(objects, f"Deployment/archive-svc: reads Secret {name}, the identity key of authz-svc")

    def test_one_secret_holding_every_key_is_caught(self) -> None:
        objects = self.dev_copy()
        shared = copy.deepcopy(generated(objects, "Secret", "gateway-identity"))
        shared["metadata"]["name"] = "archive-identity"
        for svc in check_manifests.SERVICES:
            shared["data"][f"{svc}.pem"] = generated(objects, "Secret", f"{svc}-identity")["data"][f"{svc}.pem"]
            volume(objects, svc, "identity")["secret"]["secretName"] = "archive-identity"
        objects.append(shared)
        self.assertFails(objects, "Secret/archive-identity: is the identity key Secret of ['archive-svc', "
                                  "'audit-svc', 'authz-svc', 'gateway', 'media-svc']: each process needs a Secret of its own")
        # Even mounted alone, a key in a shared Secret is there for everyone holding it.
        self.assertFails(objects, "Deployment/gateway: mounts Secret archive-identity, the identity key of archive-svc")

    def test_key_secret_holding_more_than_its_key_is_caught(self) -> None:
        objects = self.dev_copy()
        secret = generated(objects, "Secret", "media-svc-identity")
        secret["data"]["authority.pem"] = base64.b64encode((DEV_IDENTITY / "authority.pem").read_bytes()).decode()
        self.assertFails(objects, "holds ['authority.pem', 'media-svc.pem']: media-svc's key Secret holds media-svc.pem alone")
        self.assertFails(objects, "holds authority.pem, the operator's authority key: it belongs outside the cluster")

    def test_whole_key_secret_mounted_is_caught(self) -> None:
        objects = self.dev_copy()
        del volume(objects, "authz-svc", "identity")["secret"]["items"]
        self.assertFails(objects, "the identity key's volume must hold authz-svc.pem alone (items: [authz-svc.pem]), "
                                  "not the whole Secret")

    def test_another_processs_key_as_its_own_is_caught(self) -> None:
        objects = self.dev_copy()
        source = volume(objects, "archive-svc", "identity")["secret"]
        source["secretName"] = generated(objects, "Secret", "gateway-identity")["metadata"]["name"]
        source["items"] = [{"key": "gateway.pem", "path": "archive-svc.pem"}]
        self.assertFails(objects, "is key gateway.pem of Secret gateway-identity-")
        self.assertFails(objects, "archive-svc's own key is archive-svc.pem")
        self.assertFails(objects, "is the identity key Secret of ['archive-svc', 'gateway']")

    def test_key_file_outside_its_mount_is_caught(self) -> None:
        objects = self.dev_copy()
        configmap_of(objects, "media-svc")["data"]["ARCHIVE_IDENTITY_KEY_FILE"] = "/tmp/media-svc.pem"
        self.assertFails(objects, "ARCHIVE_IDENTITY_KEY_FILE=/tmp/media-svc.pem is not in a mounted Secret volume")
        self.assertFails(objects, "Deployment/media-svc: mounts no identity key Secret of its own")

    def test_key_readable_by_others_or_writable_is_caught(self) -> None:
        objects = self.dev_copy()
        volume(objects, "gateway", "identity")["secret"]["defaultMode"] = 0o444
        self.assertFails(objects, "the identity key's mode is 0o444: 0440")
        del next(m for m in container(objects, "gateway")["volumeMounts"] if m["name"] == "identity")["readOnly"]
        self.assertFails(objects, "the identity key must be mounted readOnly")

    def test_key_unreadable_without_fsgroup_is_caught(self) -> None:
        objects = self.dev_copy()
        del deployment_spec(objects, "media-svc")["securityContext"]["fsGroup"]
        self.assertFails(objects, "Deployment/media-svc (media-svc): no pod fsGroup")

    def test_authority_key_in_a_pod_is_caught(self) -> None:
        objects = self.dev_copy()
        objects.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                        "metadata": {"name": "archive-authority", "namespace": "call-archive-dev"},
                        "data": {"authority.pem": base64.b64encode((DEV_IDENTITY / "authority.pem").read_bytes()).decode()}})
        deployment_spec(objects, "gateway")["volumes"].append(
            {"name": "authority", "projected": {"sources": [{"secret": {"name": "archive-authority"}}]}})
        container(objects, "archive-svc-migrate", "Job")["env"].append(
            {"name": "X", "valueFrom": {"secretKeyRef": {"name": "archive-authority", "key": "authority.pem"}}})
        self.assertFails(objects, "Deployment/gateway: mounts authority.pem (Secret archive-authority), "
                                  "the operator's authority key")
        self.assertFails(objects, "Job/archive-svc-migrate: reads authority.pem (Secret archive-authority)")
        self.assertFails(objects, "Secret/archive-authority: holds authority.pem")

    def test_process_without_the_trust_file_is_caught(self) -> None:
        objects = self.dev_copy()
        c = container(objects, "media-svc")
        c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != "trust"]
        self.assertFails(objects, "ARCHIVE_TRUST_FILE=/var/run/archive/trust/trust.json is not in a mounted ConfigMap volume")
        self.assertFails(objects, "Deployment/media-svc: mounts no trust ConfigMap")

    def test_trust_file_mounted_by_subpath_is_caught(self) -> None:
        objects = self.dev_copy()
        mount = next(m for m in container(objects, "authz-svc")["volumeMounts"] if m["name"] == "trust")
        mount |= {"mountPath": "/var/run/archive/trust/trust.json", "subPath": "trust.json"}
        self.assertFails(objects, "the trust ConfigMap is mounted by subPath")

    def test_two_trust_files_are_caught(self) -> None:
        objects = self.dev_copy()
        other = copy.deepcopy(trust_configmap(objects))
        other["metadata"]["name"] = "media-trust"
        objects.append(other)
        volume(objects, "media-svc", "trust")["configMap"]["name"] = "media-trust"
        self.assertFails(objects, "every process must read the same trust file")

    def test_generated_or_immutable_trust_configmap_is_caught(self) -> None:
        objects = self.dev_copy()
        trust_configmap(objects)["immutable"] = True
        self.assertFails(objects, "ConfigMap/archive-trust: is immutable")
        trust_configmap(objects)["metadata"]["name"] = "archive-trust-7b9fmdg5k2"
        for svc in check_manifests.SERVICES:
            volume(objects, svc, "trust")["configMap"]["name"] = "archive-trust-7b9fmdg5k2"
        self.assertFails(objects, "ConfigMap/archive-trust-7b9fmdg5k2: has a generated name")

    def test_trust_file_without_a_process_key_is_caught(self) -> None:
        objects = self.dev_copy()
        edit_trust(objects, "audit-svc", None)
        self.assertFails(objects, "trusts no current key of audit-svc")
        self.assertFails(objects, "audit-svc.pem is not a key archive-trust/trust.json trusts for audit-svc")

    def test_expired_key_is_caught(self) -> None:
        objects = self.dev_copy()
        edit_trust(objects, "gateway", {"not_after": "2020-01-01T00:00:00Z"})
        self.assertFails(objects, "trusts no current key of gateway")

    def test_key_secret_not_in_the_trust_file_is_caught(self) -> None:
        objects = self.dev_copy()
        # audit-svc's Secret with the checkpoint key instead of its identity key.
        secret = generated(objects, "Secret", "audit-svc-identity")
        secret["data"]["audit-svc.pem"] = base64.b64encode((K8S / "overlays/dev/checkpoint-key.pem").read_bytes()).decode()
        self.assertFails(objects, "audit-svc.pem is not a key archive-trust/trust.json trusts for audit-svc "
                                  "(3c2f8d2bbc064807225142fba7f37c22b4f61ee015bcddf0dbab8f9e51a248f2)")

    def test_trust_file_with_a_wrong_role_or_kid_is_caught(self) -> None:
        objects = self.dev_copy()
        edit_trust(objects, "media-svc", {"role": "gateway"})
        self.assertFails(objects, "role 'gateway', media-svc's is 'service'")
        edit_trust(objects, "media-svc", {"kid": "media-svc.0000000000000000"})
        self.assertFails(objects, "key 'media-svc.0000000000000000': its kid is media-svc.")

    def test_private_key_in_a_configmap_is_caught(self) -> None:
        objects = self.dev_copy()
        trust_configmap(objects)["data"]["gateway.pem"] = (DEV_IDENTITY / "gateway.pem").read_text()
        self.assertFails(objects, "ConfigMap/archive-trust: holds a private key: ConfigMaps are not secret")

    def test_key_holders_other_than_the_processes_are_caught(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = fake_root(tmp)
            keys = root / "common/src/identity/keys.rs"
            keys.write_text(keys.read_text().replace('("media-svc", Role::Service)', '("media", Role::Service)'))
            self.assertFails(self.dev, "the key holders ['archive-svc', 'audit-svc', 'authz-svc', 'gateway', 'media'] "
                                       "are not the suite's processes", root=root)

    # --- audit-svc's checkpoint key, the gateway's proxies -------------------------

    def test_checkpoint_key_mounted_into_another_pod_is_caught(self) -> None:
        objects = self.dev_copy()
        audit = kube.pod_spec(kube.named(objects, "Deployment", "audit-svc"))
        key = next(v for v in audit["volumes"] if v["name"] == "checkpoint-key")
        kube.pod_spec(kube.named(objects, "Deployment", "gateway")).setdefault("volumes", []).append(copy.deepcopy(key))
        self.assertFails(objects, "Deployment/gateway: mounts audit-svc's checkpoint key Secret")

    def test_checkpoint_key_read_as_a_variable_elsewhere_is_caught(self) -> None:
        objects = self.dev_copy()
        key = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"].startswith("archive-checkpoint-key"))
        container(objects, "archive-svc-migrate", "Job")["env"].append(
            {"name": "X", "valueFrom": {"secretKeyRef": {"name": key["metadata"]["name"], "key": "checkpoint-key.pem"}}})
        self.assertFails(objects, "audit-svc's checkpoint key")

    def test_checkpoint_key_file_outside_its_mount_is_caught(self) -> None:
        objects = self.dev_copy()
        configmap_of(objects, "audit-svc")["data"]["AUDIT_CHECKPOINT_KEY_FILE"] = "/tmp/checkpoint-key.pem"
        self.assertFails(objects, "AUDIT_CHECKPOINT_KEY_FILE=/tmp/checkpoint-key.pem is not in a mounted Secret volume")

    def test_checkpoint_key_mounted_writable_is_caught(self) -> None:
        objects = self.dev_copy()
        mount = container(objects, "audit-svc")["volumeMounts"][0]
        del mount["readOnly"]
        self.assertFails(objects, "the checkpoint key must be mounted readOnly")

    def test_checkpoint_key_without_a_store_is_caught(self) -> None:
        objects = self.dev_copy()
        del configmap_of(objects, "audit-svc")["data"]["AUDIT_CHECKPOINT_STORE"]
        self.assertFails(objects, "AUDIT_CHECKPOINT_KEY_FILE without AUDIT_CHECKPOINT_STORE")

    def test_trusting_every_proxy_is_caught(self) -> None:
        objects = self.dev_copy()
        configmap_of(objects, "gateway")["data"]["GATEWAY_TRUSTED_PROXIES"] = "10.244.0.0/16,0.0.0.0/0"
        self.assertFails(objects, "GATEWAY_TRUSTED_PROXIES: 0.0.0.0/0 trusts every address")
        configmap_of(objects, "gateway")["data"]["GATEWAY_TRUSTED_PROXIES"] = "ingress-nginx"
        self.assertFails(objects, "GATEWAY_TRUSTED_PROXIES: 'ingress-nginx' is not an address or CIDR block")

    # --- hardening --------------------------------------------------------------

    def test_capabilities_not_dropped_is_caught(self) -> None:
        objects = self.dev_copy()
        del container(objects, "media-svc")["securityContext"]["capabilities"]
        self.assertFails(objects, "capabilities must drop ALL")

    def test_writable_root_filesystem_is_caught(self) -> None:
        objects = self.dev_copy()
        container(objects, "archive-postgres", "StatefulSet")["securityContext"]["readOnlyRootFilesystem"] = False
        self.assertFails(objects, "readOnlyRootFilesystem must be true")

    def test_root_pod_is_caught(self) -> None:
        objects = self.dev_copy()
        kube.pod_spec(kube.named(objects, "Job", "archive-svc-migrate"))["securityContext"].pop("runAsNonRoot")
        self.assertFails(objects, "runAsNonRoot must be true")

    def test_missing_limits_are_caught(self) -> None:
        objects = self.dev_copy()
        del container(objects, "gateway")["resources"]["limits"]
        self.assertFails(objects, "resources.limits.cpu missing")

    def test_latest_image_is_caught(self) -> None:
        objects = self.dev_copy()
        container(objects, "archive-s3")["image"] = "motoserver/moto:latest"
        self.assertFails(objects, "must be pinned")

    # --- references and availability ---------------------------------------------

    def test_missing_secret_key_is_caught(self) -> None:
        objects = self.dev_copy()
        keys = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"].startswith("archive-keys"))
        del keys["data"]["playback-key"]
        self.assertFails(objects, "has no key playback-key")

    def test_replicas_on_an_autoscaled_deployment_are_caught(self) -> None:
        objects = self.dev_copy()
        kube.named(objects, "Deployment", "media-svc")["spec"]["replicas"] = 2
        self.assertFails(objects, "sets replicas although an autoscaler owns the count")

    def test_missing_disruption_budget_is_caught(self) -> None:
        objects = [o for o in self.dev_copy()
                   if not (o["kind"] == "PodDisruptionBudget" and o["metadata"]["name"] == "audit-svc")]
        self.assertFails(objects, "no PodDisruptionBudget covers it")

    # --- the network -------------------------------------------------------------

    def policy(self, objects: list[dict], name: str) -> dict:
        return kube.named(objects, "NetworkPolicy", name)

    def test_service_open_to_everyone_is_caught(self) -> None:
        objects = self.dev_copy()
        del self.policy(objects, "archive-svc")["spec"]["ingress"][0]["from"]
        self.assertFails(objects, "archive-svc:grpc reachable from")

    def test_missing_default_deny_is_caught(self) -> None:
        objects = [o for o in self.dev_copy()
                   if not (o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "default-deny")]
        # The migrate Jobs have no policy of their own: without the default
        # deny anyone may connect to them.
        self.assertFails(objects, "Job/audit-svc-migrate: no NetworkPolicy restricts its ingress")

    def test_blocked_call_between_services_is_caught(self) -> None:
        objects = self.dev_copy()
        self.policy(objects, "authz-svc")["spec"]["egress"] = []
        self.assertFails(objects, "AUTHZ_AUDIT_URL: NetworkPolicies block authz-svc -> audit-svc:50054")

    def test_audit_events_blocked_from_archive_and_media_svc_are_caught(self) -> None:
        objects = self.dev_copy()
        self.policy(objects, "archive-svc")["spec"]["egress"].pop()
        self.policy(objects, "media-svc")["spec"]["policyTypes"] = ["Ingress"]
        del self.policy(objects, "media-svc")["spec"]["egress"]
        self.assertFails(objects, "ARCHIVE_AUDIT_URL: NetworkPolicies block archive-svc -> audit-svc:50054")
        # media-svc keeps the object store's egress only.
        self.assertFails(objects, "MEDIA_AUDIT_URL: NetworkPolicies block media-svc -> audit-svc:50054")

    def test_audit_svc_cut_off_from_the_checkpoint_store_is_caught(self) -> None:
        objects = self.dev_copy()
        labels = kube.named(objects, "Deployment", "audit-svc")["spec"]["template"]["metadata"]["labels"]
        del labels["call-archive/object-store-client"]
        self.assertFails(objects, "object store (archive-s3:5000) reachable from ['media-svc'], "
                                  "expected exactly ['audit-svc', 'media-svc']")

    def test_missing_dns_egress_is_caught(self) -> None:
        objects = [o for o in self.dev_copy()
                   if not (o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "allow-dns")]
        self.assertFails(objects, "cannot reach cluster DNS")

    def test_gateway_reaching_the_database_is_caught(self) -> None:
        objects = self.dev_copy()
        labels = kube.named(objects, "Deployment", "gateway")["spec"]["template"]["metadata"]["labels"]
        labels["call-archive/database-client"] = "true"
        self.assertFails(objects, "PostgreSQL (archive-postgres:5432) reachable from")

    def test_prod_egress_to_private_ranges_is_caught(self) -> None:
        objects = copy.deepcopy(self.prod)
        block = self.policy(objects, "object-store-clients")["spec"]["egress"][0]["to"][0]["ipBlock"]
        block["except"] = []
        self.assertFails(objects, "may reach a private address:443", external_secrets=True)


class Sources(unittest.TestCase):
    def test_clap_required_and_optional_settings(self) -> None:
        settings = sources.clap_env('''
            /// doc
            #[arg(long, env = "X_LISTEN", default_value = "127.0.0.1:1")]
            pub listen: SocketAddr,
            #[arg(long, env = "X_SECRET", hide_env_values = true)]
            pub secret: String,
            #[arg(long, env = "X_URL")]
            pub url: Option<String>,
            #[arg(long = "x-list", env = "X_LIST", value_delimiter = ',')]
            pub list: Vec<String>,
            #[arg(long, env = "X_FLAG")]
            pub flag: bool,
            #[arg(long, default_value_t = 12 * 3600)]
            ttl: i64,
        ''')
        self.assertEqual({k: v.required for k, v in settings.items()},
                         {"X_LISTEN": False, "X_SECRET": True, "X_URL": False, "X_LIST": False, "X_FLAG": False})

    def test_real_configs_are_read(self) -> None:
        env = sources.service_env(ROOT)
        for svc in sources.SERVICE_CONFIG:
            # archive_common's IdentityConfig, flattened into every binary's settings.
            self.assertTrue(env[svc]["ARCHIVE_IDENTITY_KEY_FILE"].required, svc)
            self.assertTrue(env[svc]["ARCHIVE_TRUST_FILE"].required, svc)
            self.assertNotIn("ARCHIVE_IDENTITY_SECRET", env[svc])
        self.assertFalse(env["archive-svc"]["ARCHIVE_PAGE_TOKEN_SECRET"].required)
        self.assertIn("MEDIA_S3_BUCKET", env["media-svc"])
        self.assertIn("AUDIT_AUTHZ_URL", env["audit-svc"])
        self.assertIn("METRICS_LISTEN", env["gateway"])

    def test_flattened_settings_of_the_crate_are_followed_and_other_crates_are_not(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "audit-svc/src/checkpoint").mkdir(parents=True)
            (root / "common/src/identity").mkdir(parents=True)
            (root / "common/src/identity/verify.rs").write_text('''
                pub struct IdentityConfig {
                    #[arg(long = "identity-key-file", env = "ARCHIVE_IDENTITY_KEY_FILE")]
                    pub key_file: PathBuf,
                }''')
            (root / "common/src/host.rs").write_text('''
                pub struct HostConfig {
                    #[arg(long, env = "HOST_WORKERS")]
                    pub workers: Option<usize>,
                }''')
            (root / "audit-svc/src/config.rs").write_text('''
                use archive_common::identity::IdentityConfig;
                pub struct Config {
                    #[arg(long, env = "AUDIT_LISTEN", default_value = "127.0.0.1:50054")]
                    pub listen: SocketAddr,
                    #[command(flatten)]
                    pub identity: IdentityConfig,
                    #[command(flatten)]
                    pub host: archive_common::host::HostConfig,
                    /// Signed checkpoints.
                    #[command(flatten)]
                    pub checkpoints: crate::checkpoint::CheckpointConfig,
                    #[command(flatten)]
                    pub s3: media_svc::S3Config,
                }''')
            (root / "audit-svc/src/checkpoint/config.rs").write_text('''
                pub struct CheckpointConfig {
                    #[arg(long = "checkpoint-store", env = "AUDIT_CHECKPOINT_STORE")]
                    pub store: Option<String>,
                    #[command(flatten)]
                    pub s3: S3Options,
                }
                pub struct S3Options {
                    #[arg(long = "checkpoint-s3-path-style", env = "AUDIT_CHECKPOINT_S3_PATH_STYLE")]
                    pub path_style: bool,
                }''')
            (root / "audit-svc/src/objects.rs").write_text("let b = AmazonS3Builder::from_env();")
            files = sources.config_sources(root, "audit-svc")
            self.assertEqual([f.relative_to(root).as_posix() for f in files],
                             ["audit-svc/src/config.rs", "common/src/identity/verify.rs", "common/src/host.rs",
                              "audit-svc/src/checkpoint/config.rs"])
            env = {}
            for f in files:
                env |= sources.clap_env(f.read_text())
            self.assertEqual(set(env), {"AUDIT_LISTEN", "ARCHIVE_IDENTITY_KEY_FILE", "HOST_WORKERS",
                                        "AUDIT_CHECKPOINT_STORE", "AUDIT_CHECKPOINT_S3_PATH_STYLE"})
            self.assertIn("AWS_REGION", sources.aws_env(root, "audit-svc"))
            self.assertNotIn("AWS_ENDPOINT", sources.aws_env(root, "audit-svc"))

    def test_schema_versions_are_the_newest_postgres_migrations(self) -> None:
        for svc in check_manifests.DATABASE_SERVICES:
            files = sorted((ROOT / svc / "migrations/postgres").glob("*.sql"))
            self.assertEqual(sources.schema_version(ROOT, svc), int(files[-1].name.split("_", 1)[0]))
        self.assertIsNone(sources.schema_version(ROOT, "gateway"))
        self.assertEqual(sources.aws_env(ROOT, "gateway"), set())

    def test_key_holders_are_read_from_the_code(self) -> None:
        holders = sources.identity_holders(ROOT)
        self.assertEqual(holders.pop("authority"), "Authority")
        self.assertEqual(holders.pop("gateway"), "Gateway")
        self.assertEqual(holders, {svc: "Service" for svc in check_manifests.DATABASE_SERVICES + ("media-svc",)})

    def test_telemetry_settings_and_liveness_name_are_read_from_the_code(self) -> None:
        telemetry = sources.telemetry_env(ROOT)
        self.assertIn("OTEL_EXPORTER_OTLP_ENDPOINT", telemetry)
        self.assertIn("OTEL_TRACES_SAMPLER_ARG", telemetry)
        self.assertNotIn("OTEL_EXPORTER_OTLP_COMPRESSION", telemetry)
        self.assertEqual(sources.liveness_name(ROOT), "liveness")


class Ed25519(unittest.TestCase):
    def test_public_keys_of_rfc_8032(self) -> None:
        for secret, public in (
            ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
             "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
            ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
             "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"),
            ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
             "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025"),
        ):
            self.assertEqual(ed25519.public_key(bytes.fromhex(secret)).hex(), public)

    def test_pem_files_of_both_pkcs8_versions(self) -> None:
        # openssl's (version 1): the public key the dev overlay documents.
        self.assertEqual(ed25519.pem_public_key((K8S / "overlays/dev/checkpoint-key.pem").read_text()),
                         "3c2f8d2bbc064807225142fba7f37c22b4f61ee015bcddf0dbab8f9e51a248f2")
        # `gateway credentials init`'s (version 2, the public key included): the dev trust file's.
        trust = json.loads((DEV_IDENTITY / "trust.json").read_text())
        for entry in trust["keys"]:
            pem = (DEV_IDENTITY / f"{entry['holder']}.pem").read_text()
            self.assertEqual(ed25519.pem_public_key(pem), entry["public_key"], entry["holder"])
        with self.assertRaises(ValueError):
            ed25519.pem_public_key("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEIA==\n-----END PRIVATE KEY-----\n")
        with self.assertRaises(ValueError):
            ed25519.pem_public_key("not a key")


class NetworkSemantics(unittest.TestCase):
    """Peers in one list item are ANDed, separate items ORed; named ports
    resolve on the destination; an unselected pod is open."""

    ns = {"app": {"kubernetes.io/metadata.name": "app"}, "other": {"kubernetes.io/metadata.name": "other", "team": "x"}}

    def net(self, peers: list[dict]) -> Network:
        policy = {"metadata": {"name": "p", "namespace": "app"},
                  "spec": {"podSelector": {"matchLabels": {"role": "db"}}, "policyTypes": ["Ingress"],
                           "ingress": [{"from": peers, "ports": [{"port": "sql"}]}]}}
        return Network([policy], self.ns, "app")

    db = Pod("db", "app", {"role": "db"}, ports={"sql": (5432, "TCP")})
    client_other_ns = Pod("c", "other", {"role": "client"})
    stranger_other_ns = Pod("s", "other", {"role": "nobody"})

    def test_namespace_and_pod_selector_in_one_peer_are_both_required(self) -> None:
        net = self.net([{"namespaceSelector": {"matchLabels": {"team": "x"}},
                         "podSelector": {"matchLabels": {"role": "client"}}}])
        self.assertTrue(net.allows(self.client_other_ns, self.db, 5432))
        self.assertFalse(net.allows(self.stranger_other_ns, self.db, 5432))
        self.assertFalse(net.allows(self.client_other_ns, self.db, 5433))

    def test_separate_peers_are_alternatives(self) -> None:
        net = self.net([{"namespaceSelector": {"matchLabels": {"team": "x"}}},
                        {"podSelector": {"matchLabels": {"role": "client"}}}])
        self.assertTrue(net.allows(self.stranger_other_ns, self.db, 5432))

    def test_pod_selector_alone_means_the_policy_namespace(self) -> None:
        net = self.net([{"podSelector": {"matchLabels": {"role": "client"}}}])
        self.assertFalse(net.allows(self.client_other_ns, self.db, 5432))
        self.assertTrue(net.allows(Pod("c", "app", {"role": "client"}), self.db, 5432))

    def test_unselected_pod_is_open_and_addresses_need_ip_blocks(self) -> None:
        net = self.net([])
        web = Pod("web", "app", {"role": "web"}, ports={"http": (80, "TCP")})
        self.assertTrue(net.allows(self.stranger_other_ns, web, 80))
        egress = {"metadata": {"name": "e", "namespace": "app"},
                  "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                           "egress": [{"to": [{"ipBlock": {"cidr": "192.0.2.0/24", "except": ["192.0.2.128/25"]}}]}]}}
        net = Network([egress], self.ns, "app")
        self.assertTrue(net.allows(web, Address("192.0.2.7"), 5432))
        self.assertFalse(net.allows(web, Address("192.0.2.200"), 5432))
        self.assertFalse(net.allows(web, self.db, 5432))


if __name__ == "__main__":
    unittest.main()
