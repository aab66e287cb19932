"""Facts the manifests must agree with, read from the workspace itself: the
environment variables each binary's clap configuration reads, the Dockerfile's
image targets and the binaries those copy."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

# An `#[arg(...)]` attribute (one level of nested parentheses) and the public
# field it annotates.
_ARG = re.compile(r"#\[arg\(((?:[^()]|\([^()]*\))*)\)\]\s*pub\s+(\w+)\s*:\s*([^,\n]+),")
_ENV = re.compile(r'\benv\s*=\s*"([A-Z0-9_]+)"')

# Read by archive_common::telemetry, not by clap: the log settings, and the
# OpenTelemetry variables the SDK and its OTLP/gRPC trace exporter read (the
# ones telemetry/mod.rs reads itself are added from its source by
# telemetry_env). Not listed, so a manifest setting them is an error:
# compression (the exporter is built without it) and the metrics/logs
# exporters (the services export only traces over OTLP).
TELEMETRY_ENV = {
    "LOG_FORMAT", "RUST_LOG",
    "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_EXPORT_TIMEOUT",
}
TELEMETRY_SOURCE = "common/src/telemetry/mod.rs"
# The gRPC health-check name liveness probes ask about.
_LIVENESS = re.compile(r'pub const LIVENESS: &str = "([^"]*)";')

# The image (and Dockerfile target) of each service -> its configuration source.
SERVICE_CONFIG = {
    "archive-svc": "archive-svc/src/config.rs",
    "media-svc": "media-svc/src/config.rs",
    "authz-svc": "authz-svc/src/config.rs",
    "audit-svc": "audit-svc/src/config.rs",
    "gateway": "gateway/src/config.rs",
}


@dataclass(frozen=True)
class EnvSetting:
    name: str
    field: str
    required: bool


def clap_env(source: str) -> dict[str, EnvSetting]:
    """The environment variables a clap config file declares. Required: a
    value with neither a default nor an Option/Vec/bool type."""
    settings = {}
    for attrs, fieldname, ty in _ARG.findall(source):
        env = _ENV.search(attrs)
        if not env:
            continue
        ty = ty.strip()
        optional = ty.startswith(("Option<", "Vec<")) or ty == "bool"
        has_default = "default_value" in attrs
        settings[env.group(1)] = EnvSetting(env.group(1), fieldname, not (optional or has_default))
    return settings


def telemetry_env(root: Path) -> set[str]:
    """Every variable the shared telemetry reads: TELEMETRY_ENV and the
    OTEL_* names archive_common::telemetry reads itself."""
    source = (root / TELEMETRY_SOURCE).read_text()
    return TELEMETRY_ENV | set(re.findall(r'"(OTEL_[A-Z0-9_]+)"', source))


def liveness_name(root: Path) -> str | None:
    """The health-check name that stays SERVING while a server runs
    (archive_common::host::LIVENESS), or None if the code has none."""
    m = _LIVENESS.search((root / "common/src/host.rs").read_text())
    return m.group(1) if m else None


def service_env(root: Path) -> dict[str, dict[str, EnvSetting]]:
    return {svc: clap_env((root / path).read_text()) for svc, path in SERVICE_CONFIG.items()}


def dockerfile_targets(dockerfile: str) -> dict[str, list[str]]:
    """Stage name -> the /out/<binary> names it copies from the build stage."""
    targets: dict[str, list[str]] = {}
    current = None
    for line in dockerfile.splitlines():
        stage = re.match(r"\s*FROM\s+\S+\s+AS\s+([\w.-]+)", line, re.IGNORECASE)
        if stage:
            current = stage.group(1)
            targets[current] = []
            continue
        copy = re.match(r"\s*COPY\s+--from=build\s+(.*)", line, re.IGNORECASE)
        if copy and current:
            sources = copy.group(1).split()[:-1]
            targets[current] += [s.rsplit("/", 1)[-1] for s in sources if s.startswith("/out/")]
    return targets


def cargo_binaries(root: Path) -> set[str]:
    """Every `[[bin]]` name declared by a workspace crate."""
    names = set()
    for manifest in root.glob("*/Cargo.toml"):
        with manifest.open("rb") as f:
            names |= {b["name"] for b in tomllib.load(f).get("bin", []) if "name" in b}
    return names
