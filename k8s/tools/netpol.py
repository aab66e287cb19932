"""Evaluates NetworkPolicies the way the API defines them: a pod selected by
no policy of a direction is open in that direction; a selected pod admits a
connection only if some rule of some selecting policy matches it. A
connection needs both the source's egress and the destination's ingress."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kube import Pod, selector_matches


@dataclass(frozen=True)
class Address:
    """An endpoint outside the cluster's pods (a managed database, S3)."""

    ip: str
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.ip


class Network:
    def __init__(self, policies: list[dict], namespace_labels: dict[str, dict], default_ns: str):
        self.policies = policies
        self.namespace_labels = namespace_labels
        self.default_ns = default_ns

    def _ns(self, policy: dict) -> str:
        return policy["metadata"].get("namespace", self.default_ns)

    @staticmethod
    def _types(policy: dict) -> list[str]:
        spec = policy["spec"]
        if "policyTypes" in spec:
            return spec["policyTypes"]
        return ["Ingress"] + (["Egress"] if "egress" in spec else [])

    def _selecting(self, pod: Pod, direction: str) -> list[dict]:
        return [
            p
            for p in self.policies
            if direction in self._types(p)
            and self._ns(p) == pod.namespace
            and selector_matches(p["spec"].get("podSelector"), pod.labels)
        ]

    def _peer_matches(self, peer: dict, policy_ns: str, other: Pod | Address) -> bool:
        if "ipBlock" in peer:
            if not isinstance(other, Address):
                # Pod addresses are cluster-internal; the policies here never
                # name pod ranges by address.
                return False
            ip = ipaddress.ip_address(other.ip)
            block = peer["ipBlock"]
            if ip not in ipaddress.ip_network(block["cidr"]):
                return False
            return not any(ip in ipaddress.ip_network(e) for e in block.get("except") or [])
        if isinstance(other, Address):
            return False
        ns_selector = peer.get("namespaceSelector")
        if ns_selector is None:
            if other.namespace != policy_ns:
                return False
        elif not selector_matches(ns_selector, self.namespace_labels.get(other.namespace, {})):
            return False
        pod_selector = peer.get("podSelector")
        return pod_selector is None or selector_matches(pod_selector, other.labels)

    @staticmethod
    def _port_matches(rule_ports, port: int, protocol: str, target: Pod | Address) -> bool:
        if not rule_ports:
            return True
        for p in rule_ports:
            if p.get("protocol", "TCP") != protocol:
                continue
            if "port" not in p:
                return True
            value = p["port"]
            if isinstance(value, str):
                if isinstance(target, Address):
                    continue
                value = target.port_number(value, protocol)
                if value is None:
                    continue
            if value <= port <= p.get("endPort", value):
                return True
        return False

    def _direction_allows(self, direction: str, subject: Pod, peer: Pod | Address,
                          port: int, protocol: str, target: Pod | Address) -> bool:
        policies = self._selecting(subject, direction)
        if not policies:
            return True
        key = "ingress" if direction == "Ingress" else "egress"
        peers_key = "from" if direction == "Ingress" else "to"
        for policy in policies:
            for rule in policy["spec"].get(key) or []:
                peers = rule.get(peers_key)
                if peers and not any(self._peer_matches(x, self._ns(policy), peer) for x in peers):
                    continue
                if self._port_matches(rule.get("ports"), port, protocol, target):
                    return True
        return False

    def allows(self, src: Pod, dst: Pod | Address, port: int, protocol: str = "TCP") -> bool:
        """Whether `src` may open a connection to `dst` on `port`."""
        if not self._direction_allows("Egress", src, dst, port, protocol, dst):
            return False
        if isinstance(dst, Address):
            return True
        return self._direction_allows("Ingress", dst, src, port, protocol, dst)
