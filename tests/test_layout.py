"""The layout's rules hold: import contracts, route policies on every route."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import qrstream
from qrstream.config import Config
from qrstream.web.app import create_app
from qrstream.web.policy import POLICIES, Routes

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ("cards", "instances", "verifications", "webhooks")
WEB_MODULES = {
    "routes",
    "admin_routes",
    "page",
    "link_page",
    "pairing_link_page",
    "scanqrcode",
    "rotation",
    "keys",
    "policies",
    "client",
}
"""Module names that may import aiohttp inside a family: routes, pages, websockets, app keys, HTTP clients."""


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(config["tool"]["importlinter"]["contracts"])


def test_import_contracts_are_kept() -> None:
    """`lint-imports` passes: no domain module imports aiohttp, families stay apart."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_domain_module_is_under_the_aiohttp_contract() -> None:
    """A new domain module in a family cannot slip past the no-aiohttp contract unlisted."""
    listed = set(_contracts()[0]["source_modules"])  # type: ignore[arg-type]
    missing = []
    for family in FAMILIES:
        package = ROOT / "qrstream" / family
        for module in pkgutil.iter_modules([str(package)]):
            name = f"qrstream.{family}.{module.name}"
            if module.name not in WEB_MODULES and name not in listed:
                missing.append(name)
    assert missing == []


def test_every_route_declares_its_policy(tmp_path: Path) -> None:
    """Each route of the app was added with a policy (so no route falls back to a guess)."""
    app = create_app(Config(db=str(tmp_path / "q.db")))
    table = app[POLICIES].by_route
    undeclared = [
        f"{route.method} {route.resource.canonical if route.resource else '?'}"
        for route in app.router.routes()
        if route not in table
    ]
    assert undeclared == []
    # Every route whose path carries a capability says so.
    for route, compiled in table.items():
        canonical = route.resource.canonical if route.resource else ""
        for secret in ("{token}", "{code}"):
            if secret in canonical:
                assert secret.strip("{}") in compiled.policy.secrets, canonical


def test_routes_helper_gives_head_the_same_policy(tmp_path: Path) -> None:
    app = create_app(Config(db=str(tmp_path / "q.db")))
    table = app[POLICIES].by_route
    heads = [r for r in app.router.routes() if r.method == "HEAD"]
    assert heads and all(r in table for r in heads)
    assert Routes.__doc__


def test_families_are_packages() -> None:
    for family in (*FAMILIES, "qr"):
        assert (Path(qrstream.__file__).parent / family / "__init__.py").is_file()
