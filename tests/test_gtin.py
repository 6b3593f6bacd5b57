from daemon import gtin


def test_check_digit_worked_examples() -> None:
    # From GS1 member organisations' published examples.
    assert gtin.check_digit("629104150021") == 3
    assert gtin.check_digit("890400021003") == 7
    assert gtin.check_digit("07567816412") == 5
    assert gtin.is_valid("6291041500213")


def test_upc_a_and_its_ean13_form_share_a_canonical_form() -> None:
    assert gtin.canonical("075678164125") == gtin.canonical("0075678164125") == "00075678164125"


def test_problems_are_named() -> None:
    for barcode, code in [
        (None, "missing"),
        ("  ", "missing"),
        ("12AB", "malformed"),
        ("123", "malformed"),
    ]:
        found = gtin.problem(barcode)
        assert found is not None and found.code == code
    bad = gtin.problem("075678164126")
    assert bad is not None and bad.code == "check-digit"
    assert gtin.canonical("075678164126") is None
