"""Facts the manifests must agree with, read from the workspace itself: the
environment variables each binary's clap configuration reads (following
`#[command(flatten)]` into the crate's other files and into the shared
library, archive_common), the AWS_* variables of the crates that configure
S3 from the environment, each service's newest PostgreSQL migration, the
holders of the suite's identity keys, the Dockerfile's image targets and the
binaries those copy."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

# An `#[arg(...)]` attribute (one level of nested parentheses) and the public
# field it annotates.
_ARG = re.compile(r"#\[arg\(((?:[^()]|\([^()]*\))*)\)\]\s*pub\s+(\w+)\s*:\s*([^,\n]+),")
_ENV = re.compile(r'\benv\s*=\s*"([A-Z0-9_]+)"')
# A `#[command(flatten)]` field: its settings are declared by its type.
_FLATTEN = re.compile(r"#\[command\(flatten\)\]\s*pub\s+\w+\s*:\s*([^,\n]+),")

# object_store's AmazonS3Builder::from_env() reads every AWS_* variable it
# knows. Listed: credentials, region, web identity / container credentials,
# STS and server-side encryption. Not listed, so a manifest setting them is an
# error: what the code sets itself after from_env (bucket, endpoint,
# addressing, plain HTTP, checksum), which the variable would not change.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_ENDPOINT_URL_STS",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_SERVER_SIDE_ENCRYPTION", "AWS_SSE_KMS_KEY_ID", "AWS_SSE_BUCKET_KEY_ENABLED",
}
_AWS_FROM_ENV = "AmazonS3Builder::from_env()"

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

# The shared library every binary links (crate archive_common): a settings
# type a binary flattens from it (every process's IdentityConfig) is that
# binary's own.
COMMON_CRATE = "common"
COMMON_PATH = "archive_common::"
# The holders of the suite's keys and their roles (`gateway credentials init`).
KEYS_SOURCE = "common/src/identity/keys.rs"
_SUITE_HOLDERS = re.compile(r"pub const SUITE_HOLDERS\b[^=]*=\s*\[(.*?)\];", re.S)
_HOLDER = re.compile(r'\(\s*"([a-z0-9-]+)"\s*,\s*Role::(\w+)\s*\)')

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


def _crate_sources(root: Path, crate: str) -> list[Path]:
    return sorted((root / crate / "src").rglob("*.rs"))


def _flattened_types(source: str) -> list[tuple[str, str | None]]:
    """The types of a source's `#[command(flatten)]` fields that are this
    binary's settings, each with the crate to look in: `Name`,
    `Option<Name>` (None: its own crate, then the shared library, whence a
    `use archive_common::…::Name` brings it), `crate::a::Name` (its own
    crate), `archive_common::a::Name` (the shared library). Another crate's
    (`media_svc::S3Config`) are that crate's settings, not this binary's."""
    names = []
    for ty in _FLATTEN.findall(source):
        ty = ty.strip()
        inner = re.fullmatch(r"Option<(.+)>", ty)
        ty = inner.group(1).strip() if inner else ty
        name = ty.rsplit("::", 1)[-1]
        if "::" not in ty or ty.startswith("crate::"):
            names.append((name, None))
        elif ty.startswith(COMMON_PATH):
            names.append((name, COMMON_CRATE))
    return names


def config_sources(root: Path, svc: str) -> list[Path]:
    """The service's configuration file and every file of its crate, or of
    the shared library, that declares a type it flattens (and so on)."""
    first = root / SERVICE_CONFIG[svc]
    crate = SERVICE_CONFIG[svc].split("/", 1)[0]
    files, queue, seen_types = [first], [first.read_text()], set()
    while queue:
        for name, where in _flattened_types(queue.pop()):
            if name in seen_types:
                continue
            seen_types.add(name)
            declares = re.compile(rf"\bpub\s+struct\s+{re.escape(name)}\b")
            if any(declares.search(f.read_text()) for f in files):
                continue
            crates = [where] if where else [crate, COMMON_CRATE]
            found = next(((path, text) for c in crates for path in _crate_sources(root, c)
                          if path not in files and declares.search(text := path.read_text())), None)
            if found:
                files.append(found[0])
                queue.append(found[1])
    return files


def service_env(root: Path) -> dict[str, dict[str, EnvSetting]]:
    """Every service's clap settings, flattened types included."""
    env = {}
    for svc in SERVICE_CONFIG:
        settings: dict[str, EnvSetting] = {}
        for path in config_sources(root, svc):
            settings |= clap_env(path.read_text())
        env[svc] = settings
    return env


def identity_holders(root: Path) -> dict[str, str]:
    """Holder -> role (`Gateway`, `Service`, `Authority`) of the keys `gateway
    credentials init` makes (SUITE_HOLDERS): `<holder>.pem` each."""
    m = _SUITE_HOLDERS.search((root / KEYS_SOURCE).read_text())
    return dict(_HOLDER.findall(m.group(1))) if m else {}


def aws_env(root: Path, svc: str) -> set[str]:
    """AWS_ENV when the service's crate builds an S3 client from the
    environment, else nothing."""
    crate = SERVICE_CONFIG[svc].split("/", 1)[0]
    reads = any(_AWS_FROM_ENV in path.read_text() for path in _crate_sources(root, crate))
    return set(AWS_ENV) if reads else set()


def schema_version(root: Path, svc: str) -> int | None:
    """The newest PostgreSQL migration of the service (the number its file
    name starts with, as sqlx records it), or None for a service without a
    database."""
    crate = SERVICE_CONFIG[svc].split("/", 1)[0]
    versions = [int(m.group(1)) for f in (root / crate / "migrations/postgres").glob("*.sql")
                if (m := re.match(r"(\d+)_", f.name))]
    return max(versions) if versions else None


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
