"""Commands of the federation: ``keys``, ``verify-letter``, ``peer add|list`` and ``sync``.

The key store file is ``--keys-file``, else ``TONGXIN_KEYS_FILE``, else beside a SQLite
database (``hub.db`` → ``hub.keys.json``), else ``./tongxin.keys.json``
(:func:`tongxin.federation.key_store_path`).
"""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

if TYPE_CHECKING:
    from tongxin.federation import KeySet, KeyStore, Letter

__all__ = ["register"]

Database = Annotated[
    str | None,
    typer.Option("--database", help="Database URL; locates the key store beside a SQLite file."),
]
KeysFile = Annotated[
    Path | None,
    typer.Option(
        "--keys-file",
        help="The key store file (default: TONGXIN_KEYS_FILE, else beside the "
        "SQLite database, else ./tongxin.keys.json).",
    ),
]

keys_app = typer.Typer(help="Manage the hub's signing keys.", no_args_is_help=True)


def _path(keys_file: Path | None, database: str | None) -> Path:
    from tongxin.federation import key_store_path

    return keys_file if keys_file is not None else key_store_path(database)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _load(keys_file: Path | None, database: str | None) -> KeyStore:
    from tongxin.federation import KeyStore, KeyStoreError

    try:
        return KeyStore.load(_path(keys_file, database))
    except KeyStoreError as error:
        raise _fail(str(error)) from None


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="minutes")


@keys_app.command("init")
def keys_init(
    hub_id: Annotated[str, typer.Option("--hub-id", help="This hub's id, e.g. cd-wuhou.")],
    keys_file: KeysFile = None,
    database: Database = None,
) -> None:
    """Create the key store (a current and a next key); `tongxin init` does this too."""
    from tongxin.federation import KeyStore, KeyStoreError

    try:
        store = KeyStore.create(_path(keys_file, database), hub_id)
    except KeyStoreError as error:
        raise _fail(str(error)) from None
    typer.echo(store.current.fingerprint)
    typer.echo(f"key store: {store.path}", err=True)


@keys_app.command("show")
def keys_show(
    keys_file: KeysFile = None,
    database: Database = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the signed key set.")] = False,
) -> None:
    """First line: the current key's fingerprint (what peers pin); then every key."""
    store = _load(keys_file, database)
    if as_json:
        typer.echo(orjson.dumps(store.document(), option=orjson.OPT_INDENT_2).decode())
        return
    typer.echo(store.current.fingerprint)
    for key in store.public_keys():
        typer.echo(
            f"{key.status.value:8} {key.kid}  {key.fingerprint}  "
            f"{_when(key.nbf)} → {_when(key.exp)}"
        )


@keys_app.command("rotate")
def keys_rotate(keys_file: KeysFile = None, database: Database = None) -> None:
    """The next key becomes current; the old one verifies for 7 more days; a new next key."""
    store = _load(keys_file, database)
    key = store.rotate()
    typer.echo(key.fingerprint)
    typer.echo(f"current key is now {key.kid}", err=True)


@keys_app.command("revoke")
def keys_revoke(
    kid: Annotated[str, typer.Argument(help="The key id to revoke.")],
    keys_file: KeysFile = None,
    database: Database = None,
) -> None:
    """Revoke a key at once (e.g. after a leak); peers refuse it from their next key set fetch."""
    from tongxin.federation import KeyStoreError

    store = _load(keys_file, database)
    try:
        store.revoke(kid)
    except KeyStoreError as error:
        raise _fail(str(error)) from None
    typer.echo(store.current.fingerprint)
    typer.echo(f"revoked {kid}; current key is {store.current.kid}", err=True)


def _read_json(source: str) -> Any:
    if source.startswith(("https://", "http://")):
        import httpx

        response = httpx.get(source, timeout=10, follow_redirects=False)
        response.raise_for_status()
        return response.json()
    return orjson.loads(Path(source).read_bytes())


