"""Reading rendered manifests: objects by kind, the pods each workload runs,
label selectors, and the configuration a container ends up with."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


def load(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o.get("kind") == kind]


def named(objects: list[dict], kind: str, name: str) -> dict | None:
    return next((o for o in of_kind(objects, kind) if o["metadata"]["name"] == name), None)


def selector_matches(selector: dict | None, labels: dict) -> bool:
    """A Kubernetes label selector; an empty one selects everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


@dataclass
class Pod:
    """A pod as far as networking and configuration go: a workload's pod
    template, or a stand-in for something outside the manifests."""

    name: str
    namespace: str
    labels: dict
    # port name -> (number, protocol)
    ports: dict = field(default_factory=dict)
    containers: list = field(default_factory=list)
    workload: dict | None = None

    def port_number(self, name: str, protocol: str = "TCP") -> int | None:
        number, proto = self.ports.get(name, (None, None))
        return number if proto == protocol else None

    def has_port(self, number: int, protocol: str = "TCP") -> bool:
        return (number, protocol) in self.ports.values()


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def all_containers(spec: dict) -> list[dict]:
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def workload_pods(objects: list[dict], default_namespace: str) -> list[Pod]:
    pods = []
    for w in objects:
        if w.get("kind") not in WORKLOAD_KINDS:
            continue
        spec = pod_spec(w)
        ports = {}
        for c in all_containers(spec):
            for p in c.get("ports") or []:
                key = p.get("name") or f"{c['name']}:{p['containerPort']}"
                ports[key] = (p["containerPort"], p.get("protocol", "TCP"))
        pods.append(
            Pod(
                name=w["metadata"]["name"],
                namespace=w["metadata"].get("namespace", default_namespace),
                labels=dict(w["spec"]["template"]["metadata"].get("labels") or {}),
                ports=ports,
                containers=all_containers(spec),
                workload=w,
            )
        )
    return pods


def container_env(container: dict, objects: list[dict]) -> dict[str, dict]:
    """Every environment variable the container gets, name -> where from:
    {"value": v} or {"configMap"/"secret": name, "key": k, "optional": b}."""
    env: dict[str, dict] = {}
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref:
            cm = named(objects, "ConfigMap", ref["name"])
            for key, value in ((cm or {}).get("data") or {}).items():
                env[source.get("prefix", "") + key] = {"value": value, "configMap": ref["name"]}
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = {"value": var["value"]}
            continue
        value_from = var.get("valueFrom") or {}
        if "configMapKeyRef" in value_from:
            ref = value_from["configMapKeyRef"]
            cm = named(objects, "ConfigMap", ref["name"]) or {}
            env[var["name"]] = {
                "configMap": ref["name"],
                "key": ref["key"],
                "optional": ref.get("optional", False),
                "value": (cm.get("data") or {}).get(ref["key"]),
            }
        elif "secretKeyRef" in value_from:
            ref = value_from["secretKeyRef"]
            env[var["name"]] = {
                "secret": ref["name"],
                "key": ref["key"],
                "optional": ref.get("optional", False),
            }
        else:
            env[var["name"]] = {"fieldRef": value_from}
    return env


def image_basename(image: str) -> str:
    return image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
