#!/usr/bin/env python3
"""Checks one rendered overlay (the output of `kubectl kustomize`) against what
the schemas cannot know: that it agrees with the code (environment variables
the binaries really read, listen addresses matching the ports, URLs naming real
Services, the Dockerfile's targets and binaries, probes asking the health
names the code serves, metrics ports Prometheus can find and reach, the schema
step: a migrate Job per database as its owner and services that wait for the
newest migration as their runtime role), that each process gets its own
identity key and no one else's (the operator's authority key reaching no pod)
and every process the one trust file, re-readable in place, that audit-svc's
checkpoint key reaches audit-svc alone, that every pod is hardened, that
references resolve, and that the NetworkPolicies allow exactly the calls the
suite makes (trace export included) and nothing else.

    check_manifests.py RENDERED.yaml [--external-secrets]

--external-secrets: Secrets, and the trust ConfigMap, may be missing from the
render (production gets them from a secret manager and `gateway credentials
init`); they are listed instead. Exit status 1 on any error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import ipaddress
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import ed25519
import kube
import sources
from kube import Pod
from netpol import Address, Network

ROOT = Path(__file__).resolve().parents[2]
SERVICES = tuple(sources.SERVICE_CONFIG)
AUTOSCALED = {"media-svc", "gateway"}
# The services with a database of their own, each migrated by its Job.
DATABASE_SERVICES = ("archive-svc", "authz-svc", "audit-svc")
DATABASE_CLIENTS = set(DATABASE_SERVICES) | {f"{svc}-migrate" for svc in DATABASE_SERVICES}
# media-svc's recordings, audit-svc's checkpoints.
OBJECT_STORE_CLIENTS = {"media-svc", "audit-svc"}
# The init containers of the schema step (scripts in base/scripts/).
WAIT_FOR_SCHEMA = "wait-for-schema"
DB_CHECK = "db-check"
# What grant_runtime_role accepts as a role name.
ROLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Each process's identity (archive_common::identity::IdentityConfig): its own
# private key `<holder>.pem`, and the suite's trust file of public keys.
KEY_FILE_ENV = "ARCHIVE_IDENTITY_KEY_FILE"
TRUST_FILE_ENV = "ARCHIVE_TRUST_FILE"
TRUST_FILE = "trust.json"
# The suffix kustomize's generators add to a name (10 characters of a hash,
# in its alphabet without vowels and look-alikes).
GENERATED_SUFFIX = re.compile(r"-[2456789bcdfghkmt]{10}$")

# (pod, port name) -> exactly who may connect to it.
EXPECTED_INGRESS = {
    ("gateway", "grpc"): {"ingress-controller"},
    ("gateway", "http"): {"ingress-controller"},
    # The gateway, the recording platform, and media-svc (pending deletions,
    # stored uploads reported).
    ("archive-svc", "grpc"): {"gateway", "ingest-client", "media-svc"},
    ("media-svc", "grpc"): {"gateway", "archive-svc", "ingest-client"},
    ("media-svc", "http"): {"ingress-controller"},
    ("authz-svc", "grpc"): {"gateway", "audit-svc"},
    # The gateway, and the audit outbox relays and media-svc's file events.
    ("audit-svc", "grpc"): {"gateway", "archive-svc", "media-svc", "authz-svc"},
    **{(svc, "metrics"): {"prometheus"} for svc in SERVICES},
}

# The prometheus.io/* pod annotations of the usual `kubernetes-pods` scrape job.
METRICS_PATH = "/metrics"

# OTEL_TRACES_SAMPLER values the OpenTelemetry SDK knows; the ratio ones take
# OTEL_TRACES_SAMPLER_ARG.
SAMPLERS = {"always_on", "always_off", "traceidratio", "parentbased_always_on",
            "parentbased_always_off", "parentbased_traceidratio"}
OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

# URLs handed to browsers -> the backend (Service, port name) and path
# prefix an Ingress must route them to.
PUBLIC_URLS = {
    "GATEWAY_PUBLIC_URL": ("gateway", "http", "/exports/"),
    "GATEWAY_MEDIA_PUBLIC_URL": ("media-svc", "http", "/media/"),
}

# Namespaces outside the manifests, with the labels the policies rely on.
OUTSIDE_NAMESPACES = {
    "ingress-nginx": {"kubernetes.io/metadata.name": "ingress-nginx"},
    "kube-system": {"kubernetes.io/metadata.name": "kube-system"},
    "recording-platform": {
        "kubernetes.io/metadata.name": "recording-platform",
        "call-archive/ingest-client": "true",
    },
    "elsewhere": {"kubernetes.io/metadata.name": "elsewhere"},
}

# Where Prometheus runs unless policy `metrics-scrape` names another namespace
# (an overlay may patch it).
MONITORING_NAMESPACE = "monitoring"

# Addresses that belong to nobody here.
PRIVATE_ELSEWHERE = Address("10.200.0.9", "a private address")
PUBLIC_ELSEWHERE = Address("203.0.113.50", "a public address")


def monitoring_namespace(objects: list[dict]) -> str:
    """The namespace policy `metrics-scrape` admits by name, else the default."""
    policy = kube.named(objects, "NetworkPolicy", "metrics-scrape") or {}
    for rule in (policy.get("spec") or {}).get("ingress") or []:
        for peer in rule.get("from") or []:
            name = ((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get("kubernetes.io/metadata.name")
            if name:
                return name
    return MONITORING_NAMESPACE


def stand_ins(namespace: str, monitoring: str = MONITORING_NAMESPACE) -> list[Pod]:
    return [
        Pod("ingress-controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
        Pod("kube-dns", "kube-system", {"k8s-app": "kube-dns"},
            ports={"dns": (53, "UDP"), "dns-tcp": (53, "TCP")}),
        Pod("ingest-client", "recording-platform", {"call-archive/ingest-client": "true"}),
        Pod("prometheus", monitoring, {"app.kubernetes.io/name": "prometheus"}),
        Pod("unlabelled-pod-of-ingest-namespace", "recording-platform", {}),
        Pod("stranger-in-namespace", namespace, {"app": "intruder"}),
        Pod("stranger-elsewhere", "elsewhere", {"app": "intruder"}),
    ]


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.notes: list[str] = []
        self.checked = 0

    def expect(self, ok: bool, where: str, message: str) -> bool:
        self.checked += 1
        if not ok:
            self.errors.append(f"{where}: {message}")
        return ok


def service_of(container: dict) -> str | None:
    name = kube.image_basename(container.get("image", ""))
    return name if name in SERVICES else None


# --- the namespace and every pod's hardening ---------------------------------


def check_namespace(objects: list[dict], r: Report) -> str:
    namespaces = kube.of_kind(objects, "Namespace")
    r.expect(len(namespaces) == 1, "Namespace", f"expected one, found {len(namespaces)}")
    if not namespaces:
        return "default"
    ns = namespaces[0]
    labels = ns["metadata"].get("labels") or {}
    r.expect(labels.get("pod-security.kubernetes.io/enforce") == "restricted",
             f"Namespace/{ns['metadata']['name']}", "Pod Security Admission must enforce `restricted`")
    for o in objects:
        if o["kind"] != "Namespace":
            r.expect(o["metadata"].get("namespace") == ns["metadata"]["name"],
                     f"{o['kind']}/{o['metadata']['name']}", "not in the overlay's namespace")
    return ns["metadata"]["name"]


def check_pod_security(pods: list[Pod], r: Report) -> None:
    for pod in pods:
        where = f"{pod.workload['kind']}/{pod.name}"
        spec = kube.pod_spec(pod.workload)
        psc = spec.get("securityContext") or {}
        r.expect(psc.get("runAsNonRoot") is True, where, "pod securityContext.runAsNonRoot must be true")
        r.expect((psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", where,
                 "pod seccompProfile must be RuntimeDefault")
        r.expect(spec.get("automountServiceAccountToken") is False, where,
                 "no pod of the suite talks to the API server: automountServiceAccountToken must be false")
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            r.expect(not spec.get(key), where, f"{key} must not be set")
        for c in pod.containers:
            cw = f"{where} container {c['name']}"
            sc = c.get("securityContext") or {}
            caps = sc.get("capabilities") or {}
            r.expect(sc.get("allowPrivilegeEscalation") is False, cw, "allowPrivilegeEscalation must be false")
            r.expect(sc.get("readOnlyRootFilesystem") is True, cw, "readOnlyRootFilesystem must be true")
            r.expect("ALL" in (caps.get("drop") or []), cw, "capabilities must drop ALL")
            r.expect(not caps.get("add"), cw, "no capability may be added")
            r.expect(not sc.get("privileged"), cw, "must not be privileged")
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    r.expect(what in (res.get(kind) or {}), cw, f"resources.{kind}.{what} missing")
            image = c.get("image", "")
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            r.expect("@sha256:" in image or (tag and tag != "latest"), cw,
                     f"image {image!r} must be pinned to a tag other than latest or a digest")


# --- agreement with the code ------------------------------------------------


def listen_port(value: str) -> tuple[str, int] | None:
    m = re.fullmatch(r"(\[[^\]]+\]|[^:]+):(\d+)", value or "")
    return (m.group(1), int(m.group(2))) if m else None


def check_services(objects: list[dict], pods: list[Pod], r: Report) -> dict[str, tuple[list[Pod], dict]]:
    """Every Service selects pods that have its target ports; returns
    name -> (pods, {service port: target port number})."""
    table = {}
    for svc in kube.of_kind(objects, "Service"):
        name = svc["metadata"]["name"]
        selected = [p for p in pods if svc["spec"].get("selector")
                    and kube.selector_matches({"matchLabels": svc["spec"]["selector"]}, p.labels)]
        r.expect(bool(selected), f"Service/{name}", "selects no pod")
        ports = {}
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for p in selected:
                number = p.port_number(target, port.get("protocol", "TCP")) if isinstance(target, str) else target
                if r.expect(number is not None and p.has_port(number, port.get("protocol", "TCP")),
                            f"Service/{name}", f"targetPort {target!r} is not a port of {p.name}"):
                    ports[port["port"]] = number
            if isinstance(port.get("name"), str):
                ports[port["name"]] = ports.get(port["port"])
        table[name] = (selected, ports)
    return table


def check_images(pods: list[Pod], r: Report, root: Path) -> None:
    targets = sources.dockerfile_targets((root / "Dockerfile").read_text())
    binaries = sources.cargo_binaries(root)
    for svc in SERVICES:
        r.expect(svc in targets, "Dockerfile", f"no target `{svc}`")
        r.expect(svc in targets.get(svc, []), "Dockerfile", f"target `{svc}` does not copy the {svc} binary")
    for target, copied in targets.items():
        for b in copied:
            r.expect(b in binaries, "Dockerfile", f"target `{target}` copies {b}, which no crate builds")
    for pod in pods:
        for c in pod.containers:
            svc = service_of(c)
            if svc:
                r.expect(svc in targets, f"{pod.workload['kind']}/{pod.name}", f"image {c['image']} has no Dockerfile target")


def check_suite_containers(objects: list[dict], pods: list[Pod], services: dict, net: Network,
                           r: Report, root: Path) -> None:
    declared = sources.service_env(root)
    telemetry_env = sources.telemetry_env(root)
    liveness = sources.liveness_name(root)
    r.expect(liveness is not None, "common/src/host.rs",
             "no LIVENESS health name: liveness probes would have to ask about the dependencies")
    # Services outside the render (another namespace) the suite calls:
    # (name, namespace, port) -> the pods configured to call it.
    outside: dict[tuple[str, str, int], set[str]] = {}
    for pod in pods:
        for c in pod.containers:
            svc = service_of(c)
            if not svc:
                continue
            where = f"{pod.workload['kind']}/{pod.name} ({svc})"
            env = kube.container_env(c, objects)
            settings = declared[svc]
            if is_migrate(c):
                check_migrate_container(pod, c, svc, env, settings, telemetry_env, where, r)
                continue
            aws_env = sources.aws_env(root, svc)
            for name in env:
                r.expect(name in settings or name in telemetry_env or name in aws_env, where,
                         f"sets {name}, which {svc} does not read")
                if name.endswith("_MIGRATE"):
                    r.expect((env[name].get("value") or "").lower() not in ("true", "1", "yes", "on"), where,
                             f"{name}: the services do not migrate (their runtime role may not); "
                             f"Job {svc}-migrate does")
            for name, setting in settings.items():
                if setting.required:
                    r.expect(name in env, where, f"{name} is required by {svc} and not set")
                if name.endswith("_DATABASE_URL"):
                    r.expect("secret" in env.get(name, {}), where,
                             f"{name} must be set, from a Secret (the default is a SQLite file)")
            for name, source in env.items():
                if "configMap" in source and "key" in source and not source.get("optional"):
                    r.expect(source["value"] is not None, where,
                             f"{name}: key {source['key']} missing from ConfigMap {source['configMap']}")
            if svc == "media-svc":
                r.expect(env.get("MEDIA_STORE", {}).get("value") == "s3", where,
                         "MEDIA_STORE must be s3: the fs store is per pod and the root filesystem is read-only")
            if svc == "gateway":
                r.expect((c.get("args") or [None])[0] == "serve", where,
                         "the gateway must run `serve` (without it the binary starts the embedded suite)")

            # Listen addresses: reachable from outside the pod, one per port.
            bound = set()
            for name, source in env.items():
                if not name.endswith("_LISTEN"):
                    continue
                parsed = listen_port(source.get("value"))
                if not r.expect(parsed is not None, where, f"{name}={source.get('value')!r} is not host:port"):
                    continue
                host, port = parsed
                r.expect(host in ("0.0.0.0", "[::]"), where,
                         f"{name} listens on {host}: unreachable from outside the pod")
                r.expect(pod.has_port(port), where, f"{name} port {port} is not a containerPort")
                bound.add(port)
            for pname, (number, _) in pod.ports.items():
                r.expect(number in bound, where, f"containerPort {pname} ({number}) has no *_LISTEN on it")

            # Probes: the standard gRPC health service on the gRPC port. Startup
            # and readiness ask about the overall status "" (SERVING only while
            # the dependencies answer); liveness about the name that stays
            # SERVING while the process serves, so an outage never restarts pods.
            grpc_port = pod.port_number("grpc")
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                spec = c.get(probe) or {}
                grpc = spec.get("grpc") or {}
                if not r.expect(grpc.get("port") == grpc_port and grpc_port is not None,
                                where, f"{probe} must be a grpc probe on the grpc port ({grpc_port})"):
                    continue
                asked = grpc.get("service") or ""
                if probe == "livenessProbe":
                    r.expect(liveness is None or asked == liveness, where,
                             f"livenessProbe asks about {asked!r}, not the {liveness!r} health name: "
                             "a database or object-store outage would restart the pods")
                else:
                    r.expect(asked == "", where,
                             f"{probe} asks about {asked!r}, not the overall status \"\" that follows the dependencies")

            # Metrics: a port of their own, announced to Prometheus, behind the Service.
            metrics_port = pod.port_number("metrics")
            if r.expect(metrics_port is not None, where, "no containerPort named metrics"):
                listen = listen_port((env.get("METRICS_LISTEN") or {}).get("value"))
                r.expect(listen is not None and listen[1] == metrics_port, where,
                         f"METRICS_LISTEN must listen on the metrics port ({metrics_port})")
                annotations = pod.workload["spec"]["template"]["metadata"].get("annotations") or {}
                for key, want in (("prometheus.io/scrape", "true"), ("prometheus.io/port", str(metrics_port)),
                                  ("prometheus.io/path", METRICS_PATH)):
                    r.expect(annotations.get(key) == want, where,
                             f"pod annotation {key} is {annotations.get(key)!r}, expected {want!r}")
                r.expect(svc in services and services[svc][1].get("metrics") == metrics_port, where,
                         f"Service {svc} has no port named metrics on {metrics_port}")

            # Trace export: OTLP over gRPC without TLS (the exporter is built so).
            for name in OTLP_ENDPOINTS:
                if name in env:
                    r.expect((env[name].get("value") or "").startswith("http://"), where,
                             f"{name}={env[name].get('value')!r}: the OTLP exporter speaks plain gRPC (http://) only")
            for name in ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"):
                if name in env:
                    r.expect(env[name].get("value") == "grpc", where, f"{name}: only grpc is supported")
            sampler = (env.get("OTEL_TRACES_SAMPLER") or {}).get("value")
            if sampler is not None and r.expect(sampler in SAMPLERS, where, f"OTEL_TRACES_SAMPLER={sampler!r} is unknown"):
                if sampler.endswith("traceidratio"):
                    try:
                        ratio = float((env.get("OTEL_TRACES_SAMPLER_ARG") or {}).get("value"))
                    except (TypeError, ValueError):
                        ratio = None
                    r.expect(ratio is not None and 0.0 <= ratio <= 1.0, where,
                             "OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1")

            # URLs given to browsers: an Ingress host routes them to the right backend.
            for name, (backend, port_name, prefix) in PUBLIC_URLS.items():
                if name not in env:
                    continue
                m = re.fullmatch(r"https?://([^/:]+)(?::\d+)?/?", env[name].get("value") or "")
                host = m.group(1) if m else None
                routes = {(rule.get("host"), path["path"], path["backend"]["service"]["name"],
                           path["backend"]["service"]["port"].get("name"))
                          for ing in kube.of_kind(objects, "Ingress")
                          for rule in ing["spec"].get("rules") or []
                          for path in rule["http"]["paths"]}
                r.expect((host, prefix, backend, port_name) in routes, where,
                         f"{name}={env[name].get('value')!r}: no Ingress routes {host}{prefix} to {backend}:{port_name}")

            # URLs of other services: a real Service and port, and a network
            # path. `name`, `name.ns`, `name.ns.svc[.cluster.local]`: a Service of
            # namespace ns (default: the pod's own).
            for name, source in env.items():
                m = re.fullmatch(r"https?://([a-z0-9-]+)(?:\.([a-z0-9-]+))?((?:\.[a-z0-9-]+)*):(\d+)/?",
                                 source.get("value") or "")
                if not m:
                    continue
                target, target_ns, port = m.group(1), m.group(2) or pod.namespace, int(m.group(4))
                if m.group(3) not in ("", ".svc", ".svc.cluster.local"):
                    continue  # a DNS name outside the cluster: no policy names it
                if target_ns != pod.namespace:
                    outside.setdefault((target, target_ns, port), set()).add(pod.name)
                    r.expect(net.allows(pod, outside_service(net, target, target_ns, port), port), where,
                             f"{name}: NetworkPolicies block {pod.name} -> {target}.{target_ns}:{port}")
                    continue
                if not r.expect(target in services, where, f"{name} names Service {target}, which does not exist"):
                    continue
                selected, ports = services[target]
                if not r.expect(port in ports, where, f"{name}: Service {target} has no port {port}"):
                    continue
                for dst in selected:
                    r.expect(net.allows(pod, dst, ports[port]), where,
                             f"{name}: NetworkPolicies block {pod.name} -> {dst.name}:{ports[port]}")
    # Egress to a service elsewhere (the trace collector) is open to exactly
    # the pods configured to call it.
    for (target, target_ns, port), callers in outside.items():
        dst = outside_service(net, target, target_ns, port)
        got = {p.name for p in pods if net.allows(p, dst, port)}
        r.expect(got == callers, "network",
                 f"{target}.{target_ns}:{port} reachable from {sorted(got)}, expected exactly {sorted(callers)}")


def outside_service(net: Network, name: str, namespace: str, port: int) -> Pod:
    """A stand-in for the pods behind a Service of another namespace. It
    carries no labels (the manifests cannot know them), so a policy must admit
    its whole namespace, on the port."""
    net.namespace_labels.setdefault(namespace, {"kubernetes.io/metadata.name": namespace})
    return Pod(f"{name}.{namespace}", namespace, {}, ports={"port": (port, "TCP")})


# --- the schema step ----------------------------------------------------------


def is_migrate(container: dict) -> bool:
    return (container.get("args") or [None])[0] == "migrate"


def database_var(settings: dict) -> str | None:
    return next((n for n in settings if n.endswith("_DATABASE_URL")), None)


def check_migrate_container(pod: Pod, c: dict, svc: str, env: dict, settings: dict,
                            telemetry_env: set, where: str, r: Report) -> None:
    """`<svc> migrate --grant-to ROLE` in a Job: it reads the database URL
    (the owner's, from a Secret) and the log settings, nothing else, and
    serves nothing."""
    r.expect(pod.workload["kind"] == "Job", where, "`migrate` runs once per release: in a Job")
    var = database_var(settings)
    if not r.expect(var is not None, where, f"{svc} has no *_DATABASE_URL: nothing to migrate"):
        return
    for name in env:
        r.expect(name == var or name in telemetry_env, where,
                 f"sets {name}, which `{svc} migrate` does not read")
    r.expect("secret" in env.get(var, {}), where, f"{var} must be set, from a Secret (the owner's URL)")
    args = c.get("args") or []
    r.expect(len(args) == 3 and args[1] == "--grant-to" and ROLE_NAME.fullmatch(args[2] or "") is not None,
             where, f"args must be [migrate, --grant-to, <runtime role>], not {args}")
    r.expect(not c.get("ports"), where, "`migrate` serves nothing: no ports")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        r.expect(probe not in c, where, f"`migrate` serves no health service: no {probe}")


def _secret_ref(env: dict, name: str | None) -> tuple | None:
    source = env.get(name or "", {})
    return (source["secret"], source["key"]) if "secret" in source else None


def _container(pod: Pod, name: str) -> dict | None:
    return next((c for c in pod.containers if c.get("name") == name), None)


def _env_value(container: dict | None, name: str) -> str | None:
    for var in (container or {}).get("env") or []:
        if var["name"] == name:
            return var.get("value")
    return None


def _url_in_render(objects: list[dict], ref: tuple | None) -> str | None:
    """The value of a Secret key when the Secret is in the render (dev)."""
    secret = kube.named(objects, "Secret", ref[0]) if ref else None
    if not secret:
        return None
    if ref[1] in (secret.get("stringData") or {}):
        return secret["stringData"][ref[1]]
    data = (secret.get("data") or {}).get(ref[1])
    return base64.b64decode(data).decode() if data else None


def check_schema_step(objects: list[dict], pods: list[Pod], r: Report, root: Path) -> None:
    """Each database service: one migrate Job as the owner, granting the role
    its Deployment connects as; the Deployment waits, as that role, for the
    newest migration of its crate; the Job first checks the database (the
    same role). Where the Secret is in the render, its URLs agree."""
    declared = sources.service_env(root)
    for svc in SERVICES:
        version = sources.schema_version(root, svc)
        var = database_var(declared[svc])
        if version is None or var is None:
            continue
        jobs = [(p, c) for p in pods for c in p.containers if service_of(c) == svc and is_migrate(c)]
        serving = [(p, c) for p in pods for c in p.containers
                   if service_of(c) == svc and not is_migrate(c) and p.workload["kind"] == "Deployment"]
        if not r.expect(len(jobs) == 1, svc, f"needs exactly one Job running `{svc} migrate`, found {len(jobs)}"):
            continue
        job, migrate = jobs[0]
        owner_ref = _secret_ref(kube.container_env(migrate, objects), var)
        args = migrate.get("args") or []
        role = args[2] if len(args) == 3 else None
        jw = f"Job/{job.name}"

        check = _container(job, DB_CHECK)
        if r.expect(check in (kube.pod_spec(job.workload).get("initContainers") or []), jw,
                    f"no init container {DB_CHECK} checking the database before the migrations"):
            r.expect(_env_value(check, "RUNTIME_ROLE") == role, jw,
                     f"{DB_CHECK} checks role {_env_value(check, 'RUNTIME_ROLE')!r}, `migrate` grants {role!r}")
            r.expect(_secret_ref(kube.container_env(check, objects), "DATABASE_URL") == owner_ref, jw,
                     f"{DB_CHECK} must connect with the same Secret key as `migrate` ({owner_ref})")

        for pod, c in serving:
            dw = f"Deployment/{pod.name}"
            runtime_ref = _secret_ref(kube.container_env(c, objects), var)
            r.expect(runtime_ref is None or runtime_ref != owner_ref, dw,
                     f"{var} is the migrate Job's (owner's) Secret key {owner_ref}: "
                     "the service must run as the runtime role")
            wait = _container(pod, WAIT_FOR_SCHEMA)
            if not r.expect(wait in (kube.pod_spec(pod.workload).get("initContainers") or []), dw,
                            f"no init container {WAIT_FOR_SCHEMA}: pods would start before Job {job.name} "
                            "has migrated, fail and back off"):
                continue
            r.expect(_env_value(wait, "SCHEMA_VERSION") == str(version), dw,
                     f"{WAIT_FOR_SCHEMA} waits for migration {_env_value(wait, 'SCHEMA_VERSION')!r}, "
                     f"the newest of {svc}/migrations/postgres is {version}")
            r.expect(_secret_ref(kube.container_env(wait, objects), "DATABASE_URL") == runtime_ref, dw,
                     f"{WAIT_FOR_SCHEMA} must connect as the service does ({runtime_ref})")

            owner_url, runtime_url = _url_in_render(objects, owner_ref), _url_in_render(objects, runtime_ref)
            if owner_url and runtime_url:
                owner, runtime = urlsplit(owner_url), urlsplit(runtime_url)
                r.expect(runtime.username == role, dw,
                         f"{var} connects as {runtime.username!r}, but Job {job.name} grants {role!r}")
                r.expect(owner.username != runtime.username, dw,
                         f"the owner's and the runtime role's URLs name the same user {owner.username!r}")
                r.expect(owner.path == runtime.path and owner.hostname == runtime.hostname, dw,
                         "the owner's and the runtime role's URLs name different databases")


# --- identities: each process's own key, the suite's trust file ---------------


def _mounted(pod: Pod, c: dict, path: str) -> tuple[dict, dict, str] | None:
    """The container's mount holding `path` (the innermost), its volume, and
    the file's path inside the volume; None if no volume holds it."""
    target = PurePosixPath(path)
    mounts = [m for m in c.get("volumeMounts") or [] if target.is_relative_to(m["mountPath"])]
    if not mounts:
        return None
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    volumes = {v["name"]: v for v in kube.pod_spec(pod.workload).get("volumes") or []}
    relative = target.relative_to(mount["mountPath"])
    if mount.get("subPath"):
        relative = PurePosixPath(mount["subPath"]) / relative
    return mount, volumes.get(mount["name"], {}), str(relative)


def _item(source: dict, relative: str) -> tuple[str, dict | None] | None:
    """The key of a Secret or ConfigMap volume's file at `relative`, and its
    item (None: no items, every key is a file); None if there is no such file."""
    items = source.get("items")
    if items is None:
        return relative, None
    item = next((i for i in items if i["path"] == relative), None)
    return (item["key"], item) if item else None


def _readable_secrets(pod: Pod, objects: list[dict]) -> list[tuple[str, set | None, str]]:
    """Every Secret the pod can read: (name, its keys the pod gets, or None
    when the whole Secret is exposed and not in the render; "mounts" or
    "reads" (an environment variable))."""
    found = []

    def whole(name: str) -> set | None:
        secret = kube.named(objects, "Secret", name)
        return secret_keys(secret) if secret else None

    for volume in kube.pod_spec(pod.workload).get("volumes") or []:
        refs = [volume["secret"] | {"name": volume["secret"]["secretName"]}] if "secret" in volume else []
        refs += [s["secret"] for s in (volume.get("projected") or {}).get("sources") or [] if "secret" in s]
        for src in refs:
            items = src.get("items")
            found.append((src["name"], {i["key"] for i in items} if items is not None else whole(src["name"]), "mounts"))
    for c in pod.containers:
        for var in c.get("env") or []:
            ref = (var.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                found.append((ref["name"], {ref["key"]}, "reads"))
        for src in c.get("envFrom") or []:
            if "secretRef" in src:
                found.append((src["secretRef"]["name"], whole(src["secretRef"]["name"]), "reads"))
    return found


def _text(obj: dict, key: str) -> str | None:
    """The value of a ConfigMap's or Secret's key, decoded."""
    if key in (obj.get("stringData") or {}):
        return obj["stringData"][key]
    value = (obj.get("data") or {}).get(key)
    if value is None or obj["kind"] == "ConfigMap":
        return value
    return base64.b64decode(value).decode()


def _not_after(entry: dict) -> datetime | None:
    """A trust file entry's `not_after` (RFC 3339), None if it has none."""
    until = entry.get("not_after")
    return None if until is None else datetime.fromisoformat(until)


def _trusted_now(entry: dict, now: datetime) -> bool:
    """Whether a trust file entry is still accepted (no `not_after`, or one
    in the future)."""
    try:
        until = _not_after(entry)
    except (TypeError, ValueError):
        return False
    return until is None or until > now


def check_trust_file(text: str | None, holders: dict[str, str], where: str, r: Report) -> list[dict]:
    """A trust file (`gateway credentials init`): public keys only, each
    well-formed, and a currently trusted key of its role for every process
    of the suite. Returns its entries."""
    if not r.expect(text is not None, where, f"has no {TRUST_FILE}"):
        return []
    r.expect("PRIVATE KEY" not in text, where, "holds a private key: the trust file is public keys only")
    try:
        entries = json.loads(text)["keys"]
        assert isinstance(entries, list) and all(isinstance(e, dict) for e in entries)
    except (ValueError, KeyError, TypeError, AssertionError):
        r.expect(False, where, f"{TRUST_FILE} is not a trust file ({{\"keys\": [...]}})")
        return []
    now = datetime.now(timezone.utc)
    for e in entries:
        public = str(e.get("public_key", ""))
        if not r.expect(re.fullmatch(r"[0-9a-f]{64}", public) is not None, where,
                        f"key {e.get('kid')!r}: public_key is not 64 hex digits"):
            continue
        kid = f"{e.get('holder')}.{hashlib.sha256(bytes.fromhex(public)).hexdigest()[:16]}"
        r.expect(e.get("kid") == kid, where, f"key {e.get('kid')!r}: its kid is {kid}")
        r.expect(e.get("holder") in holders, where, f"key {e.get('kid')!r}: unknown holder {e.get('holder')!r}")
        r.expect(e.get("holder") not in holders or e.get("role") == holders[e["holder"]].lower(), where,
                 f"key {e.get('kid')!r}: role {e.get('role')!r}, {e.get('holder')}'s is "
                 f"{holders.get(e.get('holder'), '').lower()!r}")
        try:
            _not_after(e)
        except (TypeError, ValueError):
            r.expect(False, where, f"key {e.get('kid')!r}: not_after {e.get('not_after')!r} is not a time")
    for holder, role in holders.items():
        if role != "Authority":
            r.expect(any(e.get("holder") == holder and _trusted_now(e, now) for e in entries), where,
                     f"trusts no current key of {holder}: it would refuse to start and be refused")
    return entries


def check_identities(objects: list[dict], pods: list[Pod], r: Report, root: Path) -> set[str]:
    """Each process reads ARCHIVE_IDENTITY_KEY_FILE, its own `<holder>.pem`,
    from a Secret of its own mounted read-only, 0440 with the pod's fsGroup,
    and holding that key alone; no pod can read another holder's key, nor the
    operator's authority key (which no Secret or ConfigMap of the render may
    hold). Every process reads ARCHIVE_TRUST_FILE from the same ConfigMap,
    mounted as a directory under a stable name, so an update reaches the
    running pods (which re-read it) instead of rolling them; where that
    ConfigMap is in the render it trusts every process's key, and the key
    Secrets in the render hold keys it trusts. Returns the trust ConfigMaps'
    names (made by the operator, like the Secrets)."""
    holders = sources.identity_holders(root)
    processes = {h for h, role in holders.items() if role != "Authority"}
    authorities = {h for h, role in holders.items() if role == "Authority"}
    r.expect(processes == set(SERVICES), sources.KEYS_SOURCE,
             f"the key holders {sorted(processes)} are not the suite's processes {sorted(SERVICES)}")
    key_files = {f"{h}.pem": h for h in holders}
    key_secrets: dict[str, set[str]] = {}   # Secret -> the processes whose key file it is
    trust_refs: dict[tuple[str, str], set[str]] = {}   # (ConfigMap, key) -> processes
    for pod in pods:
        if pod.workload["kind"] != "Deployment":
            continue
        psc = kube.pod_spec(pod.workload).get("securityContext") or {}
        for c in pod.containers:
            svc = service_of(c)
            if not svc or is_migrate(c):
                continue
            where = f"Deployment/{pod.name} ({svc})"
            env = kube.container_env(c, objects)
            own = f"{svc}.pem"

            key_file = (env.get(KEY_FILE_ENV) or {}).get("value")
            found = _mounted(pod, c, key_file) if key_file else None
            if key_file and r.expect(found is not None and "secret" in found[1], where,
                                     f"{KEY_FILE_ENV}={key_file} is not in a mounted Secret volume"):
                mount, volume, relative = found
                source = volume["secret"]
                r.expect(mount.get("readOnly") is True, where, "the identity key must be mounted readOnly")
                keys = [i["key"] for i in source.get("items") or []]
                r.expect(source.get("items") is not None and keys == [own], where,
                         f"the identity key's volume must hold {own} alone (items: [{own}]), not "
                         f"{keys if source.get('items') is not None else 'the whole Secret'}")
                item = _item(source, relative)
                if r.expect(item is not None, where, f"{KEY_FILE_ENV}: the Secret volume has no file {relative}"):
                    r.expect(item[0] == own, where,
                             f"{KEY_FILE_ENV}={key_file} is key {item[0]} of Secret {source['secretName']}: "
                             f"{svc}'s own key is {own}")
                    mode = (item[1] or {}).get("mode", source.get("defaultMode", 0o644))
                    r.expect(mode & 0o777 == 0o440, where,
                             f"the identity key's mode is {mode & 0o777:#o}: 0440 (root and the pod's fsGroup)")
                r.expect(psc.get("fsGroup") is not None, where,
                         "no pod fsGroup: the process (not root) could not read its 0440 identity key")
                key_secrets.setdefault(source["secretName"], set()).add(svc)

            trust_file = (env.get(TRUST_FILE_ENV) or {}).get("value")
            found = _mounted(pod, c, trust_file) if trust_file else None
            if trust_file and r.expect(found is not None and "configMap" in found[1], where,
                                       f"{TRUST_FILE_ENV}={trust_file} is not in a mounted ConfigMap volume"):
                mount, volume, relative = found
                source = volume["configMap"]
                r.expect(mount.get("readOnly") is True, where, "the trust ConfigMap must be mounted readOnly")
                r.expect(not mount.get("subPath") and not mount.get("subPathExpr"), where,
                         "the trust ConfigMap is mounted by subPath: its updates never reach the pod, "
                         "so a rotation would need every process restarted")
                r.expect(not source.get("optional"), where, "the trust ConfigMap must not be optional")
                item = _item(source, relative)
                if r.expect(item is not None, where, f"{TRUST_FILE_ENV}: the ConfigMap volume has no file {relative}"):
                    trust_refs.setdefault((source["name"], item[0]), set()).add(svc)

    for svc in SERVICES:
        r.expect(any(svc in owners for owners in key_secrets.values()), f"Deployment/{svc}",
                 f"mounts no identity key Secret of its own for {KEY_FILE_ENV}")
        r.expect(any(svc in readers for readers in trust_refs.values()), f"Deployment/{svc}",
                 f"mounts no trust ConfigMap for {TRUST_FILE_ENV}")
    for name, owners in key_secrets.items():
        r.expect(len(owners) == 1, f"Secret/{name}",
                 f"is the identity key Secret of {sorted(owners)}: each process needs a Secret of its own")
    r.expect(len(trust_refs) <= 1, TRUST_FILE_ENV,
             f"every process must read the same trust file, found {sorted(trust_refs)}")

    # Who can read which key: a process its own, nobody the authority's.
    for pod in pods:
        own = {service_of(c) for c in pod.containers
               if pod.workload["kind"] == "Deployment" and service_of(c) and not is_migrate(c)}
        where = f"{pod.workload['kind']}/{pod.name}"
        for name, keys, how in _readable_secrets(pod, objects):
            foreign = sorted(key_secrets.get(name, set()) - own)
            r.expect(not foreign, where, f"{how} Secret {name}, the identity key of {', '.join(foreign)}")
            for key in sorted(keys or ()):
                holder = key_files.get(key)
                if holder in authorities:
                    r.expect(False, where, f"{how} {key} (Secret {name}), the operator's authority key: "
                                           "it issues platform credentials and belongs in no pod")
                elif holder and holder not in own:
                    r.expect(False, where, f"{how} {key} (Secret {name}), {holder}'s private key")
    for o in objects:
        if o["kind"] not in ("Secret", "ConfigMap"):
            continue
        where = f"{o['kind']}/{o['metadata']['name']}"
        names = set(o.get("data") or {}) | set(o.get("stringData") or {}) | set(o.get("binaryData") or {})
        for key in sorted(names & {f"{h}.pem" for h in authorities}):
            r.expect(False, where, f"holds {key}, the operator's authority key: it belongs outside the cluster")
        if o["kind"] == "ConfigMap":
            r.expect(not any("PRIVATE KEY" in str(v) for v in (o.get("data") or {}).values()), where,
                     "holds a private key: ConfigMaps are not secret")
    for name, owners in key_secrets.items():
        secret = kube.named(objects, "Secret", name)
        if secret and len(owners) == 1:
            (svc,) = owners
            r.expect(secret_keys(secret) == {f"{svc}.pem"}, f"Secret/{name}",
                     f"holds {sorted(secret_keys(secret))}: {svc}'s key Secret holds {svc}.pem alone")

    # The trust file: updated in place, trusting every process's key.
    for (name, key) in trust_refs:
        where = f"ConfigMap/{name}"
        r.expect(not GENERATED_SUFFIX.search(name), where,
                 "has a generated name (hash suffix): a changed trust file would be a new ConfigMap and "
                 "roll every Deployment instead of being re-read (options: disableNameSuffixHash)")
        cm = kube.named(objects, "ConfigMap", name)
        if not cm:
            continue
        r.expect(not cm.get("immutable"), where, "is immutable: a rotation could not update it")
        entries = check_trust_file(_text(cm, key), holders, where, r)
        now = datetime.now(timezone.utc)
        for secret_name, owners in key_secrets.items():
            secret = kube.named(objects, "Secret", secret_name)
            for svc in owners:
                pem = _text(secret, f"{svc}.pem") if secret else None
                if pem is None:
                    continue
                try:
                    public = ed25519.pem_public_key(pem)
                except ValueError as e:
                    r.expect(False, f"Secret/{secret_name}", f"{svc}.pem: {e}")
                    continue
                r.expect(any(e.get("public_key") == public and e.get("holder") == svc and _trusted_now(e, now)
                             for e in entries), f"Secret/{secret_name}",
                         f"{svc}.pem is not a key {name}/{key} trusts for {svc} ({public}): "
                         f"{svc} would refuse to start")
    return {name for name, _ in trust_refs}


# --- audit-svc's checkpoint key and proxies ------------------------------------


def check_checkpoint_key(objects: list[dict], pods: list[Pod], r: Report) -> None:
    """AUDIT_CHECKPOINT_KEY_FILE is a file of a Secret volume mounted read-only
    into audit-svc; no other pod mounts or reads that Secret (the key signs
    what the database cannot rewrite), and a store is configured with it."""
    key_secrets: set[str] = set()
    for pod in pods:
        for c in pod.containers:
            if service_of(c) != "audit-svc" or is_migrate(c):
                continue
            where = f"{pod.workload['kind']}/{pod.name} (audit-svc)"
            env = kube.container_env(c, objects)
            key_file = (env.get("AUDIT_CHECKPOINT_KEY_FILE") or {}).get("value")
            if not key_file:
                continue
            r.expect(bool((env.get("AUDIT_CHECKPOINT_STORE") or {}).get("value")), where,
                     "AUDIT_CHECKPOINT_KEY_FILE without AUDIT_CHECKPOINT_STORE: audit-svc refuses to start")
            volumes = {v["name"]: v for v in kube.pod_spec(pod.workload).get("volumes") or []}
            mount = next((m for m in c.get("volumeMounts") or []
                          if PurePosixPath(key_file).is_relative_to(m["mountPath"])), None)
            volume = volumes.get((mount or {}).get("name"), {})
            if not r.expect("secret" in volume, where,
                            f"AUDIT_CHECKPOINT_KEY_FILE={key_file} is not in a mounted Secret volume"):
                continue
            r.expect(mount.get("readOnly") is True, where, "the checkpoint key must be mounted readOnly")
            relative = str(PurePosixPath(key_file).relative_to(mount["mountPath"]))
            items = volume["secret"].get("items")
            r.expect(items is None or relative in {i["path"] for i in items}, where,
                     f"AUDIT_CHECKPOINT_KEY_FILE: the Secret volume has no file {relative}")
            key_secrets.add(volume["secret"]["secretName"])
    for pod in pods:
        for c in pod.containers:
            if service_of(c) == "audit-svc" and not is_migrate(c):
                continue
            for var in c.get("env") or []:
                ref = (var.get("valueFrom") or {}).get("secretKeyRef") or {}
                r.expect(ref.get("name") not in key_secrets, f"{pod.workload['kind']}/{pod.name}",
                         f"reads Secret {ref.get('name')}, audit-svc's checkpoint key")
            for src in c.get("envFrom") or []:
                r.expect((src.get("secretRef") or {}).get("name") not in key_secrets,
                         f"{pod.workload['kind']}/{pod.name}", "reads audit-svc's checkpoint key Secret")
        if any(service_of(c) == "audit-svc" and not is_migrate(c) for c in pod.containers):
            continue
        for volume in kube.pod_spec(pod.workload).get("volumes") or []:
            names = {(volume.get("secret") or {}).get("secretName")} | {
                (src.get("secret") or {}).get("name") for src in (volume.get("projected") or {}).get("sources") or []}
            r.expect(not (names & key_secrets), f"{pod.workload['kind']}/{pod.name}",
                     "mounts audit-svc's checkpoint key Secret")


def check_trusted_proxies(objects: list[dict], pods: list[Pod], r: Report) -> None:
    """GATEWAY_TRUSTED_PROXIES: addresses or CIDR blocks, none trusting every
    address (anyone could then write the client address into the trail)."""
    for pod in pods:
        for c in pod.containers:
            if service_of(c) != "gateway":
                continue
            value = (kube.container_env(c, objects).get("GATEWAY_TRUSTED_PROXIES") or {}).get("value") or ""
            for entry in filter(None, (e.strip() for e in value.split(","))):
                try:
                    block = ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    r.expect(False, f"Deployment/{pod.name}", f"GATEWAY_TRUSTED_PROXIES: {entry!r} is not an address or CIDR block")
                    continue
                r.expect(block.prefixlen > 0, f"Deployment/{pod.name}",
                         f"GATEWAY_TRUSTED_PROXIES: {entry} trusts every address's X-Forwarded-For")


# --- references, availability, ingress ----------------------------------------


def secret_keys(secret: dict) -> set[str]:
    return set((secret.get("data") or {}) | (secret.get("stringData") or {}))


def check_references(objects: list[dict], pods: list[Pod], r: Report, external_secrets: bool,
                     operator_configmaps: set[str] = frozenset()) -> dict[tuple[str, str], set]:
    """ConfigMaps and Secrets referenced exist with their keys; returns the
    Secrets and ConfigMaps (kind, name) and their keys that must come from
    outside. Of the ConfigMaps only `operator_configmaps` may (the trust
    file, made with the keys by `gateway credentials init`)."""
    external: dict[tuple[str, str], set] = {}

    def secret(name: str, key: str | None, optional: bool, where: str) -> None:
        found = kube.named(objects, "Secret", name)
        if found:
            r.expect(key is None or key in secret_keys(found) or optional, where, f"Secret {name} has no key {key}")
        elif optional:
            external.setdefault(("Secret", name), set()).add(f"{key} (optional)" if key else "(optional)")
        elif r.expect(external_secrets, where, f"Secret {name} does not exist"):
            external.setdefault(("Secret", name), set()).add(key or "")

    def configmap(name: str, key: str | None, optional: bool, where: str) -> None:
        found = kube.named(objects, "ConfigMap", name)
        if found is None and not optional and external_secrets and name in operator_configmaps:
            external.setdefault(("ConfigMap", name), set()).add(key or "")
            return
        if r.expect(found is not None or optional, where, f"ConfigMap {name} does not exist") and found and key:
            r.expect(key in (found.get("data") or {}) or optional, where, f"ConfigMap {name} has no key {key}")

    for pod in pods:
        where = f"{pod.workload['kind']}/{pod.name}"
        for c in pod.containers:
            for src in c.get("envFrom") or []:
                if "configMapRef" in src:
                    configmap(src["configMapRef"]["name"], None, src["configMapRef"].get("optional", False), where)
                if "secretRef" in src:
                    secret(src["secretRef"]["name"], None, src["secretRef"].get("optional", False), where)
            for var in c.get("env") or []:
                vf = var.get("valueFrom") or {}
                if "secretKeyRef" in vf:
                    ref = vf["secretKeyRef"]
                    secret(ref["name"], ref["key"], ref.get("optional", False), where)
                if "configMapKeyRef" in vf:
                    ref = vf["configMapKeyRef"]
                    configmap(ref["name"], ref["key"], ref.get("optional", False), where)
        for volume in kube.pod_spec(pod.workload).get("volumes") or []:
            if "configMap" in volume:
                for key in [i["key"] for i in volume["configMap"].get("items") or []] or [None]:
                    configmap(volume["configMap"]["name"], key, volume["configMap"].get("optional", False), where)
            if "secret" in volume:
                for key in [i["key"] for i in volume["secret"].get("items") or []] or [None]:
                    secret(volume["secret"]["secretName"], key, volume["secret"].get("optional", False), where)
    for ing in kube.of_kind(objects, "Ingress"):
        for tls in ing["spec"].get("tls") or []:
            # Without it the ingress controller serves its default certificate.
            if not kube.named(objects, "Secret", tls["secretName"]):
                external.setdefault(("Secret", tls["secretName"]), set()).add("tls.crt, tls.key (Ingress)")
    return external


def check_availability(objects: list[dict], pods: list[Pod], services: dict, r: Report) -> None:
    budgets = kube.of_kind(objects, "PodDisruptionBudget")
    autoscalers = kube.of_kind(objects, "HorizontalPodAutoscaler")
    for svc in SERVICES:
        deployment = kube.named(objects, "Deployment", svc)
        if not r.expect(deployment is not None, svc, "no Deployment"):
            continue
        pod = next(p for p in pods if p.workload is deployment)
        r.expect(any(kube.selector_matches(b["spec"]["selector"], pod.labels) for b in budgets),
                 f"Deployment/{svc}", "no PodDisruptionBudget covers it")
        hpa = [h for h in autoscalers if h["spec"]["scaleTargetRef"]["name"] == svc
               and h["spec"]["scaleTargetRef"]["kind"] == "Deployment"]
        if svc in AUTOSCALED:
            r.expect(len(hpa) == 1, f"Deployment/{svc}", "needs one HorizontalPodAutoscaler")
            r.expect("replicas" not in deployment["spec"], f"Deployment/{svc}",
                     "sets replicas although an autoscaler owns the count")
            for h in hpa:
                metrics = [m["resource"]["name"] for m in h["spec"].get("metrics", []) if m["type"] == "Resource"]
                r.expect("cpu" in metrics, f"HorizontalPodAutoscaler/{svc}", "must scale on CPU")
                r.expect(h["spec"].get("minReplicas", 1) <= h["spec"]["maxReplicas"],
                         f"HorizontalPodAutoscaler/{svc}", "minReplicas above maxReplicas")
        else:
            r.expect(not hpa, f"Deployment/{svc}", "is not meant to be autoscaled")
    for h in autoscalers:
        target = h["spec"]["scaleTargetRef"]
        r.expect(kube.named(objects, target["kind"], target["name"]) is not None,
                 f"HorizontalPodAutoscaler/{h['metadata']['name']}", f"targets missing {target['kind']}/{target['name']}")
    for ing in kube.of_kind(objects, "Ingress"):
        for rule in ing["spec"].get("rules") or []:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                port = backend["port"].get("name", backend["port"].get("number"))
                found = services.get(backend["name"])
                r.expect(found is not None and port in found[1], f"Ingress/{ing['metadata']['name']}",
                         f"backend {backend['name']}:{port} does not exist")


# --- the network --------------------------------------------------------------


def first_host(policy: dict | None, prefer: Address | None = None) -> Address | None:
    """An address the policy's ipBlocks allow: `prefer` if they do, else the
    first host of the first block outside its exceptions."""
    if policy and prefer and any(_in_block(prefer, peer["ipBlock"])
                                 for rule in policy["spec"].get("egress") or []
                                 for peer in rule.get("to") or [] if "ipBlock" in peer):
        return prefer
    for rule in (policy or {}).get("spec", {}).get("egress") or []:
        for peer in rule.get("to") or []:
            block = peer.get("ipBlock")
            if not block:
                continue
            excluded = [ipaddress.ip_network(e) for e in block.get("except") or []]
            for ip in ipaddress.ip_network(block["cidr"]).hosts():
                if not any(ip in e for e in excluded):
                    return Address(str(ip), f"{policy['metadata']['name']} endpoint {ip}")
    return None


def _in_block(address: Address, block: dict) -> bool:
    ip = ipaddress.ip_address(address.ip)
    return ip in ipaddress.ip_network(block["cidr"]) and not any(
        ip in ipaddress.ip_network(e) for e in block.get("except") or [])


def check_network(objects: list[dict], pods: list[Pod], namespace: str, r: Report) -> Network:
    ns_objects = kube.of_kind(objects, "Namespace")
    ns_labels = dict(OUTSIDE_NAMESPACES)
    monitoring = monitoring_namespace(objects)
    ns_labels.setdefault(monitoring, {"kubernetes.io/metadata.name": monitoring})
    ns_labels[namespace] = {"kubernetes.io/metadata.name": namespace,
                            **((ns_objects[0]["metadata"].get("labels") or {}) if ns_objects else {})}
    net = Network(kube.of_kind(objects, "NetworkPolicy"), ns_labels, namespace)
    everyone = pods + stand_ins(namespace, monitoring)
    dns = next(p for p in everyone if p.name == "kube-dns")

    for pod in pods:
        for direction in ("Ingress", "Egress"):
            r.expect(bool(net._selecting(pod, direction)), f"{pod.workload['kind']}/{pod.name}",
                     f"no NetworkPolicy restricts its {direction.lower()}")
        r.expect(net.allows(pod, dns, 53, "UDP"), pod.name, "cannot reach cluster DNS")

    def allowed_sources(dst: Pod | Address, port: int) -> set[str]:
        # Only the suite's own egress is governed by these policies.
        candidates = pods if isinstance(dst, Address) else everyone
        return {s.name for s in candidates if s is not dst and net.allows(s, dst, port)}

    by_name = {p.name: p for p in pods}
    covered = set()
    for (name, port_name), expected in EXPECTED_INGRESS.items():
        dst = by_name.get(name)
        if not r.expect(dst is not None and dst.port_number(port_name) is not None, "network",
                        f"no pod {name} with port {port_name}"):
            continue
        covered.add((name, port_name))
        got = allowed_sources(dst, dst.port_number(port_name))
        r.expect(got == expected, "network",
                 f"{name}:{port_name} reachable from {sorted(got)}, expected exactly {sorted(expected)}")
    for pod in pods:
        if pod.name in SERVICES:
            for port_name in pod.ports:
                r.expect((pod.name, port_name) in covered, "network",
                         f"{pod.name}:{port_name} has no expectation in EXPECTED_INGRESS")

    # The databases and the object store: in-cluster pods (dev) or addresses (prod).
    stores = []
    if "archive-postgres" in by_name:
        pg = by_name["archive-postgres"]
        stores.append(("PostgreSQL", pg, pg.port_number("postgres"), DATABASE_CLIENTS))
    else:
        db = first_host(kube.named(objects, "NetworkPolicy", "database-clients"))
        if r.expect(db is not None, "network", "no egress to a database (NetworkPolicy database-clients)"):
            stores.append(("PostgreSQL", db, 5432, DATABASE_CLIENTS))
    if "archive-s3" in by_name:
        s3 = by_name["archive-s3"]
        stores.append(("object store", s3, s3.port_number("s3"), OBJECT_STORE_CLIENTS))
    else:
        s3 = first_host(kube.named(objects, "NetworkPolicy", "object-store-clients"), prefer=PUBLIC_ELSEWHERE)
        if r.expect(s3 is not None, "network", "no egress to an object store (NetworkPolicy object-store-clients)"):
            stores.append(("object store", s3, 443, OBJECT_STORE_CLIENTS))
    for what, dst, port, clients in stores:
        label = dst.name if isinstance(dst, Pod) else dst.label
        expected = clients & set(by_name)
        got = allowed_sources(dst, port)
        r.expect(got == expected, "network",
                 f"{what} ({label}:{port}) reachable from {sorted(got)}, expected exactly {sorted(expected)}")

    # Nothing else leaves: not to other private addresses, not to the internet
    # beyond the object store's HTTPS.
    for pod in pods:
        for port in (80, 443, 5432, 8080):
            r.expect(not net.allows(pod, PRIVATE_ELSEWHERE, port), pod.name,
                     f"may reach {PRIVATE_ELSEWHERE.label}:{port}")
            may = port == 443 and pod.name in OBJECT_STORE_CLIENTS and "archive-s3" not in by_name
            r.expect(may or not net.allows(pod, PUBLIC_ELSEWHERE, port), pod.name,
                     f"may reach {PUBLIC_ELSEWHERE.label}:{port}")
    return net


# --- the whole overlay ----------------------------------------------------------


def check(objects: list[dict], *, external_secrets: bool, root: Path = ROOT) -> tuple[Report, dict]:
    r = Report()
    namespace = check_namespace(objects, r)
    pods = kube.workload_pods(objects, namespace)
    check_pod_security(pods, r)
    services = check_services(objects, pods, r)
    net = check_network(objects, pods, namespace, r)
    check_images(pods, r, root)
    check_suite_containers(objects, pods, services, net, r, root)
    check_schema_step(objects, pods, r, root)
    trust_configmaps = check_identities(objects, pods, r, root)
    check_checkpoint_key(objects, pods, r)
    check_trusted_proxies(objects, pods, r)
    external = check_references(objects, pods, r, external_secrets, trust_configmaps)
    check_availability(objects, pods, services, r)
    return r, external


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", type=Path)
    parser.add_argument("--external-secrets", action="store_true")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    objects = kube.load(args.manifests.read_text())
    report, external = check(objects, external_secrets=args.external_secrets, root=args.root)
    for (kind, name), keys in sorted(external.items()):
        print(f"  expects {kind} {name}: {', '.join(sorted(keys))}")
    for error in report.errors:
        print(f"  ERROR {error}")
    status = "FAILED" if report.errors else "ok"
    print(f"  {args.manifests.name}: {len(objects)} objects, {report.checked} checks, "
          f"{len(report.errors)} errors: {status}")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