def _key_set(
    keys: str | None,
    fingerprint: str | None,
    letter: Any,
    keys_file: Path | None,
    database: str | None,
) -> KeySet:
    from tongxin.federation import (
        KeyStore,
        normalise_fingerprint,
        parse_key_set,
        verify_key_set,
    )

    # The pinned key must have vouched for the key set when the letter was signed; the
    # letter's own signature is then checked against the keys valid at that instant.
    signed = (letter.get("letter") or {}).get("issuedAt") if isinstance(letter, dict) else None
    try:
        now = int(datetime.fromisoformat(str(signed)).timestamp())
    except ValueError:
        now = int(time.time())
    if keys is None:
        store = KeyStore.load(_path(keys_file, database))
        issuer = (
            ((letter.get("letter") or {}).get("issuer") or {}) if isinstance(letter, dict) else {}
        )
        if issuer.get("hubId") != store.hub_id:
            raise ValueError(
                f"the letter was issued by {issuer.get('hubId')!r}: pass --keys with that hub's "
                "key set (a file, or https://HUB/.well-known/tongxin/keys)"
            )
        return store.key_set()
    doc = _read_json(keys)
    if fingerprint is None:
        typer.echo(
            "note: key set not pinned; pass --fingerprint to check it against the "
            "issuer's fingerprint",
            err=True,
        )
        return parse_key_set(doc)
    return verify_key_set(doc, [normalise_fingerprint(fingerprint)], now)


def _read_letter(file: str | None, qr: str | None) -> Any:
    """The letter envelope from ``--qr``, or from ``file`` (``-``: standard input) holding the
    letter's JSON or the text of its QR code."""
    import sys

    from tongxin.federation import letter_from_qr

    if (file is None) == (qr is None):
        raise ValueError("give the letter file, or its QR text with --qr (not both)")
    if qr is not None:
        return letter_from_qr(qr)
    assert file is not None
    data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    if data.lstrip()[:1] in (b"{", b""):
        return orjson.loads(data)
    return letter_from_qr(data.decode("ascii", "replace"))


def _print_letter(checked: Letter) -> None:
    """The verified fields as the paper letter prints them, to compare line by line."""
    last = date.fromordinal(checked.expires_on.toordinal() - 1)
    member = checked.member
    rows = [
        ("介绍信编号", checked.letter_number),
        ("党员", f"{member.name}（{member.id}）"),
        ("转出", checked.from_.organisation_name or checked.from_.organisation_id),
        ("转往", checked.to.organisation_name or checked.to.organisation_id),
        ("党费交到", checked.dues_paid_until or "—"),
        ("有效期至", last.isoformat()),
    ]
    for label, value in rows:
        typer.echo(f"  {label}：{value}")


def verify_letter_command(
    file: Annotated[
        str | None,
        typer.Argument(
            help="The letter file (JSON), or a file holding the text of its printed QR code; "
            "- reads standard input."
        ),
    ] = None,
    qr: Annotated[
        str | None,
        typer.Option("--qr", help="The text of the printed letter's QR code (TXL1:…)."),
    ] = None,
    keys: Annotated[
        str | None,
        typer.Option(
            "--keys", help="The issuer's key set: a file or URL (default: this hub's own keys)."
        ),
    ] = None,
    fingerprint: Annotated[
        str | None,
        typer.Option(
            "--fingerprint", help="The issuer's pinned fingerprint; the key set must match it."
        ),
    ] = None,
    on: Annotated[
        str | None,
        typer.Option(
            "--on", help="Check validity on this date (YYYY-MM-DD) instead of today (UTC+8)."
        ),
    ] = None,
    keys_file: KeysFile = None,
    database: Database = None,
) -> None:
    """Exit 0 only for an authentic, untampered, unexpired letter (a file, or the QR text of a
    printed letter); else name the reason. Exit 2 when the letter or key set cannot be read."""
    from tongxin.federation import FederationError, KeyStoreError, china_today, verify_letter

    try:
        letter = _read_letter(file, qr)
        today = date.fromisoformat(on) if on else china_today()
        key_set = _key_set(keys, fingerprint, letter, keys_file, database)
    except (OSError, ValueError, KeyStoreError) as error:
        raise _fail(str(error), 2) from None
    except FederationError as error:
        raise _fail(f"{error.code}: {error.detail_en} / {error.detail_zh}") from None
    try:
        checked = verify_letter(letter, key_set, today=today)
    except FederationError as error:
        typer.echo(f"{error.code}: {error.detail_en}", err=True)
        typer.echo(f"{error.code}：{error.detail_zh}", err=True)
        raise typer.Exit(1) from None
    last = checked.expires_on.toordinal() - 1
    typer.echo(
        f"authentic: letter {checked.letter_number} for {checked.member.name}, "
        f"{checked.from_.organisation_id} → {checked.to.organisation_id}, "
        f"valid through {date.fromordinal(last)}, signed by {checked.issuer.kid}"
    )
    _print_letter(checked)


peer_app = typer.Typer(help="Manage the hubs this hub trusts.", no_args_is_help=True)


