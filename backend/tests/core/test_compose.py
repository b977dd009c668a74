"""docker-compose.yml (PostgreSQL and Redis for the scaled mode) is valid, as a compose tool
reads it, and matches the URLs .env.example gives. No container runs here: `docker-compose
config` validates and resolves the file without a daemon."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.ci import skip_loudly

pytestmark = pytest.mark.once
REPO = Path(__file__).resolve().parents[3]


def _compose_config(compose_file: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("docker-compose")
    if tool is None:
        skip_loudly("docker-compose is not installed (make compose-tool): no file check.")
    return subprocess.run(
        [tool, "--file", str(compose_file), "config"],
        cwd=compose_file.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    done = _compose_config(REPO / "docker-compose.yml")
    assert done.returncode == 0, done.stderr
    return dict(yaml.safe_load(done.stdout)["services"])


def _example(name: str) -> str:
    """A URL .env.example gives (commented out there)."""
    text = (REPO / ".env.example").read_text()
    found = re.search(rf"^#?\s*{name}=(\S+)$", text, re.MULTILINE)
    assert found, name
    return found[1]


def test_postgresql_is_the_one_env_example_names(services: dict[str, Any]) -> None:
    url = make_url(_example("DATABASE_URL"))
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:")
    environment = postgres["environment"]
    assert (environment["POSTGRES_USER"], environment["POSTGRES_PASSWORD"]) == (
        url.username,
        url.password,
    )
    assert environment["POSTGRES_DB"] == url.database
    assert f"127.0.0.1:{url.port}:5432/tcp" in postgres["ports"]


def test_redis_is_the_one_env_example_names(services: dict[str, Any]) -> None:
    port = make_url(_example("REDIS_URL")).port
    redis = services["redis"]
    assert redis["image"].startswith("redis:")
    assert f"127.0.0.1:{port}:6379/tcp" in redis["ports"]


def test_the_tool_refuses_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  redis:\n    image: redis:7-alpine\n    ports: 6379\n")
    done = _compose_config(broken)
    assert done.returncode != 0
    assert "ports" in done.stderr
