"""A province's federation on loopback: county records reach the province by signed pulls.

    python benchmarks/bench_federation.py [--cities 4] [--counties 24] [--members 20000]
        [--province-db sqlite|postgresql] [--drive once|background] [--interval 1]
        [--no-hints] [--sign-pages 10] [--profile] [--keep]

One province hub, ``--cities`` city hubs and ``--counties`` county hubs spread evenly below
them (default 1 + 4 + 24), each a real ``tongxin serve`` process with its own SQLite database
under ``benchmarks/_work`` (``--province-db postgresql``: the province on a fresh PostgreSQL
database). Every hub is set up as an administrator would: ``tongxin init --hub-id ID --name
NAME``, an admin token, and ``tongxin peer add URL --relation child|parent --fingerprint FP``
both ways (the parent's link key handed to its children). Hub ids are GB/T 2260 division
codes, as ``spec/standard.md`` §2 recommends (``510000`` → ``510100`` → ``510101``): the
standard's hub id needs 3–32 characters, so a two-letter ``sc`` is not allowed.

Each county is seeded with ``--members`` synthetic members and their organisations through
one ``POST /v1/bulk`` on its fresh hub. That seeding is timed too: it is the bulk-ingest
baseline the catch-up is compared with (records/s, organisations included on both sides).

The measured catch-up (``--drive once``, the default): ``tongxin sync --once`` on each city in
turn (each pulls its counties' signed change feeds, pages of 1,000, into read-only replicas),
then ``tongxin sync --once`` on the province (pulls the cities, which pass their replicas on).
The time to the province holding every record is the sum of the two phases; it covers the CLI
start, every signed request and response, serving the feeds with the upward data-minimisation
policy, and applying and committing every page with its cursor. With ``--drive background``
the cities and the province are restarted with ``TONGXIN_SYNC_INTERVAL_SECONDS=--interval``
and the clock runs from their start until the province holds every member (polled every
second): each hub pulls in its own background round, and every hub's hint loop (on by
default, ``spec/federation.md`` §4.2) tells its parent "pull now" as soon as its feed grows,
so cities and province pull at the same time. ``--no-hints`` turns the hints off on every hub:
the parents then only pull every ``--interval`` seconds.

Then the province and the cities are counted straight from their databases: every record of
every county exactly once, nothing else, no tombstone, and a change sequence as long as the
records held (a change applied twice would have taken a second sequence number). Any
difference fails the run.

Two baselines and one fixed cost follow the checks: bulk ingest into the province's own
database (a county's worth of records owned by the province, one ``POST /v1/bulk`` into the
database the catch-up filled, so a PostgreSQL province is compared with PostgreSQL too), and
(``--drive once``) ``tongxin sync --once`` at the province and at a city with nothing new to
pull: the command's start, opening the hub and one empty signed page per child, which the
"where the time goes" lines separate from the work on the pages.

Signing and verifying are measured in process on real pages: the benchmark pulls
``--sign-pages`` pages of a city's feed as the province (and of a county's as its city) with a
signed request and a verified response, then times signing and verifying those very requests
and responses (RFC 9421 with Ed25519, Content-Digest over the body) and the replay-cache insert
each side makes, and multiplies by the number of pages the catch-up pulled. ``--profile`` runs
the province's sync under cProfile and prints where its time went (times are then inflated):
outside the pulls, waiting for the children's pages, verifying, decoding and parsing them, and
inside ``apply_page`` the one read of the local copies, the decisions, building the rows
(JSON, AES-GCM), writing them (COPY or ``executemany``) and placing organisations in the tree.
"""

from __future__ import annotations

import argparse
import io
import math
import pstats
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from _fedbench import (
    Node,
    county_shape,
    holdings,
    member_count,
    organisation_count,
    query,
    record_bytes,
    workdir,
    write_bulk,
)
from _hubbench import database, post_bulk

from tongxin.federation import (
    HttpMessage,
    KeySet,
    KeyStore,
    Signer,
    SigningAuth,
    signature_headers,
    verify_message,
)
from tongxin.server import Settings, open_hub
from tongxin.server._federation import DbNonceCache

#: Changes per page a parent pulls (``tongxin.server._pull._PAGE``).
PAGE = 1000


