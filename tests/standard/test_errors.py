"""One error model: the catalogue of problem codes, the round trip through a problem body,
every raise site naming a catalogued code of its class, the generated table in spec/api.md, and
the issue wire form (``pointer``, with ``path`` as the validator's deprecated alias)."""

from __future__ import annotations

import ast
from pathlib import Path

import orjson
import pytest

import tongxin.federation as federation
import tongxin.server._errors as hub_errors
import tongxin.server._health
from tongxin.schemas import (
    Issue,
    PackageReadError,
    PackageSyntaxError,
    Severity,
    TongxinError,
    from_problem,
    problems,
)
from tongxin.schemas._errors import error_class
from tongxin.schemas._problem_docs import render
from tongxin.schemas.problems import CATALOGUE, ProblemCode

ROOT = Path(__file__).resolve().parents[2]
TREES = ("reference_server", "federation", "schemas", "tongxin", "adapters")
ISSUE = Issue("MBR-001", Severity.ERROR, "/members/0/citizenId", "号码无效", "invalid number")
USES = [(entry.code, status, kind) for entry in CATALOGUE.values() for status, kind in entry.uses()]


def _error(code: ProblemCode, status: int) -> TongxinError:
    cls = error_class(code, status)
    assert cls is not None, f"no class {CATALOGUE[code].kind} is defined for {code}"
    return cls.rebuild(code, f"{code} happened", f"发生了{code}", [ISSUE], {"owner": "cd-wuhou"})


@pytest.mark.parametrize(("code", "status", "kind"), USES)
def test_every_code_comes_back_from_its_problem_body(
    code: ProblemCode, status: int, kind: str
) -> None:
    error = _error(code, status)
    assert type(error).__name__ == kind
    assert error.status == status
    body = orjson.loads(orjson.dumps(error.to_problem("/v1/x")))
    assert body["type"] == CATALOGUE[code].type_uri
    assert body["title"] == CATALOGUE[code].title_en
    assert body["errors"] == [ISSUE.to_wire()]
    again = from_problem(body)
    assert type(again) is type(error)
    assert (again.code, again.status, again.detail_en, again.detail_zh) == (
        code,
        status,
        error.detail_en,
        error.detail_zh,
    )
    assert again.issues == [ISSUE]
    assert again.extra == {"instance": "/v1/x", "owner": "cd-wuhou"} or again.extra == {
        "owner": "cd-wuhou"
    }
    assert again.to_problem("/v1/x") == body


def test_federation_from_problem_keeps_to_its_families() -> None:
    signature = federation.from_problem(_error(problems.EXPIRED, 401).to_problem())
    assert isinstance(signature, federation.SignatureError)
    hub_code = federation.from_problem(_error(problems.NOT_FOUND, 404).to_problem())
    assert type(hub_code) is federation.FederationError
    assert (hub_code.code, hub_code.status) == ("not-found", 404)
    newer = federation.from_problem({"code": "from-a-newer-peer", "status": 418, "detail": "x"})
    assert (newer.code, newer.status, newer.title) == ("from-a-newer-peer", 418, "Federation error")


def test_a_peer_member_named_like_a_keyword_is_an_extension() -> None:
    again = from_problem({"code": "conflict", "status": 409, "issues": 1, "headers": "x"})
    assert again.extra == {"issues": 1, "headers": "x"}
    assert again.issues == []


def test_validator_errors_are_in_the_tree_with_their_published_constructors() -> None:
    unreadable = PackageReadError("a.json", "not UTF-8 text", "不是 UTF-8 文本")
    assert (str(unreadable), unreadable.source, unreadable.reason) == (
        "a.json: not UTF-8 text",
        "a.json",
        "not UTF-8 text",
    )
    assert (unreadable.code, unreadable.status) == ("package-unreadable", 400)
    again = from_problem(unreadable.to_problem())
    assert isinstance(again, PackageReadError)
    assert (again.source, again.reason) == ("a.json", "not UTF-8 text")
    syntax = PackageSyntaxError("expected ':'", 3, 7)
    assert isinstance(syntax, ValueError)
    assert (str(syntax), syntax.line, syntax.column) == ("expected ':' (line 3, column 7)", 3, 7)
    assert syntax.code == "package-syntax"
    assert not any(c.isascii() and c.isalpha() for c in syntax.detail_zh.replace("JSON", ""))


def test_one_constructor_order_and_status_from_the_class() -> None:
    for cls in (hub_errors.Conflict, federation.TransitionError, TongxinError):
        error = cls(problems.TRANSFER_FINAL, "final", "已办结", state="accepted")
        assert (error.code, error.detail_en, error.detail_zh) == (
            "transfer-final",
            "final",
            "已办结",
        )
        assert error.status == 409
        assert error.extra == {"state": "accepted"}
    assert issubclass(hub_errors.HubError, TongxinError)
    assert issubclass(federation.FederationError, TongxinError)


