"""The client's exceptions belong to the one error model: each is a
:class:`tongxin.schemas.TongxinError` with the problem's members, gives its problem body back,
and never takes the place of the hub's classes in the catalogue."""

from __future__ import annotations

import subprocess
import sys

import tongxin.schemas
from tongxin.client import (
    PROBLEM_CLASSES,
    ConnectionFailed,
    DuplicateCitizenId,
    NotFound,
    TongxinError,
    error_from_problem,
)
from tongxin.schemas import from_problem, problems

BODY = {
    "type": "https://tongxin.org.cn/problems/duplicate-citizen-id",
    "title": "Duplicate citizen ID",
    "status": 409,
    "detail": "member cd-wuhou:m1 on this hub has this citizen ID",
    "detailZh": "本枢纽的党员 cd-wuhou:m1 已使用该公民身份号码",
    "code": "duplicate-citizen-id",
    "errors": [
        {
            "pointer": "/citizenId",
            "rule": "UNQ-001",
            "severity": "error",
            "message": {"zh-CN": "公民身份号码已被使用", "en": "citizen ID taken"},
        }
    ],
    "existing": "/v1/members/cd-wuhou:m1",
}


def test_every_client_error_is_a_tongxin_error_of_the_standard() -> None:
    assert issubclass(TongxinError, tongxin.schemas.TongxinError)
    assert all(issubclass(cls, tongxin.schemas.TongxinError) for cls in PROBLEM_CLASSES.values())
    assert issubclass(ConnectionFailed, tongxin.schemas.TongxinError)


def test_a_client_error_carries_the_standard_members_and_its_problem_body() -> None:
    error = error_from_problem(409, BODY, retry_after=3.0)
    assert isinstance(error, DuplicateCitizenId)
    assert (error.status, error.code) == (409, problems.DUPLICATE_CITIZEN_ID)
    assert (error.detail_en, error.detail_zh) == (BODY["detail"], BODY["detailZh"])
    assert error.message("zh-CN") == BODY["detailZh"]
    assert [(i.pointer, i.rule) for i in error.issues] == [("/citizenId", "UNQ-001")]
    assert [(e.pointer, e.rule) for e in error.errors] == [("/citizenId", "UNQ-001")]
    assert error.extra == {"existing": "/v1/members/cd-wuhou:m1"}
    assert error.existing == "/v1/members/cd-wuhou:m1"
    assert error.headers == {"Retry-After": "3"}
    assert error.to_problem() == BODY
    assert str(error).startswith("409 duplicate-citizen-id: member cd-wuhou:m1")


def test_the_standard_s_from_problem_builds_a_client_error_on_request() -> None:
    error = from_problem(BODY, default=TongxinError)
    assert isinstance(error, TongxinError)
    assert (error.status, error.detail, error.problem["existing"]) == (
        409,
        BODY["detail"],
        "/v1/members/cd-wuhou:m1",
    )
    assert error.to_problem() == BODY


def test_no_answer_means_status_zero_and_the_message_as_given() -> None:
    error = ConnectionFailed("GET /v1/members: refused")
    assert error.status == 0
    assert str(error) == "GET /v1/members: refused"
    assert error.args == ("GET /v1/members: refused",)
    assert NotFound("gone").status == 404


def test_the_catalogue_keeps_answering_with_the_hub_s_classes() -> None:
    """Even when the client is imported first, its like-named classes are not catalogued."""
    script = (
        "import tongxin.client, tongxin.server, tongxin.server.api\n"
        "from tongxin.schemas import from_problem\n"
        "for code in ('not-found', 'version-mismatch', 'duplicate-citizen-id', 'bad-request'):\n"
        "    cls = type(from_problem({'code': code}))\n"
        "    assert cls.__module__.startswith('tongxin.server'), cls\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
