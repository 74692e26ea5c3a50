"""The layout's rules hold: import contracts, route policies on every route."""

from __future__ import annotations

import ast
import pkgutil
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from aiohttp import web

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


_PLACEHOLDER = re.compile(r"%[sdri]|\{[^{}]*\}")


def _route_heads(app: web.Application) -> list[tuple[str, bool]]:
    """Each route's literal start (`/c/`, `/verify`, `/waInstance`), and whether anything may
    follow it directly (it ends in `/` or a `{part}` follows)."""
    heads = set()
    for resource in app.router.resources():
        head, brace, _ = resource.canonical.partition("{")
        if head.strip("/"):
            heads.add((head, bool(brace) or head.endswith("/")))
    return sorted(heads)


def _literal_pieces(node: ast.AST) -> list[str] | None:
    """The literal texts of an expression that builds a string from pieces at run time
    (f-string, `+`, `%`, `.format`), or None for anything else."""
    if isinstance(node, ast.JoinedStr):
        if not any(isinstance(v, ast.FormattedValue) for v in node.values):
            return None
        return [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        operands: list[ast.AST] = []
        stack: list[ast.AST] = [node]
        while stack:
            each = stack.pop()
            if isinstance(each, ast.BinOp) and isinstance(each.op, ast.Add):
                stack += [each.right, each.left]
            else:
                operands.append(each)
        texts = [o.value for o in operands if isinstance(o, ast.Constant) and isinstance(o.value, str)]
        return texts if len(texts) < len(operands) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        left = node.left
        if isinstance(left, ast.Constant) and isinstance(left.value, str):
            return _PLACEHOLDER.split(left.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        template = node.func.value
        if isinstance(template, ast.Constant) and isinstance(template.value, str):
            return _PLACEHOLDER.split(template.value)
    return None


def _built_paths(source: str, heads: list[tuple[str, bool]]) -> list[str]:
    """Lines of `source` that spell a route's path into a string built at run time. A piece
    holding `{…}` itself is a route template being registered (`base + "/qr/{token}"`), not a link."""
    found = []
    for node in ast.walk(ast.parse(source)):
        for text in _literal_pieces(node) or ():
            if "{" in text:
                continue
            for head, open_ended in heads:
                rest = text[len(head) :]
                if text.startswith(head) and (open_ended or rest == "" or rest[0] in "/?#"):
                    found.append(f"{getattr(node, 'lineno', '?')}: {text!r} (route {head!r})")
                    break
    return found


def test_links_to_routes_are_built_by_route_name(tmp_path: Path) -> None:
    """No module of the server spells a route's path into an f-string or a concatenation: links
    come from `LinkFor` (`app.router[name].url_for`), so a path is written once, where it is added."""
    heads = _route_heads(create_app(Config(db=str(tmp_path / "q.db"))))
    assert {"/c/", "/q/", "/verify", "/link/", "/p/", "/v1/public/card/", "/media/card_qrcodes/"} <= {
        head for head, _ in heads
    }
    # The check sees the forms links were built with before (it is not blind).
    before = """
portal = f"{base_url}/verify?verification_id={verification_id}"
page = f"{base_url}/c/{self.uuid}"
link = base_url + "/q/" + code
pairing = f"{self._base_url}/link/{code}"
signed = "%s/v1/public/card/%s/qr-code/offline?expires=%d" % (base, card, expires)
image = "{}/media/card_qrcodes/{}".format(base, name)
"""
    assert sorted({int(line.partition(":")[0]) for line in _built_paths(before, heads)}) == [2, 3, 4, 5, 6, 7]
    registered = """
routes.get(base + "/qr/{token}", qr)
routes.get(f"{card}/vcard", vcard)
doc = f"/c/{{uuid}}"
"""
    assert _built_paths(registered, heads) == []
    offenders = {}
    for path in sorted((ROOT / "qrstream").rglob("*.py")):
        found = _built_paths(path.read_text(encoding="utf-8"), heads)
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}