def test_catalogue_is_well_formed() -> None:
    for code, entry in CATALOGUE.items():
        assert code == entry.code
        assert code == code.lower()
        assert " " not in code
        assert 400 <= entry.status < 600
        assert entry.title_en
        assert entry.title_zh
        assert entry.description
        assert not any(
            c.isascii() and c.isalpha()
            for c in entry.title_zh.replace("JSON", "").replace("If-Match", "")
        ), code
        statuses = [s for s, _ in entry.uses()]
        assert len(statuses) == len(set(statuses)), code


def _classes() -> dict[str, type[TongxinError]]:
    """Every error class by name, from the hub's and the federation's modules."""
    out: dict[str, type[TongxinError]] = {}
    for module in (hub_errors, federation, tongxin.server._health):
        for name in dir(module):
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, TongxinError):
                out[name] = value
    return out


def _code_of(node: ast.expr) -> list[str] | None:
    """The codes a code argument can take, when it names them; None when computed."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "problems"
    ):
        return [node.attr]
    if isinstance(node, ast.IfExp):
        body, orelse = _code_of(node.body), _code_of(node.orelse)
        return None if body is None or orelse is None else body + orelse
    return None


def test_every_raise_site_names_a_catalogued_code_of_its_class() -> None:
    """Every call of an error class passes a catalogue constant first, of a code published with
    that class's status (a hub status class may stand for the catalogue's kind of the same
    status, e.g. ``Conflict`` for ``replica-read-only``). A string literal anywhere a code goes
    fails here as well as in mypy."""
    classes = _classes()
    seen = 0
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                    continue
                cls = classes.get(node.func.id)
                if cls is None or not node.args:
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                first = node.args[0]
                assert not isinstance(first, ast.Constant), f"{where}: a literal code"
                codes = _code_of(first)
                if codes is None:
                    continue  # a parameter typed ProblemCode (mypy checks its callers)
                for attr in codes:
                    code = getattr(problems, attr, None)
                    assert code in CATALOGUE, f"{where}: problems.{attr} is not catalogued"
                    statuses = {s for s, _ in CATALOGUE[code].uses()}
                    assert cls.status in statuses or cls.status == 0, (
                        f"{where}: {cls.__name__} ({cls.status}) for {code} "
                        f"(published as {sorted(statuses)})"
                    )
                    seen += 1
    assert seen > 80


def test_every_code_named_anywhere_is_catalogued() -> None:
    """Every ``problems.NAME`` in the code (raise sites, helpers taking a ``ProblemCode``,
    comparisons) is a catalogued code or one of the catalogue's functions."""
    named = set()
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                codes = _code_of(node) if isinstance(node, ast.Attribute) else None
                for attr in codes or ():
                    value = getattr(problems, attr, None)
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    assert value in CATALOGUE or callable(value), f"{where}: problems.{attr}"
                    named.add(attr)
    assert len(named) > 60


def test_no_code_is_spelt_as_a_string_where_a_code_goes() -> None:
    """``code=`` keywords and ``.code ==`` comparisons use the catalogue too."""
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.keyword) and node.arg == "code":
                    assert not isinstance(node.value, ast.Constant), where
                if (
                    isinstance(node, ast.Compare)
                    and isinstance(node.left, ast.Attribute)
                    and node.left.attr == "code"
                ):
                    for right in node.comparators:
                        assert not isinstance(right, ast.Constant), where


def test_signed_document_codes_are_catalogued() -> None:
    for kind in ("letter", "receipt", "withdrawal", "certificate"):
        for failure in ("malformed", "unknown-key", "revoked-key", "tampered", "key-inactive"):
            assert problems.signed_document_code(kind, failure) in CATALOGUE


def test_the_problem_table_in_spec_api_is_generated_from_the_catalogue() -> None:
    text = (ROOT / "spec" / "api.md").read_text("utf-8")
    assert render(text) == text, (
        "spec/api.md is stale; run: python -m tongxin.schemas._problem_docs spec/api.md"
    )
    for code in CATALOGUE:
        assert f"| `{code}` |" in text


def test_the_issue_wire_form_and_the_deprecated_path() -> None:
    assert ISSUE.to_wire() == {
        "pointer": "/members/0/citizenId",
        "rule": "MBR-001",
        "severity": "error",
        "message": {"zh-CN": "号码无效", "en": "invalid number"},
    }
    assert ISSUE.to_dict() == {**ISSUE.to_wire(), "path": "/members/0/citizenId"}
    assert ISSUE.path == ISSUE.pointer
    assert Issue.from_wire(ISSUE.to_dict()) == ISSUE
    assert Issue.from_wire({k: v for k, v in ISSUE.to_dict().items() if k != "pointer"}) == ISSUE
    assert ISSUE.under("/x").pointer == "/x/members/0/citizenId"


def test_renamed_federation_names_keep_their_deprecated_aliases() -> None:
    assert federation.citizen_id_check is federation.citizen_id_hmac
    assert federation.Issue is federation.LetterIssued
    assert federation.citizen_id_hmac("11010119900307001X", "N1").startswith("hmac-sha256:")
