"""Replication as pure functions: applying a peer's change feed, the per-peer data-minimisation
policy, and the single-owner rule. No HTTP, no database: the hub calls these inside the
transaction that also stores the feed cursor.

**Version order.** A change replaces the local copy when its ``version`` is higher; the same
version again is a no-op; tombstones are changes like any other (a delete raises the version).
Two different contents under one version cannot come from an honest owner; they are ordered
deterministically (tombstone first, then the larger content digest) so every replica still
ends in the same state. Applying is therefore a maximum: any order, any repetition of the same
changes gives the same result.

**Ownership.** Every record has exactly one owner hub, fixed when the record first arrives. A
change is taken from a peer only when the peer may speak for the recorded owner (itself, or a hub
below it); a change naming a new owner is the recorded owner's side handing the record over. A
hub never lets a peer overwrite a record it owns; a local write to a replica is refused with 409
and the owner.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from tongxin.schemas import problems

from ._canonical import canonical
from ._errors import ReplicaReadOnlyError

__all__ = [
    "ApplyResult",
    "Change",
    "Decision",
    "Entry",
    "FeedPage",
    "FieldAction",
    "PeerPolicy",
    "apply_changes",
    "authoritative",
    "check_writable",
    "decide",
    "minimise",
    "minted_by",
]


@dataclass(frozen=True, slots=True)
class Change:
    """One item of ``GET /v1/changes``: the latest state of a record, or its tombstone."""

    type: str
    id: str
    version: int
    owner: str
    deleted: bool
    record: Mapping[str, Any] | None
    #: Fields the sender replaced by keyed hashes (``{"citizenId": "hmac-sha256:…"}``).
    hashed: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, item: Mapping[str, Any]) -> Change:
        return cls(
            str(item["type"]),
            str(item["id"]),
            int(item["version"]),
            str(item["owner"]),
            bool(item["deleted"]),
            None if item.get("deleted") else item.get("record"),
            dict(item.get("hashed") or {}),
        )

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "id": self.id,
            "version": self.version,
            "owner": self.owner,
            "deleted": self.deleted,
            "record": None if self.record is None else dict(self.record),
        }
        if self.hashed:
            out["hashed"] = dict(self.hashed)
        return out


@dataclass(frozen=True, slots=True)
class FeedPage:
    """A page of a peer's feed: its changes and the cursor to store with them."""

    changes: tuple[Change, ...]
    cursor: str | None
    more: bool

    @classmethod
    def from_wire(cls, body: Mapping[str, Any]) -> FeedPage:
        items = tuple(Change.from_wire(i) for i in body.get("items", []))
        return cls(items, body.get("cursor"), body.get("next") is not None)


@dataclass(frozen=True, slots=True)
class Entry:
    """What a replica holds for one record."""

    version: int
    owner: str
    deleted: bool
    record: Mapping[str, Any] | None
    hashed: Mapping[str, str] = field(default_factory=dict)
    #: an orphan: its owner no longer held it after a restore (``spec/federation.md`` §4.5)
    orphaned: bool = False

    @classmethod
    def of(cls, change: Change) -> Entry:
        return cls(change.version, change.owner, change.deleted, change.record, change.hashed)


Key = tuple[str, str]


class Decision(StrEnum):
    APPLY = "apply"
    #: Already held at this version or newer (a repeat or a stale change).
    SKIP = "skip"
    #: The peer may not speak for the change's owner.
    NOT_AUTHORITATIVE = "not-authoritative"
    #: The record is owned here; no peer overwrites it.
    OWNED_HERE = "owned-here"


def _rank(version: int, deleted: bool, record: Mapping[str, Any] | None) -> tuple[int, int, bytes]:
    content = hashlib.sha256(canonical(record)).digest() if record is not None else b""
    return (version, int(deleted), content)


def minted_by(record_id: str) -> str:
    """The hub (or platform) id that minted ``record_id`` (``<hub id>:<local id>``)."""
    return record_id.split(":", 1)[0]


