"""Secrets: refused when malformed where they are read, and redacted in every form from
every place that writes text out (logs, history, the console and /healthz, notices,
the command line and its --debug tracebacks)."""

from __future__ import annotations

import io
import json
import logging
import os
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orders_support
import pytest
from orders_support import submit, write_connector
from sandbox_harness import Sandboxes
from test_notify import Hook, hook, send, settings  # noqa: F401  (the hook fixture)
from test_service import make_tree

from daemon import redact
from daemon.cli import root as cli_root
from daemon.errors import ConfigError, ExitCode
from daemon.notify import Notifier
from daemon.sandbox import SandboxPair
from daemon.service.web import StatusServer
from daemon.store.history import History
from daemon.tree.secrets import TokenRef
from daemon.tree.settings import check_settings

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures

TOKEN = "0rdre-T0ken-4f9c2a"
UNKNOWN = {"barcode": "4006381333931", "style": "ML-999", "colour": "RED", "size": "M",
           "quantity": 1, "unit_price": "99.00"}  # fmt: skip
# A token as copy-paste leaves it, and the characters each one must be refused for.
BAD_TOKENS = {
    f"{TOKEN}\n": "a line break at its end",
    f"{TOKEN}\r": "a carriage return at its end",
    f"0rdre\t{TOKEN}": "a tab at character 6",
    f"{TOKEN} ": "a space at its end",
    f" {TOKEN}": "a space at its start",
    f"{TOKEN}é": "a non-ASCII character at its end",
    f"{TOKEN}\x1b": "a control character at its end",
}


