"""Runs the database scripts of the manifests (taken from the rendered dev
overlay) with this machine's sh and psql against a real PostgreSQL:

- scripts/db-check.sh, each migrate Job's first step as the database owner:
  passes on a database its owner may migrate, reports the migration level,
  refuses what would make the migrations or the grants fail, and keeps
  waiting while the database does not answer;
- scripts/wait-for-schema.sh, the services' init container as their runtime
  role: waits until the migration it is given is applied, then exits 0;
- overlays/dev/postgres/01-roles-and-databases.sh, the dev PostgreSQL's init
  script: owner and runtime roles and the database from the URLs, CONNECT
  for those two only.

Needs psql and the server at ARCHIVE_TEST_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432/postgres, a superuser); skipped without
them unless ARCHIVE_REQUIRE_POSTGRES=1, as the Rust conformance suites do.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import unittest
import uuid
from urllib.parse import urlsplit, urlunsplit

import kube
from test_check_manifests import render

ADMIN_URL = os.environ.get("ARCHIVE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REQUIRED = os.environ.get("ARCHIVE_REQUIRE_POSTGRES") == "1"


def with_database(url: str, database: str, user: str | None = None, password: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if user:
        netloc = user + (f":{password}" if password else "") + "@" + netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, "/" + database, parts.query, parts.fragment))


def psql(url: str, sql: str) -> str:
    return subprocess.run(["psql", url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def server_available() -> bool:
    if not shutil.which("psql"):
        return False
    try:
        psql(ADMIN_URL, "SELECT 1")
        return True
    except subprocess.CalledProcessError:
        return False


def configmap_file(objects: list[dict], prefix: str, key: str) -> str:
    cm = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith(prefix + "-"))
    return cm["data"][key]


class Scratch(unittest.TestCase):
    """Fresh roles and databases per test, dropped afterwards."""

    objects: list[dict]

    @classmethod
    def setUpClass(cls) -> None:
        if not server_available():
            if REQUIRED:
                raise AssertionError(f"PostgreSQL at {ADMIN_URL} is required (ARCHIVE_REQUIRE_POSTGRES=1)")
            raise unittest.SkipTest(f"no psql or no PostgreSQL at {ADMIN_URL}: SKIPPED")
        cls.objects = render("dev")

    def setUp(self) -> None:
        self.tag = f"k8s_{uuid.uuid4().hex[:10]}"
        self.roles: list[str] = []
        self.databases: list[str] = []

    def tearDown(self) -> None:
        for db in self.databases:
            psql(ADMIN_URL, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        for role in self.roles:
            psql(ADMIN_URL, f"DROP ROLE IF EXISTS {role}")

    def role(self, name: str, options: str = "LOGIN PASSWORD 'pw'") -> str:
        role = f"{self.tag}_{name}"
        psql(ADMIN_URL, f"CREATE ROLE {role} {options}")
        self.roles.append(role)
        return role

    def database(self, name: str, owner: str | None = None) -> str:
        db = f"{self.tag}_{name}"
        psql(ADMIN_URL, f"CREATE DATABASE {db}" + (f" OWNER {owner}" if owner else ""))
        self.databases.append(db)
        return db

    def run_script(self, script: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(["/bin/sh", "-c", script, "script"], env={**os.environ, "HOME": "/tmp", **env},
                              capture_output=True, text=True, timeout=timeout)

    def assert_keeps_running(self, script: str, env: dict, seconds: float = 2) -> str:
        """Starts the script, checks it is still running after `seconds`,
        kills it and answers what it printed."""
        # Its own process group, so the shell's `sleep` goes with it.
        proc = subprocess.Popen(["/bin/sh", "-c", script, "script"], env={**os.environ, "HOME": "/tmp", **env},
                                start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(seconds)
            self.assertIsNone(proc.poll(), "the script must keep waiting, not exit")
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return out + err


class DbCheck(Scratch):
    def setUp(self) -> None:
        super().setUp()
        self.script = configmap_file(self.objects, "archive-db-scripts", "db-check.sh")
        self.owner = self.role("owner")
        self.runtime = self.role("runtime")
        self.db = self.database("calls", owner=self.owner)
        self.owner_url = with_database(ADMIN_URL, self.db, self.owner, "pw")

    def check(self, **env: str) -> subprocess.CompletedProcess:
        return self.run_script(self.script, {"SERVICE": "archive-svc", "DATABASE_URL": self.owner_url,
                                             "RUNTIME_ROLE": self.runtime, "EXTENSIONS": "pg_trgm", **env})

    def test_a_database_its_owner_may_migrate_passes_and_reports_the_level(self) -> None:
        done = self.check()
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn(f"archive-svc: database answers as {self.owner}; last migration applied: none; "
                      f"runtime role {self.runtime} ready", done.stdout)
        psql(self.owner_url, "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, success BOOLEAN NOT NULL)")
        psql(self.owner_url, "INSERT INTO _sqlx_migrations VALUES (1, true), (2, false)")
        done = self.check()
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("last migration applied: 2 (a failed migration is recorded)", done.stdout)

    def test_an_owner_that_cannot_create_in_public_fails(self) -> None:
        psql(with_database(ADMIN_URL, self.db), "ALTER SCHEMA public OWNER TO postgres")
        psql(with_database(ADMIN_URL, self.db), "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        done = self.check()
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn(f"archive-svc: role {self.owner} cannot CREATE in schema public", done.stdout)

    def test_a_missing_extension_fails(self) -> None:
        done = self.check(EXTENSIONS="pg_trgm no_such_extension")
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("extension no_such_extension is not available", done.stdout)

    def test_the_runtime_role_must_exist_log_in_and_be_neither_owner_nor_superuser(self) -> None:
        cases = [
            (f"{self.tag}_nobody", "does not exist"),
            (self.role("nologin", "NOLOGIN"), "cannot log in"),
            (self.role("super", "LOGIN SUPERUSER"), "is a superuser"),
            (self.owner, "must not be the owner"),
            (self.role("member", f"LOGIN IN ROLE {self.owner}"), "is a member of the owner role"),
            ("bad-name", "is not a role name"),
        ]
        for role, message in cases:
            with self.subTest(role=role):
                done = self.check(RUNTIME_ROLE=role)
                self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
                self.assertIn(message, done.stdout)

    def test_waits_while_the_database_does_not_answer(self) -> None:
        out = self.assert_keeps_running(self.script, {
            "SERVICE": "archive-svc", "RUNTIME_ROLE": self.runtime,
            "DATABASE_URL": with_database(ADMIN_URL, self.db + "_missing", self.owner, "pw")})
        self.assertIn("archive-svc: database not answering yet", out)
        self.assertNotIn("ready", out)


class WaitForSchema(Scratch):
    def setUp(self) -> None:
        super().setUp()
        self.script = configmap_file(self.objects, "archive-db-scripts", "wait-for-schema.sh")
        self.runtime = self.role("runtime")
        self.db = self.database("authz")
        self.env = {"SERVICE": "authz-svc", "SCHEMA_VERSION": "2",
                    "DATABASE_URL": with_database(ADMIN_URL, self.db, self.runtime, "pw")}

    def migrate(self, *rows: str, grant: bool = True) -> None:
        url = with_database(ADMIN_URL, self.db)
        psql(url, "CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, success BOOLEAN NOT NULL)")
        for row in rows:
            psql(url, f"INSERT INTO _sqlx_migrations VALUES {row}")
        if grant:
            psql(url, f"GRANT SELECT ON _sqlx_migrations TO {self.runtime}")

    def test_waits_until_the_jobs_table_and_grant_exist(self) -> None:
        out = self.assert_keeps_running(self.script, self.env)
        self.assertIn("authz-svc: waiting for migration 2 (Job authz-svc-migrate): ", out)
        self.migrate("(1, true), (2, true)", grant=False)
        out = self.assert_keeps_running(self.script, self.env)
        self.assertIn("permission denied", out)

    def test_waits_while_the_migration_is_missing_or_failed(self) -> None:
        self.migrate("(1, true)")
        self.assertIn("not applied yet", self.assert_keeps_running(self.script, self.env))
        self.migrate("(2, false)")
        self.assertIn("not applied yet", self.assert_keeps_running(self.script, self.env))

    def test_starts_once_the_migration_is_applied_and_after_newer_ones(self) -> None:
        self.migrate("(1, true), (2, true), (3, true)")
        done = self.run_script(self.script, self.env)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("authz-svc: migration 2 is applied: starting", done.stdout)

    def test_a_version_that_is_not_a_number_fails(self) -> None:
        done = self.run_script(self.script, {**self.env, "SCHEMA_VERSION": "2; DROP TABLE x"})
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("is not a number", done.stdout)


class DevPostgresInit(Scratch):
    def setUp(self) -> None:
        super().setUp()
        self.script = configmap_file(self.objects, "archive-postgres-init", "01-roles-and-databases.sh")
        admin = urlsplit(ADMIN_URL)
        # The entrypoint runs it against the local server as POSTGRES_USER.
        self.server = {"POSTGRES_USER": admin.username or "postgres", "PGHOST": admin.hostname or "127.0.0.1",
                       "PGPORT": str(admin.port or 5432)}

    def url(self, user: str, db: str) -> str:
        return f"postgres://{user}:pw-{user[-6:]}@archive-postgres:5432/{db}"

    def test_creates_each_services_owner_runtime_role_and_database(self) -> None:
        env, dbs = dict(self.server), {}
        for var, svc in (("ARCHIVE_SVC", "calls"), ("AUTHZ_SVC", "authz"), ("AUDIT_SVC", "audit")):
            owner, runtime, db = f"{self.tag}_{svc}_owner", f"{self.tag}_{svc}_rt", f"{self.tag}_{svc}"
            self.roles += [owner, runtime]
            self.databases.insert(0, db)
            env[f"{var}_OWNER_URL"], env[f"{var}_URL"] = self.url(owner, db), self.url(runtime, db)
            dbs[svc] = (owner, runtime, db)
        done = self.run_script(self.script, env)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        owner, runtime, db = dbs["calls"]
        self.assertIn(f"archive-svc: database {db}, owner {owner}, runtime role {runtime}", done.stdout)

        login = lambda user, database: with_database(ADMIN_URL, database, user, f"pw-{user[-6:]}")  # noqa: E731
        # The owner migrates (CREATE in public, a trusted extension); the
        # runtime role connects; nobody else does, not even to another service's database.
        psql(login(owner, db), "CREATE EXTENSION IF NOT EXISTS pg_trgm; CREATE TABLE t (x int)")
        self.assertEqual(psql(login(runtime, db), "SELECT current_user"), runtime)
        with self.assertRaises(subprocess.CalledProcessError):
            psql(login(runtime, db), "SELECT * FROM t")
        with self.assertRaises(subprocess.CalledProcessError):
            psql(login(runtime, dbs["audit"][2]), "SELECT 1")
        stranger = self.role("stranger", "LOGIN PASSWORD 'pw'")
        with self.assertRaises(subprocess.CalledProcessError):
            psql(with_database(ADMIN_URL, db, stranger, "pw"), "SELECT 1")

    def test_urls_naming_one_user_for_both_are_refused(self) -> None:
        db = f"{self.tag}_calls"
        env = {**self.server, "ARCHIVE_SVC_OWNER_URL": self.url(f"{self.tag}_u", db),
               "ARCHIVE_SVC_URL": self.url(f"{self.tag}_u", db)}
        done = self.run_script(self.script, env)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("must name two different users and the same database", done.stderr)


if __name__ == "__main__":
    unittest.main()
