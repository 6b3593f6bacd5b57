"""Warm passes against the sandboxes over real sockets: the daemon's reconcile and ``plan
--cache`` ask the remotes only for what changed, stop early when nothing did, never trust a
bad, old or foreign cache, and a full read finds a cache that went wrong."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sandbox_harness import Sandboxes
from test_apply import MAIN, Brand

from daemon.reconcile.warm import open_cache
from daemon.store.history import History
from daemon.store.readcache import CACHE_FILE


@pytest.fixture
def brand(sandbox: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Brand:
    monkeypatch.setenv("ZEDONK_TOKEN", sandbox.zedonk_token)
    monkeypatch.setenv("ORDRE_TOKEN", sandbox.ordre_token)
    made = Brand(tmp_path, sandbox)
    made.write(MAIN)
    return made


def reads(sandbox: Sandboxes) -> list[dict[str, Any]]:
    """The connector's GET requests to both remotes since the logs were cleared."""
    logged = [*sandbox.zedonk.requests(), *sandbox.ordre.requests()]
    return [e for e in logged if e["method"] == "GET" and e["actor"] == "connector"]


def clear(sandbox: Sandboxes) -> None:
    sandbox.zedonk.clear_requests()
    sandbox.ordre.clear_requests()


def whole_reads(sandbox: Sandboxes) -> list[str]:
    return sorted({e["path"] for e in reads(sandbox) if "changed_since" not in e["query"]})


def test_an_idle_pass_asks_each_list_once_and_stops(brand: Brand, sandbox: Sandboxes) -> None:
    first = brand.reconcile()
    assert first.result == "ok" and not first.unchanged
    assert (brand.state_dir / CACHE_FILE).exists()
    assert brand.reconcile().result == "no-changes"  # reads the changes of the writes above

    clear(sandbox)
    idle = brand.reconcile()
    assert (idle.result, idle.unchanged) == ("no-changes", True)
    asked = reads(sandbox)
    assert len(asked) == 8 and whole_reads(sandbox) == []
    small = sandbox.zedonk.counters()["bytes_out"] + sandbox.ordre.counters()["bytes_out"]
    assert small < 8 * 400


def test_a_pass_after_a_zedonk_edit_reads_that_product_and_updates_its_listing(
    brand: Brand, sandbox: Sandboxes
) -> None:
    brand.reconcile()
    brand.reconcile()
    sandbox.zedonk.edit_product("ML-101/WOOL/NAVY", description="Reworked double-faced coat")
    sandbox.zedonk.delete_product("ML-303/LINEN/OLIVE")  # in no look: changes no plan
    clear(sandbox)
    result = brand.reconcile()
    assert (result.result, result.counts["update"]) == ("ok", 1), result.message
    assert whole_reads(sandbox) == []
    with brand.ordre() as ordre:
        assert ordre.get_listing("ML-101/WOOL/NAVY").description == "Reworked double-faced coat"
    assert brand.plan().has_changes is False  # the cold plan agrees


def test_plan_with_a_cache_folder_reads_changes_the_second_time(
    brand: Brand, sandbox: Sandboxes, tmp_path: Path
) -> None:
    brand.reconcile()
    cache = tmp_path / "ci-cache"
    cold = brand.cli("plan", "--format", "json", "--cache", str(cache))
    assert cold.exit_code == 0, cold.output
    sandbox.zedonk.edit_product("ML-205/CASH/BLACK", description="Black cashmere jumper")
    clear(sandbox)
    warm = brand.cli("plan", "--format", "json", "--cache", str(cache))
    assert warm.exit_code == 0, warm.output
    assert whole_reads(sandbox) == []
    assert "Black cashmere jumper" in warm.output
    assert brand.cli("plan", "--format", "json").output == warm.output  # as a cold plan


def corrupt(path: Path, how: str) -> None:
    if how == "not-sqlite":
        path.write_bytes(b"this is not a database" * 100)
        return
    with sqlite3.connect(path) as conn:
        if how == "old-format":
            conn.execute("UPDATE meta SET value = '0' WHERE name = 'format'")
        elif how == "foreign":
            conn.execute("UPDATE meta SET value = '{}' WHERE name = 'origins'")
        elif how == "bad-item":
            conn.execute("UPDATE items SET raw = '{not json' WHERE list = 'products'")


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("not-sqlite", "not a read cache"),
        ("old-format", "of format '0'"),
        ("foreign", "read from other remotes"),
        ("bad-item", "does not read back"),
    ],
)
def test_a_bad_old_or_foreign_cache_is_discarded_with_a_log_line(
    brand: Brand, sandbox: Sandboxes, caplog: pytest.LogCaptureFixture, how: str, said: str
) -> None:
    brand.reconcile()
    brand.reconcile()
    sandbox.zedonk.edit_product("ML-101/WOOL/CAMEL", description="Camel coat, new")
    corrupt(brand.state_dir / CACHE_FILE, how)
    clear(sandbox)
    with caplog.at_level(logging.WARNING):
        result = brand.reconcile()
    assert said in caplog.text
    assert (result.result, result.counts["update"]) == ("ok", 1), result.message
    assert "/api/v1/products" in whole_reads(sandbox)
    assert brand.reconcile().result == "no-changes"
    assert brand.plan().has_changes is False


