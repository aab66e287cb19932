"""Runs the database check Job's script (taken from the rendered dev overlay)
with this machine's psql against real PostgreSQL databases: it passes on
fresh databases, reports the migration level, refuses a role that could not
run the first migrations, and keeps waiting while a database does not answer.

Needs psql and the server at ARCHIVE_TEST_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432/postgres); skipped without them unless
ARCHIVE_REQUIRE_POSTGRES=1, as the Rust conformance suites do.
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


def with_database(url: str, database: str, user: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if user:
        netloc = user + "@" + netloc.rsplit("@", 1)[-1]
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


class DbCheckJob(unittest.TestCase):
    script: str

    @classmethod
    def setUpClass(cls) -> None:
        if not server_available():
            if REQUIRED:
                raise AssertionError(f"PostgreSQL at {ADMIN_URL} is required (ARCHIVE_REQUIRE_POSTGRES=1)")
            raise unittest.SkipTest(f"no psql or no PostgreSQL at {ADMIN_URL}: SKIPPED")
        job = kube.named(render("dev"), "Job", "archive-db-check")
        c = kube.pod_spec(job)["containers"][0]
        assert c["command"] == ["/bin/sh", "-ec"], c["command"]
        cls.script = c["args"][0]

    def setUp(self) -> None:
        tag = uuid.uuid4().hex[:10]
        self.databases = [f"k8s_check_{tag}_{n}" for n in ("calls", "authz", "audit")]
        self.role = f"k8s_check_{tag}_nocreate"
        for db in self.databases:
            psql(ADMIN_URL, f"CREATE DATABASE {db}")

    def tearDown(self) -> None:
        for db in self.databases:
            psql(ADMIN_URL, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        psql(ADMIN_URL, f"DROP ROLE IF EXISTS {self.role}")

    def env(self, urls: list[str]) -> dict:
        return {**os.environ, "HOME": "/tmp", "ARCHIVE_DATABASE_URL": urls[0],
                "AUTHZ_DATABASE_URL": urls[1], "AUDIT_DATABASE_URL": urls[2]}

    def run_script(self, urls: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(["/bin/sh", "-ec", self.script], env=self.env(urls),
                              capture_output=True, text=True, timeout=60)

    def test_fresh_databases_pass_and_report_the_migration_level(self) -> None:
        urls = [with_database(ADMIN_URL, db) for db in self.databases]
        psql(urls[1], "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, success BOOLEAN NOT NULL)")
        psql(urls[1], "INSERT INTO _sqlx_migrations VALUES (1, true), (2, true)")
        psql(urls[2], "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, success BOOLEAN NOT NULL)")
        psql(urls[2], "INSERT INTO _sqlx_migrations VALUES (1, false)")
        done = self.run_script(urls)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("archive-svc: database answers; last migration applied: none", done.stdout)
        self.assertIn("authz-svc: database answers; last migration applied: 2", done.stdout)
        self.assertIn("audit-svc: database answers; last migration applied: 1 (a failed migration is recorded)",
                      done.stdout)
        self.assertIn("databases ready", done.stdout)

    def test_role_that_cannot_create_tables_fails_before_the_first_migration(self) -> None:
        psql(ADMIN_URL, f"CREATE ROLE {self.role} LOGIN")
        # Since PostgreSQL 15 only the owner may create in schema public.
        psql(with_database(ADMIN_URL, self.databases[0]), f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {self.role}")
        urls = [with_database(ADMIN_URL, self.databases[0], user=self.role)] + [
            with_database(ADMIN_URL, db) for db in self.databases[1:]]
        done = self.run_script(urls)
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("archive-svc: the role cannot CREATE in schema public", done.stdout)

    def test_waits_while_a_database_does_not_answer(self) -> None:
        urls = [with_database(ADMIN_URL, self.databases[0] + "_missing")] + [
            with_database(ADMIN_URL, db) for db in self.databases[1:]]
        # Its own process group, so the shell's `sleep` goes with it.
        proc = subprocess.Popen(["/bin/sh", "-ec", self.script], env=self.env(urls), start_new_session=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(2)
            self.assertIsNone(proc.poll(), "the script must keep waiting, not exit")
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        self.assertIn("archive-svc: database not answering yet", out)
        self.assertNotIn("databases ready", out)


if __name__ == "__main__":
    unittest.main()
