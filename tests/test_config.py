"""connector.yaml: settings, defaults, secrets and where they come from, root discovery."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from daemon.errors import ConfigError
from daemon.tree.places import state_home, state_name
from daemon.tree.secrets import TokenRef, looks_like_secret
from daemon.tree.settings import (
    check_settings,
    find_root,
    load_settings,
    parse_duration,
    parse_listen,
)

REPO = Path(__file__).resolve().parent.parent
BASE = Path(__file__).parent / "configs" / "base"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(BASE, tmp_path / "repo")
    return tmp_path / "repo"


def test_the_example_connector_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    settings = load_settings(REPO)
    assert settings.root == REPO
    assert settings.zedonk.url == "http://127.0.0.1:8701/api/v1"
    assert settings.zedonk.token == TokenRef(env="ZEDONK_TOKEN")
    assert settings.ordre.token == TokenRef(env="ORDRE_TOKEN")
    imp = settings.import_
    assert (imp.season, imp.approved, imp.order_owner) == ("AW26", False, "sophie")
    assert imp.statuses == ("submitted", "approved")
    assert (imp.on_currency_mismatch, imp.on_zero_price) == ("hold", "hold")
    assert imp.go_live == date(2026, 1, 1)
    assert imp.order_reference == "{order_number} + {po_number}"
    assert imp.on_resubmit == "report"
    assert settings.price_seasons == ("AW25", "SS26", "AW26")
    assert settings.catalogue.prune is True
    assert (
        settings.catalogue.delete_threshold_count,
        settings.catalogue.delete_threshold_share,
    ) == (
        20,
        0.25,
    )
    updates = settings.catalogue
    assert (updates.update_threshold_count, updates.update_threshold_share) == (50, 0.3)
    daemon = settings.daemon
    assert (daemon.poll_interval, daemon.reconcile_interval, daemon.debounce) == (15, 600, 2)
    assert daemon.status_listen == ("127.0.0.1", 9808)
    assert daemon.remote_down_alert_after == 600
    assert daemon.full_read_interval == 6 * 3600
    assert imp.settle_window == 120
    assert settings.state_dir == state_home() / state_name(settings.zedonk.url, settings.ordre.url)
    assert settings.email is not None and settings.email.recipients == ("ops@example.com",)
    assert settings.webhook is not None
    assert settings.webhook.url == TokenRef(env="ZEDONK_ORDRE_WEBHOOK_URL")


def test_defaults_of_a_minimal_file(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    settings = load_settings(root)
    assert settings.import_.statuses == ("submitted", "approved")
    assert (settings.import_.on_currency_mismatch, settings.import_.on_zero_price) == (
        "hold",
        "hold",
    )
    assert settings.import_.go_live is None
    assert settings.import_.order_reference == "{order_number} + {po_number}"
    assert settings.price_seasons == ("AW26",)  # the import season
    assert settings.daemon.debounce == 2
    assert settings.import_.settle_window == 120
    assert settings.state_dir.parent == tmp_state_home() / "zedonk-ordre"
    assert not settings.state_dir.is_relative_to(root)  # outside the checkout
    assert settings.state_dir_origin == "the default for this Zedonk and ORDRE"
    assert settings.email is None and settings.webhook is None
    assert settings.history.retention == 365 * 86400


def test_history_retention(root: Path) -> None:
    connector = root / "connector.yaml"
    connector.write_text(connector.read_text() + "history:\n  retention: 30d\n")
    assert load_settings(root).history.retention == 30 * 86400


def tmp_state_home() -> Path:
    return Path(os.environ["XDG_STATE_HOME"])  # each test has its own (conftest.py)


def test_state_directory_from_systemd(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/zedonk-ordre:/var/lib/other")
    assert load_settings(root).state_dir == Path("/var/lib/zedonk-ordre")
    connector = root / "connector.yaml"
    connector.write_text(connector.read_text() + "daemon:\n  state_dir: state\n")
    # written wins; a relative path is in the state home, never in the checkout
    assert load_settings(root).state_dir == Path("/var/lib/zedonk-ordre/state")


def test_every_release_of_one_brand_shares_one_state_directory(tmp_path: Path) -> None:
    """A deploy swaps ``current -> releases/r2``: the history must not stay behind in r1."""
    for release in ("r1", "r2"):
        shutil.copytree(BASE, tmp_path / "releases" / release)
    current = tmp_path / "current"
    current.symlink_to(tmp_path / "releases" / "r1")
    before = load_settings(current)
    assert before.root == current  # the link's name is kept, so a swap is followed
    swapped = tmp_path / "swap"
    swapped.symlink_to(tmp_path / "releases" / "r2")
    swapped.replace(current)
    after = load_settings(current)
    assert after.state_dir == before.state_dir
    assert after.state_dir.is_relative_to(tmp_state_home())
    # a relative state_dir is in the state home, so it does not move with the release either
    for release in ("r1", "r2"):
        connector = tmp_path / "releases" / release / "connector.yaml"
        connector.write_text(connector.read_text() + "daemon:\n  state_dir: brand\n")
    assert load_settings(current).state_dir == tmp_state_home() / "zedonk-ordre" / "brand"


def test_a_history_an_older_version_kept_in_the_checkout_is_used_until_moved(
    root: Path,
) -> None:
    old = root / ".zedonk-ordre"
    old.mkdir()
    (old / "history.sqlite").write_bytes(b"")
    settings = load_settings(root)
    assert settings.state_dir == old
    assert "inside the catalogue checkout" in settings.state_dir_origin
    new = state_home() / state_name(settings.zedonk.url, settings.ordre.url)
    assert str(new) in settings.state_dir_origin  # where to move it
    new.mkdir(parents=True)
    (new / "history.sqlite").write_bytes(b"")
    assert load_settings(root).state_dir == new  # once moved, the new place wins


def test_the_working_directory_keeps_the_symlink_it_was_reached_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(BASE, tmp_path / "r1")
    (tmp_path / "current").symlink_to(tmp_path / "r1")
    monkeypatch.chdir(tmp_path / "current")
    monkeypatch.setenv("PWD", str(tmp_path / "current"))  # as the shell sets it after cd
    assert find_root(Path()) == tmp_path / "current"
    monkeypatch.setenv("PWD", str(tmp_path))  # stale: names another directory
    assert find_root(Path()) == (tmp_path / "r1").resolve()


def test_load_settings_raises_with_every_finding(root: Path) -> None:
    connector = root / "connector.yaml"
    connector.write_text(
        connector.read_text().replace("sophie", "[sophie]") + "daemon:\n  debounce: soon\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(root)
    assert raised.value.message == "connector.yaml is invalid (2 errors)"
    assert sorted(f.code for f in raised.value.findings) == ["schema-pattern", "schema-type"]


def test_literal_secrets_are_refused_without_repeating_them(root: Path) -> None:
    connector = root / "connector.yaml"
    secret = "zq8XvP2mLw9RtY4bNc7Hd3Fk6Js1Ga5E"
    connector.write_text(
        connector.read_text().replace("{env: ORDRE_TOKEN}", secret)
        + f"notifications:\n  webhook:\n    url: https://hooks.example.com/{secret}\n"
    )
    settings, findings = check_settings(root)
    assert settings is None
    assert [(f.code, f.path) for f in findings] == [
        ("config-literal-secret", "ordre.token"),
        ("config-literal-secret", "notifications.webhook.url"),
    ]
    assert all(secret not in str(f) and secret not in (f.hint or "") for f in findings)


@pytest.mark.parametrize(
    "text",
    [
        "Bearer abcdefgh12345678",
        "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
        "sk_live_51H8aBcDeFgHiJkLmNoP",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
        "zq8XvP2mLw9RtY4bNc7Hd3Fk6Js1Ga5E",
        "https://bot:hunter2@ordre.example.com/api",
    ],
)
def test_values_that_look_like_secrets(text: str) -> None:
    assert looks_like_secret(text)


@pytest.mark.parametrize(
    "text",
    [
        "http://127.0.0.1:8101",
        "https://hooks.example.com/services/ordre",
        "{order_number} + {po_number}",
        "connector@example.com",
        "/var/lib/zedonk-ordre",
        "127.0.0.1:9808",
        "AW26",
        "sophie",
        "ZEDONK_ORDRE_WEBHOOK_URL",
        "a-very-long-lowercase-hostname.example.com",
        "http://[127.0.0.1:8101",
    ],
)
def test_values_that_do_not_look_like_secrets(text: str) -> None:
    assert not looks_like_secret(text)


def test_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = TokenRef(env="ZO_TEST_TOKEN")
    monkeypatch.setenv("ZO_TEST_TOKEN", "t0k3n")
    assert ref.resolve() == "t0k3n"
    monkeypatch.delenv("ZO_TEST_TOKEN")
    with pytest.raises(ConfigError) as raised:
        ref.resolve()
    assert raised.value.message == "the environment variable ZO_TEST_TOKEN is not set"
    assert raised.value.hint and "export ZO_TEST_TOKEN=" in raised.value.hint
    assert str(ref) == "environment variable ZO_TEST_TOKEN"


def test_token_from_a_systemd_credential(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = TokenRef(credential="ordre_token")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(ConfigError, match=r"\$CREDENTIALS_DIRECTORY is not set"):
        ref.resolve()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    with pytest.raises(ConfigError, match="cannot read the systemd credential ordre_token"):
        ref.resolve()
    (tmp_path / "ordre_token").write_text("s3cret\n")
    assert ref.resolve() == "s3cret"
    (tmp_path / "ordre_token").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        ref.resolve()


def test_find_root_walks_up(root: Path, tmp_path: Path) -> None:
    nested = root / "catalogue" / "deeper"
    nested.mkdir()
    assert find_root(nested) == root.resolve()
    with pytest.raises(ConfigError, match=r"no connector\.yaml"):
        find_root(tmp_path)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1h30m", 5400)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "m5", "1h 30m", "-1s"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:9808") == ("127.0.0.1", 9808)
    assert parse_listen("[::1]:80") == ("::1", 80)
    with pytest.raises(ValueError, match="out of range"):
        parse_listen("localhost:0")