def log(message: str) -> None:
    print(f"  · {message}", file=sys.stderr, flush=True)


# -- the network -------------------------------------------------------------------------------
@dataclass
class Network:
    province: Node
    cities: list[Node]
    counties: dict[str, list[Node]]
    members: int
    root: Path

    @property
    def nodes(self) -> list[Node]:
        return [self.province, *self.cities, *self.all_counties]

    @property
    def all_counties(self) -> list[Node]:
        return [c for city in self.cities for c in self.counties[city.hub_id]]

    @property
    def per_county(self) -> int:
        """Records a county owns: its members and organisations."""
        return self.members + organisation_count(self.members)


def layout(root: Path, cities: int, counties: int, members: int, province_db: str) -> Network:
    if counties % cities:
        raise SystemExit("--counties must be a multiple of --cities")
    province = Node("510000", "四川省党建数据枢纽", root / "510000", db=province_db)
    city_nodes: list[Node] = []
    below: dict[str, list[Node]] = {}
    for c in range(cities):
        code = f"51{c + 1:02d}00"
        city = Node(code, f"市级枢纽 {code}", root / code)
        city_nodes.append(city)
        ids = [f"51{c + 1:02d}{k + 1:02d}" for k in range(counties // cities)]
        below[code] = [Node(i, f"县级枢纽 {i}", root / i) for i in ids]
    return Network(province, city_nodes, below, members, root)


def in_parallel(tasks: list[Callable[[], object]], workers: int = 4) -> None:
    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(task) for task in tasks]:
            future.result()


def set_up(net: Network) -> None:
    """``tongxin init`` every hub, start every server, peer parents and children both ways."""
    start = time.perf_counter()
    in_parallel([node.init for node in net.nodes])
    for node in net.nodes:
        node.start()
    for node in net.nodes:
        node.wait_ready()
    log(f"{len(net.nodes)} hubs initialised and serving in {time.perf_counter() - start:.0f} s")

    def peer(parent: Node, children: list[Node], link_key: str) -> Callable[[], None]:
        def run() -> None:
            for child in children:
                parent.cli(
                    "peer", "add", child.url, "--relation", "child", "--fingerprint",
                    child.fingerprint,
                )  # fmt: skip

        return run

    def parent_of(child: Node, parent: Node, link_key: str) -> Callable[[], None]:
        def run() -> None:
            child.cli(
                "peer", "add", parent.url, "--relation", "parent", "--fingerprint",
                parent.fingerprint, "--link-key", link_key,
            )  # fmt: skip

        return run

    tasks: list[Callable[[], object]] = []
    province_key = secrets.token_hex(32)
    tasks.append(peer(net.province, net.cities, province_key))
    for city in net.cities:
        city_key = secrets.token_hex(32)
        counties = net.counties[city.hub_id]

        def city_task(
            city: Node = city, counties: list[Node] = counties, key: str = city_key
        ) -> None:
            parent_of(city, net.province, province_key)()
            peer(city, counties, key)()

        tasks.append(city_task)
        tasks.extend(parent_of(county, city, city_key) for county in counties)
    in_parallel(tasks)
    log(f"peered in {time.perf_counter() - start:.0f} s")


# -- seeding: the bulk-ingest baseline ---------------------------------------------------------
@dataclass
class Bulk:
    rates: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def seed(net: Network) -> Bulk:
    """One ``POST /v1/bulk`` per county, one after the other, each on its fresh hub."""
    bulk = Bulk()
    expected = {"created": net.per_county}
    for county in net.all_counties:
        body = county.workdir / "bulk.ndjson"
        write_bulk(body, county_shape(county.hub_id, net.members))
        seconds, counts = post_bulk(county.url, county.token, body)
        body.unlink()
        if counts != expected:
            raise SystemExit(f"{county.hub_id}: /v1/bulk answered {counts}, expected {expected}")
        bulk.seconds.append(seconds)
        bulk.rates.append(net.per_county / seconds)
        log(f"{county.hub_id}: {net.per_county:,} records by /v1/bulk in {seconds:.1f} s")
    return bulk


# -- catch-up ----------------------------------------------------------------------------------
def sync_once(node: Node, profile: Path | None = None) -> float:
    """Seconds for ``tongxin sync --once`` at ``node``; fails unless every child answered ok."""
    command = node.command("sync", "--once")
    if profile is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), *command]
    start = time.perf_counter()
    done = subprocess.run(
        command, env=node.env(), cwd=node.workdir, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    bad = [line for line in lines if not line.endswith(": ok")]
    if done.returncode != 0 or bad:
        raise SystemExit(f"{node.hub_id}: sync --once exited {done.returncode}:\n{done.stderr}")
    return seconds


def idle_rounds(net: Network) -> tuple[float, float]:
    """Seconds for ``tongxin sync --once`` at the province and at a city when there is nothing
    new to pull: the command's start, opening the hub and one empty signed page per child."""
    return sync_once(net.province), sync_once(net.cities[0])


def province_bulk(net: Network) -> float:
    """Records/s of one ``POST /v1/bulk`` of a synthetic county owned by the province itself,
    into the province's database as the catch-up left it: the bulk baseline on the same
    database (PostgreSQL with ``--province-db postgresql``). Run after the checks."""
    body = net.province.workdir / "bulk.ndjson"
    write_bulk(body, county_shape(net.province.hub_id, net.members))
    seconds, counts = post_bulk(net.province.url, net.province.token, body)
    body.unlink()
    if counts != {"created": net.per_county}:
        raise SystemExit(f"{net.province.hub_id}: /v1/bulk answered {counts}")
    log(f"{net.province.hub_id}: {net.per_county:,} own records by /v1/bulk in {seconds:.1f} s")
    return net.per_county / seconds


@dataclass
class CatchUp:
    mode: str
    #: ``once``: each city's ``sync --once``, one after the other; ``background``: each
    #: city's applying time, from its first applied change to its last (concurrent)
    city_seconds: list[float]
    province_seconds: float
    total_seconds: float
    #: ``background``: seconds from the restart to the first and the last change applied at
    #: the cities (all of them) and at the province
    cities_window: tuple[float, float] = (0.0, 0.0)
    province_window: tuple[float, float] = (0.0, 0.0)


def drive_once(net: Network, profile: Path | None) -> CatchUp:
    city_seconds = []
    for city in net.cities:
        seconds = sync_once(city)
        city_seconds.append(seconds)
        log(f"{city.hub_id}: sync --once pulled its counties in {seconds:.1f} s")
    province = sync_once(net.province, profile)
    log(f"{net.province.hub_id}: sync --once pulled the cities in {province:.1f} s")
    return CatchUp("once", city_seconds, province, sum(city_seconds) + province)


def drive_background(net: Network, interval: float, stall: float = 600) -> CatchUp:
    """Restart the cities and the province with background sync; time until all arrived."""
    parents = [*net.cities, net.province]
    for node in parents:
        node.stop()
    start, epoch = time.perf_counter(), time.time()
    for node in parents:
        node.start(sync_interval=interval)
    for node in parents:
        node.wait_ready()
    target = net.members * len(net.all_counties)
    last, last_change = -1, time.perf_counter()
    while True:
        time.sleep(1)
        now = time.perf_counter()
        held = member_count(net.province.db)
        if held != last:
            last, last_change = held, now
        if held >= target:
            break
        if now - last_change > stall:
            raise SystemExit(f"the province is stuck at {held:,} of {target:,} members")
    total = time.perf_counter() - start
    log(f"province holds all {target:,} members after {total:.1f} s (background sync)")
    # the parents pull concurrently: each one's applying time is from its first applied
    # change to its last (``updated_us`` is stamped when a change is applied)
    cities = [applied(c) for c in net.cities]
    province = applied(net.province)
    return CatchUp(
        "background",
        [b - a for a, b in cities],
        province[1] - province[0],
        total,
        (min(a for a, _ in cities) - epoch, max(b for _, b in cities) - epoch),
        (province[0] - epoch, province[1] - epoch),
    )


def applied(node: Node) -> tuple[float, float]:
    """Wall-clock times (s) of the first and the last change applied at ``node``."""
    first, last = query(node.db, "SELECT MIN(updated_us), MAX(updated_us) FROM records")[0]
    return int(str(first)) / 1e6, int(str(last)) / 1e6


# -- verification ------------------------------------------------------------------------------
def verify(net: Network) -> None:
    """Every county's records exactly once at its city and at the province, nothing else."""
    orgs = organisation_count(net.members)
    want_one = {"members": (net.members, net.members, 0), "organisations": (orgs, orgs, 0)}
    problems: list[str] = []

    def check(holder: Node, owners: list[Node]) -> None:
        held = holdings(holder.db)
        want = {(o.hub_id, c): v for o in owners for c, v in want_one.items()}
        for key in sorted(set(held) | set(want)):
            if held.get(key) != want.get(key):
                problems.append(
                    f"{holder.hub_id} holds {key}: {held.get(key)} (rows, distinct, tombstones), "
                    f"expected {want.get(key)}"
                )
        last_seq = int(str(query(holder.db, "SELECT last_seq FROM hub_state")[0][0]))
        if last_seq != len(owners) * net.per_county:
            problems.append(
                f"{holder.hub_id}: {last_seq:,} changes applied for "
                f"{len(owners) * net.per_county:,} records (a change applied twice or lost)"
            )

    for city in net.cities:
        check(city, net.counties[city.hub_id])
    check(net.province, net.all_counties)
    ids = {str(r[0]) for r in query(net.province.db, "SELECT id FROM records")}
    expected = {
        county_shape(c.hub_id, net.members).rid(kind, n)
        for c in net.all_counties
        for kind, count in (("m", net.members), ("o", orgs))
        for n in range(count)
    }
    if ids != expected:
        missing, extra = sorted(expected - ids), sorted(ids - expected)
        problems.append(f"province: {len(missing)} ids missing {missing[:5]}, {len(extra)} extra")
    for node in net.nodes:
        problems.extend(f"{node.hub_id} log: {line}" for line in node.serve_log_errors()[:5])
    if problems:
        raise SystemExit("FAILED verification:\n" + "\n".join(problems))


# -- signing and verifying ---------------------------------------------------------------------
@dataclass
class SignCost:
    pages: int
    body_bytes: float
    crypto: float  # s per page: sign + verify the request, sign + verify the response
    nonces: float  # s per page: the replay-cache insert at the child and at the parent
    exchange: float  # s per page: the whole signed GET, as the parent waits for it


def _pull_pages(parent: Node, child: Node, pages: int) -> list[tuple[str, bytes, float]]:
    """Real pages of ``child``'s feed as ``parent`` sees them, by signed requests whose
    responses are verified: (URL, body, seconds for the exchange); full pages when there are
    any."""
    signer = KeyStore.load(parent.keys_file).signer()
    auth = SigningAuth(signer, verify_with=KeyStore.load(child.keys_file).key_set())
    out: list[tuple[str, bytes, float]] = []
    url: str | None = f"{child.url}/v1/changes?limit={PAGE}"
    with httpx.Client(auth=auth, timeout=120) as client:
        while url and len(out) < pages:
            start = time.perf_counter()
            response = client.get(url)
            seconds = time.perf_counter() - start
            response.raise_for_status()
            page = orjson.loads(response.content)
            if page["items"]:
                out.append((str(response.request.url), response.content, seconds))
            url = page["next"]
    full = [p for p in out if len(orjson.loads(p[1])["items"]) == PAGE]
    return full or out  # a small run has no full page: time what there is


def _time(fn: Callable[[], object], repeat: int = 5) -> float:
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _exchange_cost(
    url: str, body: bytes, parent: Signer, parent_keys: KeySet, child: Signer, child_keys: KeySet
) -> float:
    """Seconds to sign and verify one request and its response carrying ``body``."""
    json = {"content-type": "application/json"}

    def once() -> None:
        request = HttpMessage.for_request("GET", url, {})
        request = HttpMessage.for_request("GET", url, signature_headers(request, parent))
        verify_message(request, parent_keys)
        response = HttpMessage.for_response(200, json, body, request)
        signed = {**json, **signature_headers(response, child)}
        verify_message(HttpMessage.for_response(200, signed, body, request), child_keys)

    return _time(once)


def _nonce_cost(node: Node, inserts: int = 50) -> float:
    """Seconds for one insert into ``node``'s replay cache (its own database)."""
    settings = Settings(database_url=node.db, key_file=node.key_file, hub_id=node.hub_id)
    hub = open_hub(settings)
    try:
        cache = DbNonceCache(hub)
        expires = int(time.time()) + 360
        start = time.perf_counter()
        for _ in range(inserts):
            cache.seen("bench:nonce-cost", secrets.token_urlsafe(16), expires)
        return (time.perf_counter() - start) / inserts
    finally:
        hub.close()


def sign_cost(parent: Node, child: Node, pages: int) -> SignCost:
    bodies = _pull_pages(parent, child, pages)
    if not bodies:
        raise SystemExit(f"{child.hub_id} served no full page to {parent.hub_id}")
    p, c = KeyStore.load(parent.keys_file), KeyStore.load(child.keys_file)
    costs = [
        _exchange_cost(url, body, p.signer(), p.key_set(), c.signer(), c.key_set())
        for url, body, _ in bodies
    ]
    return SignCost(
        len(bodies),
        statistics.mean(len(b) for _, b, _ in bodies),
        statistics.mean(costs),
        _nonce_cost(child) + _nonce_cost(parent),
        statistics.median(t for _, _, t in bodies),
    )


def profile_summary(path: Path) -> list[str]:
    """Where the profiled ``tongxin sync --once`` spent its time: the command's start, waiting
    for the children's pages, parsing and verifying them, and applying them (and inside
    ``apply_page``: reading the local copies, deciding, building the rows, writing them,
    placing organisations), against the whole."""
    stats = pstats.Stats(str(path), stream=io.StringIO())
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = float(max(ct for (_, _, _), (_, _, _, ct, _) in raw.items()))

    def cum(file_part: str, name: str, outer: bool = False) -> float:
        """Cumulative seconds of the functions called ``name`` in a file matching
        ``file_part``: summed, or the largest one only (``outer``: a page's ``from_wire``
        and not also each change's, which it calls)."""
        times = [
            float(ct) for (f, _, n), (_, _, _, ct, _) in raw.items() if file_part in f and n == name
        ]
        return (max(times) if outer else sum(times)) if times else 0.0

    def calls(file_part: str, name: str) -> int:
        return sum(
            nc for (f, _, n), (_, nc, _, _, _) in raw.items() if file_part in f and n == name
        )

    pull = cum("_pull.py", "sync_peer")
    commits = cum("~", "<method 'commit' of 'sqlite3.Connection' objects>") + cum(
        "psycopg/connection.py", "commit"
    )
    parts = [
        (
            "the command outside the pulls (interpreter start, imports, opening the hub)",
            total - pull,
        ),
        ("sync_peer (pull, verify, parse and apply every page)", pull),
        (
            "  waiting for the child's page (socket recv: the child reads, minimises, encodes "
            "and signs it, then sends it)",
            cum("~", "<method 'recv' of '_socket.socket' objects>"),
        ),
        ("  verify_message (verify the responses)", cum("_signatures.py", "verify_message")),
        ("    DbNonceCache.seen (replay cache, in verify)", cum("_peers.py", "seen")),
        ("  signature_headers (sign the requests)", cum("_signatures.py", "signature_headers")),
        ("  Response.json (decode the page's JSON)", cum("httpx/_models.py", "json")),
        (
            "  FeedPage.from_wire (the page's changes as objects)",
            cum("_replication.py", "from_wire", outer=True),
        ),
        (
            "  apply_page (one transaction a page, with its cursor)",
            cum("_pull.py", "apply_page"),
        ),
        ("    _held (one read of the local copies)", cum("_pull.py", "_held")),
        ("    apply_changes (the §4.3 decisions)", cum("_replication.py", "apply_changes")),
        (
            "    stored_entry (a local copy's content, on a version tie)",
            cum("_store.py", "stored_entry"),
        ),
        (
            "    _write_replicas (sequence block, rows, write, tree)",
            cum("_pull.py", "_write_replicas"),
        ),
        (
            "      replica_values (a row per change: JSON encode, AES-GCM seal)",
            cum("_store.py", "replica_values"),
        ),
        (
            "      insert_many (COPY / executemany of the new rows)",
            cum("_store.py", "insert_many"),
        ),
        ("      _place (organisations into the tree)", cum("_pull.py", "_place")),
        ("  commits (every transaction: the pages with their cursors, the replay cache)", commits),
    ]
    lines = [f"profile of the province's sync --once ({total:.1f} s under cProfile):"]
    lines += [f"    {name}: {t:.2f} s = {t / total:.1%}" for name, t in parts]
    current = calls("_store.py", "stored_entry")
    lines.append(f"    (stored_entry called {current:,} times: a version tie reads the content)")
    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("tottime").print_stats(15)
    lines += ["    top functions by own time:"]
    lines += ["    " + line for line in out.getvalue().splitlines() if line.strip()][-16:]
    return lines


# -- the run -----------------------------------------------------------------------------------
@contextmanager
def network(args: argparse.Namespace) -> Iterator[Network]:
    root = workdir()
    with ExitStack() as stack:
        province_db = ""
        if args.province_db == "postgresql":
            province_db = stack.enter_context(database("postgresql"))
        net = layout(root, args.cities, args.counties, args.members, province_db)
        if args.no_hints:
            for node in net.nodes:
                node.hint_interval = 0
        try:
            yield net
        finally:
            for node in net.nodes:
                node.stop()
            if args.keep:
                print(f"kept {root}", file=sys.stderr)
            else:
                shutil.rmtree(root, ignore_errors=True)


def report(net: Network, args: argparse.Namespace) -> None:
    counties = len(net.all_counties)
    total = net.per_county * counties
    log(f"seeding {counties} counties × {net.members:,} members")
    bulk = seed(net)
    profile = net.root / "province.prof" if args.profile else None
    if args.drive == "once":
        catch = drive_once(net, profile)
    else:
        catch = drive_background(net, args.interval)
    verify(net)
    city_cost = sign_cost(net.cities[0], net.counties[net.cities[0].hub_id][0], args.sign_pages)
    prov_cost = sign_cost(net.province, net.cities[0], args.sign_pages)
    county_bytes, province_bytes = (
        record_bytes(net.all_counties[0].db),
        record_bytes(net.province.db),
    )
    idle = idle_rounds(net) if catch.mode == "once" else None
    own_bulk = province_bulk(net)

    city_pages = counties * math.ceil(net.per_county / PAGE)
    per_city = net.per_county * (counties // len(net.cities))
    province_pages = len(net.cities) * math.ceil(per_city / PAGE)
    bulk_median = statistics.median(bulk.rates)
    prov_rate = total / catch.province_seconds
    city_rates = [per_city / s for s in catch.city_seconds]
    kind = "PostgreSQL" if args.province_db == "postgresql" else "SQLite"
    print(
        f"federation: 1 province ({kind}) + {len(net.cities)} cities + {counties} counties "
        f"(SQLite) × {net.members:,} members = {net.members * counties:,} members, "
        f"{total:,} records with organisations; catch-up driven by "
        + ("`tongxin sync --once` (cities one after the other, then the province)")
        * (catch.mode == "once")
        + (
            f"background sync every {args.interval:g} s, "
            + ("no push hints" if args.no_hints else "push hints on")
        )
        * (catch.mode == "background")
    )
    if catch.mode == "once":
        phases = (
            f"cities one after the other: {sum(catch.city_seconds):.1f} s, province: "
            f"{catch.province_seconds:.1f} s"
        )
    else:
        (c0, c1), (p0, p1) = catch.cities_window, catch.province_window
        phases = (
            f"from the restart; the cities applied from {c0:.1f} s to {c1:.1f} s, each in "
            f"{min(catch.city_seconds):.1f}–{max(catch.city_seconds):.1f} s, the province from "
            f"{p0:.1f} s to {p1:.1f} s, its first change {p0 - c0:.1f} s after the cities' first"
        )
    print(
        f"time until the province holds all {net.members * counties:,} members: "
        f"{catch.total_seconds:.1f} s ({phases}); verified at the province and every city: "
        "each record exactly once, no tombstone, no change applied twice"
    )
    together = ""
    if catch.mode == "background":
        span = catch.cities_window[1] - catch.cities_window[0]
        together = (
            f", pulling at the same time: {per_city * len(net.cities) / span:,.0f} records/s "
            "together; the province's rate is bounded by what the cities have applied"
        )
    print(
        f"catch-up at a parent: province {prov_rate:,.0f} records/s ({total:,} in "
        f"{catch.province_seconds:.1f} s from {len(net.cities)} cities); cities "
        f"{statistics.mean(city_rates):,.0f} records/s on average "
        f"({min(city_rates):,.0f}–{max(city_rates):,.0f}){together}"
    )
    print(
        f"bulk ingest on a fresh hub (POST /v1/bulk, {net.per_county:,} records): first county "
        f"{bulk.rates[0]:,.0f} records/s, median of {counties} {bulk_median:,.0f} records/s "
        f"({min(bulk.rates):,.0f}–{max(bulk.rates):,.0f})"
    )
    print(
        f"bulk ingest into the province's own database ({kind}, after the catch-up, "
        f"{net.per_county:,} records of its own): {own_bulk:,.0f} records/s"
    )
    print(
        f"ratio catch-up / bulk ingest (median of the counties): province "
        f"{prov_rate / bulk_median:.0%}, cities {statistics.mean(city_rates) / bulk_median:.0%} "
        f"(goal >= 50 %); province against bulk ingest into its own database "
        f"{prov_rate / own_bulk:.0%}"
        + (
            "; in background the parents pull at the same time on shared cores, so these "
            "rates are not one parent's alone"
        )
        * (catch.mode == "background")
    )
    starts = (None, None) if idle is None else (idle[0], idle[1] * len(net.cities))
    for label, cost, pages, seconds, start in (
        ("province", prov_cost, province_pages, catch.province_seconds, starts[0]),
        ("cities", city_cost, city_pages, sum(catch.city_seconds), starts[1]),
    ):
        per_page = cost.crypto + cost.nonces
        print(
            f"signing at the {label}: {pages:,} pages of {PAGE:,} changes "
            f"({cost.body_bytes / 1024:,.0f} KiB each, {cost.pages} real pages timed): sign + "
            f"verify request and response {cost.crypto * 1000:.2f} ms + replay-cache inserts "
            f"{cost.nonces * 1000:.2f} ms a page; {pages * per_page:.2f} s = "
            f"{pages * per_page / seconds:.2%} of the catch-up "
            f"(crypto alone {pages * cost.crypto / seconds:.2%})"
        )
        if catch.mode == "background":
            continue  # concurrent parents share the cores: a page's time says little
        get = cost.exchange * pages / seconds
        fixed = 0.0 if start is None else start / seconds
        print(
            f"  where the time goes at the {label}: {seconds / pages * 1000:,.0f} ms a page in "
            f"all; the signed GET (the child reads, minimises, encodes and signs the page; the "
            f"parent verifies it) {cost.exchange * 1000:,.0f} ms a page = {get:.0%}"
            + (
                ""
                if start is None
                else f"; the command's start and a round with nothing new to pull "
                f"({start:.1f} s in all) {fixed:.0%}"
            )
            + f"; the rest, the parent's own work on the page (decode and parse it, read the "
            f"local copies, decide, build and write the rows, commit them with the cursor) "
            f"{1 - get - fixed:.0%}"
        )
    for label, b in (("county", county_bytes), ("province", province_bytes)):
        print(
            f"storage at a {label} ({b['rows']:,.0f} records): records table with indexes "
            f"{b['records']:,.0f} bytes/record (stored JSON {b['doc']:,.0f}, sealed "
            f"{b['sealed']:,.0f}); audit {b['audit']:,.0f} bytes/row; whole database "
            f"{b['database']:,.0f} bytes/record"
        )
    if profile is not None:
        print("\n".join(profile_summary(profile)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cities", type=int, default=4)
    parser.add_argument("--counties", type=int, default=24, help="in all, spread over the cities")
    parser.add_argument("--members", type=int, default=20_000, help="per county")
    parser.add_argument("--province-db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--drive", choices=("once", "background"), default="once")
    parser.add_argument("--interval", type=float, default=1.0, help="background sync (s)")
    parser.add_argument(
        "--no-hints", action="store_true", help="hubs send no push hints (parents poll only)"
    )
    parser.add_argument("--sign-pages", type=int, default=10, help="real pages timed")
    parser.add_argument("--profile", action="store_true", help="cProfile the province's sync")
    parser.add_argument("--keep", action="store_true", help="keep benchmarks/_work/federation-*")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on kill too
    with network(args) as net:
        set_up(net)
        report(net, args)


if __name__ == "__main__":
    main()
