"""The remote systems' constraints, declared once beside their clients, and every other place
that must know them: the JSON Schemas (offline), validate's name comparison, and the sandboxes
that stand for the remotes themselves."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sandbox_harness import Sandboxes

from daemon.clients.ordre import BATCH_MAX, ORDRE_LIMITS
from daemon.clients.zedonk import ZEDONK_LIMITS
from daemon.core.limits import NameRule, too_long
from daemon.tree.catalogue import catalogue_names
from daemon.tree.resources import CATALOGUE_SCHEMA, load_schema

SCHEMA = load_schema(CATALOGUE_SCHEMA)
COLLECTION = SCHEMA["properties"]["collection"]
LOOK_NAME = SCHEMA["$defs"]["look"]["properties"]["name"]
PRODUCT = SCHEMA["$defs"]["look"]["properties"]["products"]["items"]
STYLE_ENTRY = PRODUCT["properties"]


# --------------------------------------------------------------------------- the schema


def test_the_catalogue_schema_carries_ordres_lengths() -> None:
    assert COLLECTION["maxLength"] == ORDRE_LIMITS.collection_name
    assert LOOK_NAME["maxLength"] == ORDRE_LIMITS.look_name
    description = SCHEMA["properties"]["description"]
    assert description["maxLength"] == ORDRE_LIMITS.collection_description
    assert f"{ORDRE_LIMITS.collection_description} characters" in description["description"]
    for named in (COLLECTION, LOOK_NAME):
        assert f"up to {ORDRE_LIMITS.collection_name} characters" in named["description"]


def test_the_catalogue_schema_compares_names_as_ordre_does() -> None:
    for named in (COLLECTION, LOOK_NAME):
        declared = named["x-name-comparison"]
        rule = NameRule(declared["trim"], declared["casefold"], declared["normalisation"])
        assert rule == ORDRE_LIMITS.names
        assert ORDRE_LIMITS.names.ignoring() in named["description"]
    assert catalogue_names() == ORDRE_LIMITS.names


def _lengths(pattern: str) -> list[int]:
    """The longest text each STYLE/FABRIC/COLOUR part of a product id pattern admits: a part
    is one character, {0,n} in the middle and one more."""
    return [int(n) + 2 for n in re.findall(r"\{0,(\d+)\}", pattern)]


def test_the_product_id_patterns_carry_zedonks_lengths() -> None:
    limits = [ZEDONK_LIMITS.style, ZEDONK_LIMITS.fabric, ZEDONK_LIMITS.colour]
    assert _lengths(PRODUCT["pattern"]) == limits
    assert _lengths(STYLE_ENTRY["style"]["pattern"]) == [ZEDONK_LIMITS.style]
    assert _lengths(STYLE_ENTRY["fabric"]["pattern"]) == [ZEDONK_LIMITS.fabric]
    assert _lengths(STYLE_ENTRY["colours"]["items"]["pattern"]) == [ZEDONK_LIMITS.colour]
    words = (
        f"style up to {ZEDONK_LIMITS.style} characters, fabric {ZEDONK_LIMITS.fabric}, "
        f"colour {ZEDONK_LIMITS.colour}"
    )
    assert words in PRODUCT["patternErrorMessage"] and words in PRODUCT["description"]


def test_the_batch_size_is_the_declared_one() -> None:
    assert ORDRE_LIMITS.listing_batch == BATCH_MAX


# --------------------------------------------------------------------------- the rule itself


def test_a_name_rule_keys_names_as_it_says() -> None:
    ordre = ORDRE_LIMITS.names
    assert ordre.key(" AW26 Main Collection ") == ordre.key("aw26 main collection")
    assert ordre.key("Straße") == ordre.key("STRASSE")
    assert ordre.key("Caf\u00e9") != ordre.key("Cafe\u0301")  # no normalisation
    assert ordre.ignoring() == "case and spaces at either end"
    exact = ZEDONK_LIMITS.seasons
    assert exact.key(" AW26") != exact.key("AW26") and exact.ignoring() == "nothing"
    nfc = NameRule(trim=False, casefold=False, normalisation="NFC")
    assert nfc.key("Cafe\u0301") == "Caf\u00e9"


def test_too_long_states_the_limit_and_the_length_never_the_value() -> None:
    value = "x" * 10_000
    message = too_long("the description", value, 2000)
    assert message == "the description is 10,000 characters long; at most 2,000 are allowed"
    assert too_long("the description", value[:2000], 2000) is None


# --------------------------------------------------------------------------- the remote's truth


@pytest.fixture
def ordre(sandbox: Sandboxes) -> httpx.Client:
    return sandbox.client("ordre")


def _listing(key: str, gtin: str) -> dict[str, Any]:
    style, fabric, colour = key.split("/")
    return {
        "key": key,
        "style": style,
        "fabric": fabric,
        "colour": colour,
        "category": "Coats",
        "sizes": [{"size": "36", "gtin": gtin}],
    }


def _gtin(n: int) -> str:
    body = f"50612345{n:04d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def test_the_ordre_sandbox_refuses_exactly_past_the_declared_lengths(
    ordre: httpx.Client,
) -> None:
    limit, text = ORDRE_LIMITS.collection_name, ORDRE_LIMITS.collection_description
    fits = {"name": "N" * limit, "position": 0, "description": "d" * text}
    assert ordre.post("/collections", json=fits).status_code == 201
    for over in ({"name": "M" * (limit + 1)}, {"name": "M", "description": "d" * (text + 1)}):
        answer = ordre.post("/collections", json={"position": 1, **over})
        assert answer.status_code == 422, answer.text
    collection = ordre.get("/collections").json()["items"][0]["id"]
    look = {"collection_id": collection, "position": 0}
    assert ordre.post("/looks", json={**look, "name": "L" * ORDRE_LIMITS.look_name}).is_success
    too_long_look = ordre.post("/looks", json={**look, "name": "L" * (ORDRE_LIMITS.look_name + 1)})
    assert too_long_look.status_code == 422


def test_the_ordre_sandbox_compares_names_as_declared(ordre: httpx.Client) -> None:
    rule = ORDRE_LIMITS.names
    made = ordre.post("/collections", json={"name": "AW26 Main Collection", "position": 0})
    assert made.status_code == 201
    for same in ("AW26 Main Collection ", " aw26 main collection", "AW26 MAIN COLLECTION"):
        assert rule.key(same) == rule.key("AW26 Main Collection")
        clash = ordre.post("/collections", json={"name": same, "position": 1})
        assert clash.status_code == 409, same
    other = "Cafe\u0301"  # composed otherwise than "Café": different to ORDRE, and to the rule
    assert ordre.post("/collections", json={"name": "Caf\u00e9", "position": 2}).is_success
    assert rule.key(other) != rule.key("Caf\u00e9")
    assert ordre.post("/collections", json={"name": other, "position": 3}).is_success
    cid = made.json()["id"]
    look = {"collection_id": cid, "position": 0, "name": "Other"}
    assert ordre.post("/looks", json=look).status_code == 201
    assert ordre.post("/looks", json={**look, "name": "other "}).status_code == 409


def test_the_ordre_sandbox_takes_batches_of_the_declared_size(ordre: httpx.Client) -> None:
    items = [_listing(f"S-{n}/W/N", _gtin(n)) for n in range(ORDRE_LIMITS.listing_batch + 1)]
    over = ordre.put("/listings:batch", json={"items": items})
    assert over.status_code == 422
    fits = ordre.put("/listings:batch", json={"items": items[:-1]})
    assert fits.status_code == 200, fits.text


def test_settings_are_matched_as_zedonk_matches_them_with_the_choices_in_the_hint() -> None:
    from datetime import date

    from daemon.core.choices import MAX_CHOICES, Named, ZedonkNames, check_zedonk_names
    from daemon.core.model import Season, User
    from daemon.core.spec import Location

    seasons = [Season(f"S{n:02d}", f"Season {n}", date(2000 + n, 1, 1)) for n in range(30)]
    users = [User("sophie", "Sophie", True), User("Marc", "Marc", False)]
    at = Location("connector.yaml", 9, 11)
    names = ZedonkNames(
        Named("import.season", "S05", at),
        Named("import.order_owner", "marc", at),
        (Named("prices.seasons[0]", "X99", Location("connector.yaml", 12, 13)),),
    )
    found = check_zedonk_names(names, seasons, users, ZEDONK_LIMITS)
    assert [(f.path, f.code, f.line) for f in found] == [
        ("prices.seasons[0]", "zedonk-season-unknown", 12),
        ("import.order_owner", "zedonk-user-unknown", 9),
    ]
    hint = found[0].hint or ""
    assert hint.endswith(f"S{MAX_CHOICES - 1:02d} and {30 - MAX_CHOICES} more")
    assert "Zedonk matches them exactly: did you mean 'Marc'?" in (found[1].hint or "")
    only_import = check_zedonk_names(names, seasons, users, ZEDONK_LIMITS, import_only=True)
    assert [f.path for f in only_import] == ["import.order_owner"]