def encoded_forms(secret: str) -> list[str]:
    """How a secret shows up when something prints it without thinking."""
    return [
        secret,
        repr(secret)[1:-1],  # an exception's repr
        repr(f"Bearer {secret}".encode())[2:-1],  # h11's "Illegal header value b'...'"
        json.dumps(secret)[1:-1],  # inside a JSON document
        quote(secret, safe=""),  # in a URL
        secret.strip(),  # the token itself, without what was pasted around it
    ]


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize(("value", "problem"), list(BAD_TOKENS.items()), ids=repr)
def test_a_malformed_token_is_refused_naming_its_variable_never_its_value(
    value: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDRE_TOKEN", value)
    with pytest.raises(ConfigError) as raised:
        TokenRef(env="ORDRE_TOKEN").resolve()
    message = f"{raised.value.message}\n{raised.value.hint}"
    assert raised.value.message.startswith(
        f"the environment variable ORDRE_TOKEN holds {problem}"
    ), message
    assert "printf %s" in (raised.value.hint or "")
    assert all(form not in message for form in encoded_forms(value)), message


def test_a_credential_file_may_end_in_one_line_break_and_no_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    ref = TokenRef(credential="ordre_token")
    (tmp_path / "ordre_token").write_text(f"{TOKEN}\n")
    assert ref.resolve() == TOKEN
    for written, problem in ((f"{TOKEN}\r\n", "a carriage return"), (f"{TOKEN}\n\n", "break")):
        (tmp_path / "ordre_token").write_text(written)
        with pytest.raises(ConfigError, match=f"systemd credential ordre_token holds .*{problem}"):
            ref.resolve()


@pytest.mark.parametrize(
    ("kind", "value", "fine"),
    [
        ("password", "correct horse battery", True),  # spaces inside a password are fine
        ("password", "s3cret\n", False),
        ("password", " s3cret", False),
        ("password", "pässword", False),  # smtplib sends ASCII only
        ("url", "https://hooks.example.com/services/T0/B0/XYZ", True),
        ("url", "http://127.0.0.1:1/hook\n", False),
        ("url", "http://[::1", False),
        ("url", "ftp://example.com/hook", False),
        ("url", "https:///no-host", False),
        ("key", "whsec_0a1b2c", True),
        ("key", "whsec 0a1b2c", False),
    ],
)
def test_each_kind_of_secret_has_its_rules(
    kind: Any, value: str, fine: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THE_SECRET", value)
    ref = TokenRef(env="THE_SECRET", kind=kind)
    if fine:
        assert ref.resolve() == value
    else:
        with pytest.raises(ConfigError, match="environment variable THE_SECRET") as raised:
            ref.resolve()
        assert value.strip() not in raised.value.message


def test_validate_reports_a_bad_secret_at_its_line_and_skips_unset_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_tree(tmp_path)
    monkeypatch.delenv("ZEDONK_TOKEN", raising=False)  # unset: CI validates without secrets
    monkeypatch.setenv("ORDRE_TOKEN", f"{TOKEN}\n")
    settings, findings = check_settings(root)
    assert settings is None
    [finding] = findings
    assert (finding.code, finding.path) == ("config-secret-value", "ordre.token")
    assert finding.line > 0
    assert TOKEN not in str(finding)


# --------------------------------------------------------------------------- redaction


def test_every_encoded_form_is_redacted() -> None:
    secret = f"{TOKEN}+/=\n"
    redact.register(secret)
    for form in [*encoded_forms(secret), json.dumps(secret, ensure_ascii=False)[1:-1]]:
        shown = redact.redact(f"failed: {form} (after 4 attempts)")
        assert "***" in shown and TOKEN not in shown, form
        assert shown.startswith("failed: ") and shown.endswith(" (after 4 attempts)")
    assert redact.redact("nothing secret here") == "nothing secret here"


def test_a_webhook_url_is_redacted_whole_and_by_its_secret_parts() -> None:
    redact.register_url("https://hooks.example.com/services/T0/B0/XyZ123secret?key=abcd1234")
    text = redact.redact(
        "POST https://hooks.example.com/services/T0/B0/XyZ123secret?key=abcd1234 failed; "
        "path /services/T0/B0/XyZ123secret, query key=abcd1234"
    )
    assert "XyZ123secret" not in text and "abcd1234" not in text
    assert "hooks.example.com" not in text  # the whole URL went


def test_log_records_are_redacted_with_their_arguments_and_tracebacks() -> None:
    redact.register(TOKEN)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test.secrets")
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        redact.secure_logging()
        logger.warning("header %r refused", f"Bearer {TOKEN}\n")
        try:
            raise ValueError(f"Illegal header value b'Bearer {TOKEN}\\n'")
        except ValueError:
            logger.exception("request failed")
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert "header 'Bearer ***\\n' refused" in text and "Traceback" in text
    assert TOKEN not in text


def test_history_rows_never_hold_a_secret_whoever_writes_them(tmp_path: Path) -> None:
    redact.register(f"{TOKEN}\n")
    with History.open(tmp_path) as history:
        run = history.start_run("import", "timer")
        history.finish_run(run, "failed", error=f"Illegal header value b'Bearer {TOKEN}\\n'")
        history.record_event("error", "x", "boom", details={"header": f"Bearer {TOKEN}\n"})
        with history.transaction() as conn:  # the raw SQL the order import writes with
            conn.execute(
                "INSERT INTO events (at, level, code, message) VALUES (?, ?, ?, ?)",
                ("2026-01-01", "error", "y", quote(TOKEN)),
            )
        assert history.query("SELECT error FROM runs")[0]["error"] == (
            "Illegal header value b'Bearer ***'"
        )
    raw = (tmp_path / "history.sqlite").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("history.sqlite-*")
    )
    assert TOKEN.encode() not in raw


def test_the_console_and_healthz_never_show_a_secret(tmp_path: Path) -> None:
    redact.register(TOKEN)
    with History.open(tmp_path) as history:
        run = history.start_run("reconcile", "timer")
        history.finish_run(run, "failed", error="ordre: \x1b]0;pwned\x07 title set")
    leak = f"connection failed (LocalProtocolError: Illegal header value b'Bearer {TOKEN}\\n')"

    def health() -> dict[str, Any]:
        loop = {"last_message": leak, "failing_long": True, "stuck": False, "alive": True}
        return {"healthy": False, "problems": [leak], "loops": {"import": loop}}

    server = StatusServer(tmp_path, ("127.0.0.1", 0), health)
    server.start()
    try:
        pages = {}
        for path in ("/healthz", "/", "/runs", "/runs/1", "/health", "/metrics"):
            try:
                with urllib.request.urlopen(server.url + path[1:], timeout=10) as answer:
                    pages[path] = answer.read().decode()
            except urllib.error.HTTPError as unhealthy:  # 503 while unhealthy
                pages[path] = unhealthy.read().decode()
    finally:
        server.stop()
    assert "Bearer ***" in pages["/healthz"] and "Bearer ***" in pages["/health"]
    for text in pages.values():
        assert TOKEN not in text
    for path in ("/runs", "/runs/1"):
        assert "\\x1b]0;pwned\\x07" in pages[path] and "\x1b" not in pages[path]


def test_notices_never_carry_a_secret(tmp_path: Path, hook: Hook) -> None:  # noqa: F811
    redact.register(TOKEN)
    with History.open(tmp_path / "state") as history:
        config = settings(tmp_path, webhook=True)
        Notifier(config, history).problem(
            "remote-auth:ordre", f"ORDRE refused {TOKEN}", json.dumps({"t": TOKEN})
        )
        send(config, history)
        stored = json.dumps(history.query("SELECT * FROM deliveries"))
    [post] = hook.posts
    assert TOKEN not in stored
    assert TOKEN not in json.dumps(post) and "***" in post["title"]


def test_debug_tracebacks_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    redact.register(TOKEN)
    cli_root.Options.debug = True
    try:
        try:
            raise RuntimeError(f"Illegal header value b'Bearer {TOKEN}\\n'")
        except RuntimeError as exc:
            with pytest.raises(cli_root.typer.Exit) as ended:
                cli_root.fail(exc, int(ExitCode.ERROR))
    finally:
        cli_root.Options.debug = False
    err = capsys.readouterr().err
    assert ended.value.exit_code == 1
    assert "Traceback (most recent call last)" in err and "Bearer ***" in err
    assert TOKEN not in err


# --------------------------------------------------------------------------- end to end


def run_cli(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("value", list(BAD_TOKENS)[:5], ids=repr)
def test_the_daemon_refuses_a_malformed_token_at_start_with_78(
    value: str, sandbox: Sandboxes, tmp_path: Path
) -> None:
    root = make_tree(tmp_path, zedonk_url=sandbox.zedonk_url, ordre_url=sandbox.ordre_url)
    env = {"ZEDONK_TOKEN": sandbox.zedonk_token, "ORDRE_TOKEN": value}
    done = run_cli("--debug", "run", "--root", str(root), env=env)
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert "ORDRE_TOKEN holds" in done.stderr
    assert all(form not in done.stdout + done.stderr for form in encoded_forms(value))
    assert sandbox.requests("ordre") == []  # nothing was sent with it, nothing retried
    assert not (tmp_path / "state" / "history.sqlite").exists()


def test_plan_with_a_malformed_token_names_it_and_prints_it_nowhere(
    sandbox: Sandboxes, tmp_path: Path
) -> None:
    root = make_tree(tmp_path, zedonk_url=sandbox.zedonk_url, ordre_url=sandbox.ordre_url)
    env = {"ZEDONK_TOKEN": sandbox.zedonk_token, "ORDRE_TOKEN": f"{sandbox.ordre_token}\n"}
    for args in (["plan"], ["plan", "--debug"], ["--debug", "plan"]):
        done = run_cli(*args, "--root", str(root), env=env)
        assert done.returncode == ExitCode.ERROR
        assert "ordre.token: the environment variable ORDRE_TOKEN holds a line break" in done.stderr
        assert sandbox.ordre_token not in done.stdout + done.stderr
    assert sandbox.requests("ordre") == []


def test_no_secret_in_debug_logs_or_history_of_an_import_with_a_webhook(
    pair: SandboxPair,
    tmp_path: Path,
    hook: Hook,  # noqa: F811
) -> None:
    """httpx logs each request's URL; a webhook URL carries its secret in it."""
    root = write_connector(tmp_path, pair).root
    with (root / "connector.yaml").open("a") as config:
        config.write("notifications:\n  webhook:\n    url: {env: HOOK_URL}\n")
    url = f"{hook.url}?token=hook-s3cret-9f8e7d"
    submit(pair, [UNKNOWN])
    pair.ordre.fail_next("GET", "/api/v1/", 503)  # a retry, logged at INFO: logs are on
    env = {"HOOK_URL": url}  # the tokens: in the environment already (the pair fixture)
    done = run_cli("--debug", "orders", "import", "--once", "--root", str(root), env=env)
    assert done.returncode == ExitCode.PARTIAL, done.stderr  # the unknown barcode
    assert hook.posts, done.stderr  # the notice went out
    assert "retry 1/" in done.stderr  # the logs were on
    for secret in ("hook-s3cret-9f8e7d", pair.ordre.token, pair.zedonk.token):
        assert secret not in done.stdout + done.stderr
    for path in root.rglob("history.sqlite*"):
        assert b"hook-s3cret-9f8e7d" not in path.read_bytes()


def test_the_history_command_redacts_what_an_older_version_recorded(
    sandbox: Sandboxes, tmp_path: Path
) -> None:
    root = make_tree(tmp_path, zedonk_url=sandbox.zedonk_url, ordre_url=sandbox.ordre_url)
    state = tmp_path / "state"
    History.open(state).close()
    with sqlite3.connect(state / "history.sqlite") as conn:  # bypassing today's redaction
        conn.execute(
            "INSERT INTO runs (kind, trigger, started_at, finished_at, result, error)"
            " VALUES ('import', 'timer', '2026-01-01T00:00:00', '2026-01-01T00:00:01',"
            " 'failed', ?)",
            (f"Illegal header value b'Bearer {sandbox.ordre_token}\\n'",),
        )
    env = {"ZEDONK_TOKEN": sandbox.zedonk_token, "ORDRE_TOKEN": sandbox.ordre_token}
    for args in (["history", "--errors"], ["history", "--format", "json"]):
        done = run_cli(*args, "--root", str(root), env=env)
        assert done.returncode == 0, done.stderr
        assert "Bearer ***" in done.stdout and sandbox.ordre_token not in done.stdout