def _hub(database: str | None) -> Any:
    from tongxin.cli.hub import load_settings
    from tongxin.server import open_hub

    return open_hub(load_settings(database_url=database))


@peer_app.command("add")
def peer_add(
    url: Annotated[str, typer.Argument(help="The peer hub's base URL.")],
    relation: Annotated[
        str, typer.Option("--relation", help="parent, child or sibling (what the peer is to us).")
    ],
    fingerprint: Annotated[
        str | None,
        typer.Option("--fingerprint", help="The peer's key fingerprint (`tongxin keys show`)."),
    ] = None,
    via: Annotated[
        str | None,
        typer.Option(
            "--via",
            help="Instead of a fingerprint, for a sibling: the hub id of our parent peer whose "
            "certificate vouches for the sibling's keys.",
        ),
    ] = None,
    link_key: Annotated[
        str | None,
        typer.Option(
            "--link-key",
            help="Toward a parent: the hex key of keyed citizen-ID hashes the parent handed out.",
        ),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option("--policy", help="What may flow to the peer, JSON (spec/federation.md §5)."),
    ] = None,
    database: Database = None,
) -> None:
    """Fetch the peer's key set, check it against the fingerprint (or the parent's certificate),
    and trust the peer."""
    import httpx

    from tongxin.federation import FederationError
    from tongxin.server import ConfigurationError, add_peer

    try:
        hub = _hub(database)
    except ConfigurationError as error:
        raise _fail(str(error)) from None
    try:
        peer = add_peer(
            hub,
            url,
            relation,
            fingerprint,
            via=via,
            link_key=link_key,
            policy=orjson.loads(policy) if policy else None,
        )
    except FederationError as error:
        raise _fail(f"{error.code}: {error.detail_en} / {error.detail_zh}") from None
    except (httpx.HTTPError, ValueError) as error:
        raise _fail(f"cannot add {url}: {error}") from None
    finally:
        hub.close()
    typer.echo(f"peer {peer.hub_id} ({peer.relation}) at {peer.url}: trusted")


@peer_app.command("list")
def peer_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database: Database = None,
) -> None:
    """The peers with relation, sync lag, changes refused for ownership, history resets
    (restores) and orphans, and last error."""
    from tongxin.server import list_peers

    hub = _hub(database)
    try:
        listed = [p.to_json() for p in list_peers(hub)]
    finally:
        hub.close()
    if as_json:
        typer.echo(orjson.dumps(listed, option=orjson.OPT_INDENT_2).decode())
        return
    for p in listed:
        if p["relation"] != "child":
            lag = "not pulled"  # only children's feeds are pulled (spec/federation.md §4.2)
        else:
            lag = "never synced" if p["lagSeconds"] is None else f"lag {p['lagSeconds']} s"
        error = f"; last error: {p['lastError']}" if p["lastError"] else ""
        refused = ""
        if p["refused"]:
            last = p["lastRefused"]
            refused = (
                f"; {p['refused']} refused (last: {last['type']}/{last['id']} v{last['version']}"
                f" owned by {last['recordedOwner'] or 'nobody yet'}, {last['reason']})"
            )
        reset = ""
        if p["resets"]:
            reset = (
                f"; restored: history reset {p['resets']}x (last {p['lastResetAt']}"
                f"{', re-syncing' if p['resyncing'] else ''}), {p['orphans']} orphans"
            )
        typer.echo(
            f"{p['hubId']}\t{p['relation']}\t{p['url']}\t{lag}\t{p['applied']} applied"
            f"{refused}{reset}{error}"
        )


def sync_command(
    once: Annotated[
        bool, typer.Option("--once", help="One full round with every child, then exit.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between rounds.")] = 5.0,
    database: Database = None,
) -> None:
    """Pull every child's change feed into read-only replicas and redeliver pending letters,
    withdrawals and receipts."""
    from tongxin.server import federation_round

    hub = _hub(database)
    try:
        while True:
            results = federation_round(hub, respect_backoff=not once)
            failed = {k: v for k, v in results.items() if v}
            for peer_id in results:
                typer.echo(f"{peer_id}: {failed.get(peer_id) or 'ok'}", err=True)
            if once:
                if failed:
                    raise typer.Exit(1)
                return
            time.sleep(interval)
    finally:
        hub.close()


def register(app: typer.Typer) -> None:
    """Add the federation's commands to ``app``."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(peer_app, name="peer")
    app.command("sync")(sync_command)
    app.command("verify-letter")(verify_letter_command)
