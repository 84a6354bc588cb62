"""No citizen ID, phone or token in any hub's log, for the whole test suite
(``docs/operations.md`` §4 Logs).

Every hub the suite starts has its log output collected here:

- ``tongxin serve`` subprocesses write their output to a file, registered with :func:`watch`
  (``tests/server/conftest.py``'s :class:`Server`, ``tests/federation/_network.py``'s ``Node``);
- the stderr of hub commands run as subprocesses (``tongxin sync``, ``backup``, ``restore``, …)
  is kept with :func:`keep`;
- hubs run inside the test process (``open_hub``, ``create_app``) log through :mod:`logging`:
  a handler on the root logger writes every record, with its traceback, to a file of the
  session, and the hub's ``tongxin`` loggers log from ``INFO`` as ``tongxin serve`` does.

After each test the output added since the last check is searched (:func:`scan`), and at the
end of the session all of it: for every citizen ID, phone and token the tests generated
(:func:`remember`; ``tests/server/conftest.py``'s factories register theirs), anywhere in a
line, and for anything shaped like one (an 18-character citizen ID, a mobile number, a
``tx_`` token) standing alone. A find fails the test (or the session's last test) naming the
file, the line and the masked value.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "KNOWN",
    "Leak",
    "hub_logs",
    "keep",
    "no_secret_in_new_log_output",
    "remember",
    "scan",
    "watch",
]

#: Every citizen ID, phone and token the tests generated (citizen IDs upper-case).
KNOWN: set[str] = set()
#: Log files under watch → how much of each was already searched (bytes, lines).
_CHECKED: dict[Path, tuple[int, int]] = {}
_KEPT: list[Path] = []
_DIR: list[Path] = []

#: Runs of characters a generated value could hide in: digit runs (an ID may end in X), tokens.
_DIGITS = re.compile(r"[0-9]{10,}[0-9Xx]?")
_TOKENS = re.compile(r"tx_[A-Za-z0-9_-]{43,}")
#: Shapes, whoever generated the value: standing alone (a random hex request id may contain a
#: run of digits, so the shape must not be part of a longer word).
_SHAPES = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9Xx]|1[3-9][0-9]{9})(?![0-9A-Za-z])"
    r"|(?<![A-Za-z0-9_-])tx_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"
)
_SIZES = (11, 18)  # phone, citizen ID


def remember(*values: object) -> None:
    """Register generated personal values or tokens (None and non-strings are ignored)."""
    for value in values:
        if isinstance(value, str) and len(value) >= 11:
            KNOWN.add(value.upper() if len(value) == 18 else value)


def watch(path: Path) -> Path:
    """Collect the log file ``path`` (a hub process writes it); its whole content is searched."""
    _CHECKED.setdefault(path.resolve(), (0, 0))
    return path


def keep(name: str, text: str | None) -> None:
    """Collect ``text``, the log output of a hub command run as a subprocess (its stderr)."""
    if not text:
        return
    if not _DIR:  # outside a session with the fixture (a helper used on its own)
        return
    path = _DIR[0] / f"{len(_KEPT):05d}-{re.sub(r'[^a-z0-9-]+', '-', name.lower())[:40]}.log"
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    _KEPT.append(path)
    watch(path)


@dataclass(frozen=True, slots=True)
class Leak:
    """A secret found in a log: where, and the value masked."""

    path: Path
    line: int
    what: str
    value: str

    def __str__(self) -> str:
        masked = self.value[:3] + "*" * max(0, len(self.value) - 6) + self.value[-3:]
        return f"{self.path}:{self.line}: {self.what} {masked}"


def scan(text: str, path: Path = Path("-"), first_line: int = 1) -> list[Leak]:
    """Every generated value (anywhere) and every value of a secret's shape (alone) in
    ``text``."""
    found: list[Leak] = []
    for number, line in enumerate(text.splitlines(), first_line):
        if "tx_" not in line and not any(ch.isdigit() for ch in line):
            continue
        for run in _DIGITS.findall(line):
            run = run.upper()
            for size in _SIZES:
                for start in range(len(run) - size + 1):
                    if run[start : start + size] in KNOWN:
                        found.append(Leak(path, number, "generated value", run[start:]))
        for token in _TOKENS.findall(line):
            for start in range(len(token) - 45):
                if token[start : start + 46] in KNOWN:
                    found.append(Leak(path, number, "generated token", token[start:]))
        for shape in _SHAPES.findall(line):
            what = "token" if shape.startswith("tx_") else "citizen ID or phone"
            found.append(Leak(path, number, f"{what}-shaped value", shape))
    return found


def _fresh(final: bool) -> Iterator[tuple[Path, str, int]]:
    """The output of each collected file not searched yet: whole lines only, unless ``final``
    (a hub still writing may be in the middle of one)."""
    for path, (done, lines) in list(_CHECKED.items()):
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue  # the test's directory was removed; its output was searched as it came
        if size <= done:
            continue
        with path.open("rb") as f:
            f.seek(done)
            data = f.read(size - done)
        if not final:
            end = data.rfind(b"\n") + 1
            data = data[:end]
        if not data:
            continue
        _CHECKED[path] = (done + len(data), lines + data.count(b"\n"))
        yield path, data.decode("utf-8", "replace"), lines + 1


def check(final: bool = False) -> list[Leak]:
    """Search every collected log's new output."""
    leaks: list[Leak] = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _SessionHandler):
            handler.flush()
    for path, text, first_line in _fresh(final):
        leaks += scan(text, path, first_line)
    return leaks


def _fail(leaks: Iterable[Leak], when: str) -> None:
    shown = list(leaks)
    if shown:
        lines = "\n".join(str(leak) for leak in shown[:10])
        pytest.fail(
            f"personal data or a token in a hub's log ({len(shown)} found {when}):\n{lines}",
            pytrace=False,
        )


class _SessionHandler(logging.FileHandler):
    """Every log record of the test process, with its traceback."""


@pytest.fixture(scope="session", autouse=True)
def hub_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Collects the logs of the in-process hubs; at the end, searches everything collected."""
    directory = tmp_path_factory.mktemp("hub-logs")
    _DIR[:] = [directory]
    handler = _SessionHandler(directory / "in-process.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    hub = logging.getLogger("tongxin")
    level = hub.level
    if hub.getEffectiveLevel() > logging.INFO:
        hub.setLevel(logging.INFO)  # as `tongxin serve` logs
    watch(directory / "in-process.log")
    try:
        yield directory
    finally:
        hub.setLevel(level)
        root.removeHandler(handler)
        handler.close()
        _fail(check(final=True), "at the end of the session")


@pytest.fixture(autouse=True)
def no_secret_in_new_log_output(hub_logs: Path) -> Iterator[None]:
    """After each test: what the hubs logged meanwhile holds no citizen ID, phone or token."""
    yield
    _fail(check(), "after this test")
