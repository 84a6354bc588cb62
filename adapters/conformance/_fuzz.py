"""The optional fuzzing stage (``--fuzz N``): schemathesis generates requests from the target's
own OpenAPI document and the kit reports every 5xx answer. Only operations that store nothing
are fuzzed (every ``GET``, and ``POST /v1/validate``), so the stage is safe on a real platform.
Needs the ``fuzz`` extra (``pip install "tongxin[fuzz]"``)."""

from __future__ import annotations

import warnings
from typing import Any

import httpx

from ._model import Context, Fail, Skip

__all__ = ["no_server_error"]

_SAFE_POSTS = {"/v1/validate"}
_SHOWN = 5


def _send(ctx: Context, kwargs: dict[str, Any]) -> httpx.Response:
    headers = {
        k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "authorization"
    }
    headers["Authorization"] = f"Bearer {ctx.target.token}"
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        body["content"] = data if isinstance(data, bytes | str) else str(data)
    return ctx.client.request(
        kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=headers, **body
    )


def no_server_error(ctx: Context) -> None:
    if ctx.target.fuzz <= 0:
        raise Skip("fuzzing not asked for (--fuzz N)", "未要求模糊测试（--fuzz N）")
    try:
        import schemathesis
        from schemathesis.core.result import Ok
    except ImportError:
        raise Skip(
            'fuzzing needs schemathesis: pip install "tongxin[fuzz]"',
            "模糊测试需要 schemathesis：请安装 tongxin[fuzz]",
        ) from None
    if "openapi" not in ctx.cache:
        from ._read import openapi

        openapi(ctx)
    schema = schemathesis.openapi.from_dict(ctx.cache["openapi"])
    # An operation schemathesis cannot read is left out (TXC-READ-002 checks the document).
    described = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    operations = [
        op
        for op in described
        if op.method.upper() == "GET" or (op.method.upper() == "POST" and op.path in _SAFE_POSTS)
    ]
    errors: list[tuple[httpx.Response, str]] = []
    sent = [0]
    for operation in operations:
        _fuzz_one(ctx, operation, errors, sent)
    if errors:
        ctx.remember(errors[0][0])
        where = sorted({label for _, label in errors})[:_SHOWN]
        raise Fail(
            f"{len(errors)} of {sent[0]} generated requests answered 5xx: {', '.join(where)}",
            f"{sent[0]} 个生成的请求中有 {len(errors)} 个返回 5xx：{', '.join(where)}",
        )


def _fuzz_one(
    ctx: Context, operation: Any, errors: list[tuple[httpx.Response, str]], sent: list[int]
) -> None:
    """Fuzz one operation with ``ctx.target.fuzz`` generated requests."""
    from hypothesis import HealthCheck, Phase, given, settings

    label = f"{operation.method.upper()} {operation.path}"
    base = ctx.target.url.rstrip("/")

    @given(case=operation.as_strategy())
    @settings(
        max_examples=ctx.target.fuzz,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def probe(case: Any) -> None:
        try:
            response = _send(ctx, case.as_transport_kwargs(base_url=base))
        except httpx.HTTPError as error:
            raise Fail(f"no response ({error})", f"无响应（{error}）") from None
        sent[0] += 1
        if response.status_code >= 500:
            errors.append((response, label))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probe()