def authoritative(
    change: Change,
    current: Entry | None,
    *,
    may_speak_for: Callable[[str], bool],
    source: str | None = None,
) -> bool:
    """Whether the peer behind ``may_speak_for`` (``source``: its hub id) may deliver
    ``change``, by ownership alone (``spec/federation.md`` §4.3 rule 2).

    The owner is fixed at first arrival; afterwards only a peer that speaks for the *recorded*
    owner changes the record, and a change naming another owner is that owner's side handing
    the record over (it does so only on a signed receipt, §3.6). At first arrival the hub that
    minted the id must be one the peer speaks for (no county delivers ``other-county:m…``),
    and so must the owner named, unless the minting hub itself hands over what it minted.
    """
    if current is not None:
        return may_speak_for(current.owner)
    minter = minted_by(change.id)
    if not may_speak_for(minter):
        return False
    return may_speak_for(change.owner) or minter == source


def decide(
    change: Change,
    current: Entry | None,
    *,
    local_hub: str,
    may_speak_for: Callable[[str], bool],
    source: str | None = None,
    restored: bool = False,
    content: Callable[[], Mapping[str, Any] | None] | None = None,
) -> Decision:
    """What to do with one change from the peer ``source`` given the local copy.

    ``restored``: ``source`` was restored from a backup and this change comes from its re-sync
    (``spec/federation.md`` §4.5): a record the peer owns is taken as the peer now holds it,
    even at a version not above ours, since what it wrote after the restore may reuse the
    version numbers its lost history had used; the same holds for an orphan (``current.orphaned``)
    whose owner enters it again. ``content``: reads the local record when
    ``current`` leaves it out (``record`` None on a live entry); it is called only when the
    versions tie, so a hub reads its copy's content from the database only then.
    """
    if current is not None and current.owner == local_hub:
        return Decision.OWNED_HERE
    if change.owner == local_hub or not authoritative(
        change, current, may_speak_for=may_speak_for, source=source
    ):
        return Decision.NOT_AUTHORITATIVE
    if current is None:
        return Decision.APPLY
    if _newer(change, current, content):
        return Decision.APPLY
    if (
        (restored or current.orphaned)
        and current.owner == change.owner
        and may_speak_for(change.owner)
    ):
        return Decision.APPLY  # the restored owner's record, even at a version it lost
    return Decision.SKIP


def _newer(
    change: Change, current: Entry, content: Callable[[], Mapping[str, Any] | None] | None
) -> bool:
    """Version order: version, then tombstone first, then the larger content digest (read only
    on a tie)."""
    if (change.version, change.deleted) != (current.version, current.deleted):
        return (change.version, change.deleted) > (current.version, current.deleted)
    record = current.record
    if record is None and not current.deleted and content is not None:
        record = content()
    new = _rank(change.version, change.deleted, change.record)
    return new > _rank(current.version, current.deleted, record)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    state: dict[Key, Entry]
    applied: tuple[Change, ...]
    skipped: tuple[Change, ...]
    refused: tuple[tuple[Change, Decision], ...]


def apply_changes(
    state: Mapping[Key, Entry],
    changes: Iterable[Change],
    *,
    local_hub: str,
    may_speak_for: Callable[[str], bool],
    source: str | None = None,
    restored: bool = False,
    content: Callable[[Key], Mapping[str, Any] | None] | None = None,
) -> ApplyResult:
    """The replica after ``changes`` from the peer ``source``; ``state`` is not modified.

    ``restored`` and ``content`` are :func:`decide`'s: a hub passes the entries of its local
    copies without their content, and ``content`` reads one when a version ties."""
    new = dict(state)
    applied: list[Change] = []
    skipped: list[Change] = []
    refused: list[tuple[Change, Decision]] = []
    for change in changes:
        key = (change.type, change.id)
        verdict = decide(
            change,
            new.get(key),
            local_hub=local_hub,
            may_speak_for=may_speak_for,
            source=source,
            restored=restored,
            content=None if content is None else _reader(content, key),
        )
        if verdict is Decision.APPLY:
            new[key] = Entry.of(change)
            applied.append(change)
        elif verdict is Decision.SKIP:
            skipped.append(change)
        else:
            refused.append((change, verdict))
    return ApplyResult(new, tuple(applied), tuple(skipped), tuple(refused))