def test_a_cache_read_with_another_account_at_the_same_address_is_discarded(
    brand: Brand, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Two brands on one shared host: same URLs, other tokens. The cache keeps no token."""
    brand.reconcile()
    cache = (brand.state_dir / CACHE_FILE).read_bytes()
    assert brand.sandbox.zedonk_token.encode() not in cache
    with caplog.at_level(logging.WARNING):
        same = open_cache(brand.state_dir, brand.settings)
        assert same is not None
        same.close()
        assert "discarding" not in caplog.text
        monkeypatch.setenv("ZEDONK_TOKEN", "another-brands-token")
        other = open_cache(brand.state_dir, brand.settings)
        assert other is not None
        other.close()
    assert "read from other remotes or accounts" in caplog.text


def test_the_full_read_finds_a_cache_defect_and_plans_from_what_it_read(
    brand: Brand, sandbox: Sandboxes
) -> None:
    brand.reconcile()
    brand.reconcile()
    path = brand.state_dir / CACHE_FILE
    with sqlite3.connect(path) as conn:
        # A change the cache missed: it believes a listing says what ORDRE no longer does,
        # and it keeps a product Zedonk does not have.
        key = "ML-101/WOOL/NAVY"
        raw = conn.execute(
            "SELECT raw FROM items WHERE list = 'listings' AND key = ?", (key,)
        ).fetchone()[0]
        conn.execute(
            "UPDATE items SET raw = ? WHERE list = 'listings' AND key = ?",
            (raw.replace('"description":"', '"description":"stale '), key),
        )
        conn.execute(
            "INSERT INTO items SELECT remote, list, 'ML-999/X/Y', raw FROM items "
            "WHERE list = 'products' LIMIT 1"
        )
        conn.execute("UPDATE meta SET value = '0' WHERE name = 'full_read_at'")
        conn.execute("DELETE FROM meta WHERE name = 'converged'")
    clear(sandbox)
    result = brand.reconcile()
    assert result.result == "no-changes", result.message
    with History.open(brand.state_dir) as history:
        defects = [e for e in history.run_events(result.run_id) if e["code"] == "cache-defect"]
    found = {(e["details"]["remote"], e["details"]["list"]): e["details"] for e in defects}
    assert found[("ordre", "listings")]["differ"] == [key]
    assert found[("zedonk", "products")]["extra"] == ["ML-999/X/Y"]
    assert len(found) == 2
    assert "/api/v1/listings" in whole_reads(sandbox)
    # The run's line in the history says it recorded them; `history --run N` shows them.
    listed = brand.cli("history").output.splitlines()
    line = next(shown for shown in listed if shown.split()[0] == str(result.run_id))
    assert line.endswith("[2 warnings]"), line
    runs = json.loads(brand.cli("history", "--format", "json").output)["runs"]
    assert [(r["warnings"], r["errors"]) for r in runs if r["id"] == result.run_id] == [(2, 0)]

    clear(sandbox)  # the cache holds the full read now, and the next full read is hours away
    assert brand.reconcile().unchanged
    assert whole_reads(sandbox) == []


def test_a_full_read_of_a_sound_cache_finds_nothing(brand: Brand, sandbox: Sandboxes) -> None:
    brand.reconcile()
    sandbox.zedonk.edit_product("ML-510/COTTON/BLUE", description="Blue shirt")
    with sqlite3.connect(brand.state_dir / CACHE_FILE) as conn:
        conn.execute("UPDATE meta SET value = '0' WHERE name = 'full_read_at'")
    result = brand.reconcile()
    assert result.result == "ok", result.message
    with History.open(brand.state_dir) as history:
        assert not [e for e in history.run_events(result.run_id) if e["code"] == "cache-defect"]


def test_a_cache_folder_that_cannot_be_written_is_read_past_with_a_log_line(
    brand: Brand, sandbox: Sandboxes, tmp_path: Path
) -> None:
    """As a CI runner that restored the cache folder read-only: a full read, never a crash."""
    if (
        shutil.which("unshare") is None
        or subprocess.run(
            ["unshare", "-rm", "mount", "--bind", str(tmp_path), str(tmp_path)],
            capture_output=True,
            check=False,
        ).returncode
    ):
        pytest.skip("no user and mount namespaces here to mount a folder read-only")
    brand.reconcile()
    cache = tmp_path / "ci-cache"
    assert brand.cli("plan", "--format", "json", "--cache", str(cache)).exit_code == 0
    sandbox.zedonk.edit_product("ML-205/CASH/BLACK", description="Black cashmere jumper")
    script = (
        f"mount --bind {cache} {cache} && mount -o remount,ro,bind {cache} && "
        f"exec {sys.executable} -m daemon plan --format json --cache {cache} --root {brand.root}"
    )
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "ZEDONK_TOKEN": sandbox.zedonk_token,
            "ORDRE_TOKEN": sandbox.ordre_token,
        },
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "internal error" not in done.stderr
    assert f"cannot use a read cache in {cache}" in done.stderr
    assert "Black cashmere jumper" in done.stdout
    assert brand.cli("plan", "--format", "json").output == done.stdout  # as a cold plan


def test_a_cache_damaged_inside_is_discarded_when_the_pass_finds_it(
    brand: Brand, sandbox: Sandboxes, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite finds a damaged page only when it reads it, halfway through a pass."""
    brand.reconcile()
    brand.reconcile()
    sandbox.zedonk.edit_product("ML-101/WOOL/CAMEL", description="Camel coat, new")
    path = brand.state_dir / CACHE_FILE
    pages = path.stat().st_size // 4096
    with path.open("r+b") as file:  # the items' pages; the header and the first tables intact
        file.seek(pages // 2 * 4096)
        file.write(b"\xff" * 4096 * 4)
    with caplog.at_level(logging.WARNING):
        result = brand.reconcile()
    assert "it is damaged (database disk image is malformed)" in caplog.text
    assert (result.result, result.counts["update"]) == ("ok", 1), result.message
    assert brand.reconcile().result == "no-changes"
    assert brand.plan().has_changes is False


def ci_cache(brand: Brand, tmp_path: Path) -> Path:
    """A CI runner's cache folder, as the first ``plan --cache`` after an apply leaves it."""
    brand.reconcile()
    cache = tmp_path / "ci-cache"
    assert brand.cli("plan", "--format", "json", "--cache", str(cache)).exit_code == 0
    return cache


def test_a_cached_item_that_does_not_read_is_read_again_not_blamed_on_the_remote(
    brand: Brand, sandbox: Sandboxes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = ci_cache(brand, tmp_path)
    with sqlite3.connect(cache / CACHE_FILE) as conn:  # valid JSON, but no listing
        conn.execute(
            "UPDATE items SET raw = ? WHERE list = 'listings' AND key = ?",
            ('{"key": "ML-101/WOOL/NAVY"}', "ML-101/WOOL/NAVY"),
        )
    sandbox.zedonk.edit_product("ML-205/CASH/BLACK", description="Black cashmere jumper")
    clear(sandbox)
    with caplog.at_level(logging.WARNING):
        warm = brand.cli("plan", "--format", "json", "--cache", str(cache))
    assert warm.exit_code == 0, warm.output
    assert "the read cache cannot serve a list" in caplog.text
    assert whole_reads(sandbox) == ["/api/v1/listings"]
    assert brand.cli("plan", "--format", "json").output == warm.output  # as a cold plan


def test_plan_with_a_cache_folder_reads_whole_too_when_the_full_read_is_due(
    brand: Brand, sandbox: Sandboxes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The safety net of a CI runner's cache: daemon.full_read_interval holds for it too."""
    cache = ci_cache(brand, tmp_path)
    with sqlite3.connect(cache / CACHE_FILE) as conn:  # a listing the cache lost
        conn.execute("DELETE FROM items WHERE list = 'listings' AND key = 'ML-101/WOOL/NAVY'")
    clear(sandbox)
    assert brand.cli("plan", "--format", "json", "--cache", str(cache)).exit_code == 0
    assert whole_reads(sandbox) == []  # the full read is hours away: the cache is trusted

    with sqlite3.connect(cache / CACHE_FILE) as conn:
        conn.execute("UPDATE meta SET value = '0' WHERE name = 'full_read_at'")
    clear(sandbox)
    with caplog.at_level(logging.WARNING):
        full = brand.cli("plan", "--format", "json", "--cache", str(cache))
    assert full.exit_code == 0, full.output
    assert "read cache defect: ordre listings: 1 missing (ML-101/WOOL/NAVY)" in caplog.text
    assert "/api/v1/listings" in whole_reads(sandbox)
    assert brand.cli("plan", "--format", "json").output == full.output  # as a cold plan


@pytest.mark.parametrize("name", ["", " "])
def test_an_empty_cache_folder_name_is_a_usage_error(
    brand: Brand, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unset variable in a CI job must not put the cache in the brand's checkout."""
    monkeypatch.chdir(brand.root)
    result = brand.cli("plan", "--cache", name)
    assert result.exit_code == 64, result.output
    assert "--cache" in result.output and "is empty" in result.output
    assert not (brand.root / CACHE_FILE).exists()