def _reader(
    content: Callable[[Key], Mapping[str, Any] | None], key: Key
) -> Callable[[], Mapping[str, Any] | None]:
    return lambda: content(key)


def check_writable(owner: str, local_hub: str, owner_url: str | None = None) -> None:
    """Refuse a local write to a record owned by another hub (409 ``replica-read-only``)."""
    if owner != local_hub:
        extra: dict[str, Any] = {"owner": owner}
        if owner_url:
            extra["ownerUrl"] = owner_url
        raise ReplicaReadOnlyError(
            problems.REPLICA_READ_ONLY,
            f"this hub holds a read-only replica; write to the owner hub {owner}",
            f"本枢纽仅持有只读副本，请向所属枢纽 {owner} 写入",
            **extra,
        )


# -- data minimisation -----------------------------------------------------------------------
class FieldAction(StrEnum):
    KEEP = "keep"
    DROP = "drop"
    HASH = "hash"


@dataclass(frozen=True, slots=True)
class PeerPolicy:
    """What flows to one peer: which record types, and per field keep, drop or hash.

    ``link_key`` keys the hashes. A parent gives all its children the same link key, so it
    can match one person across them; another parent's key gives unrelated hashes. The hash
    hides the number from whoever lacks the link key, **not** from the parent: an 18-digit ID
    has few unknown digits once birth date, gender and region are known, so the holder of the
    key recovers it by trying them (``spec/federation.md`` §0, §5).

    Minimisation is the default: a policy read from its wire form drops ``phone`` and hashes
    ``citizenId`` of members and applicants unless it names an action for them (``keep`` must
    be explicit).
    """

    #: The field actions every policy starts from (``spec/federation.md`` §5).
    MINIMISED: ClassVar[Mapping[str, Mapping[str, FieldAction]]] = {
        "members": {"phone": FieldAction.DROP, "citizenId": FieldAction.HASH},
        "applicants": {"phone": FieldAction.DROP, "citizenId": FieldAction.HASH},
    }

    types: frozenset[str] | None = None
    fields: Mapping[str, Mapping[str, FieldAction]] = field(default_factory=dict)
    link_key: bytes | None = None

    @classmethod
    def upward(cls, link_key: bytes) -> PeerPolicy:
        """The default toward a parent: no phone numbers, citizen IDs as keyed hashes."""
        return cls.from_wire({}, link_key)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], link_key: bytes | None = None) -> PeerPolicy:
        """The policy of ``data``, starting from :attr:`MINIMISED`: ``{"types": null}`` with no
        field rules minimises, it does not mean "everything"."""
        types = data.get("types")
        fields = {t: dict(actions) for t, actions in cls.MINIMISED.items()}
        for t, actions in (data.get("fields") or {}).items():
            fields.setdefault(t, {}).update({n: FieldAction(a) for n, a in actions.items()})
        return cls(None if types is None else frozenset(types), fields, link_key)

    def to_wire(self) -> dict[str, Any]:
        return {
            "types": None if self.types is None else sorted(self.types),
            "fields": {t: {n: a.value for n, a in f.items()} for t, f in self.fields.items()},
        }

    def hash_value(self, name: str, value: str) -> str:
        if self.link_key is None:
            raise ValueError("a policy that hashes fields needs a link key")
        mac = hmac.new(self.link_key, f"{name}\x00{value.upper()}".encode(), hashlib.sha256)
        return "hmac-sha256:" + mac.hexdigest()


def minimise(change: Change, policy: PeerPolicy) -> Change | None:
    """``change`` as it may leave for a peer under ``policy``; None when its type may not."""
    if policy.types is not None and change.type not in policy.types:
        return None
    actions = policy.fields.get(change.type, {})
    if change.record is None or not actions:
        return change
    record: dict[str, Any] = {}
    hashed = dict(change.hashed)
    for name, value in change.record.items():
        action = actions.get(name, FieldAction.KEEP)
        if action is FieldAction.KEEP:
            record[name] = value
        elif action is FieldAction.HASH and isinstance(value, str):
            hashed[name] = policy.hash_value(name, value)
    return Change(
        change.type, change.id, change.version, change.owner, change.deleted, record, hashed
    )
