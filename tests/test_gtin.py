import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.core import gtin


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


@given(st.text(alphabet="0123456789", min_size=7, max_size=13))
def test_check_digit_matches_the_gs1_weights(body: str) -> None:
    # The GS1 rule as written: weights 3, 1, 3, 1... from the right-most digit of the body.
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    assert gtin.check_digit(body) == (10 - total % 10) % 10


def test_check_digit_refuses_anything_but_digits() -> None:
    for body in ("12a4567", "١٢٣٤٥٦٧", " 123456"):
        with pytest.raises(ValueError):
            gtin.check_digit(body)


@given(
    st.one_of(
        st.none(),
        st.text(alphabet="0123456789", min_size=0, max_size=16),
        st.text(alphabet="0123456789 a\u0663", max_size=16),
    )
)
def test_canonical_agrees_with_problem(barcode: str | None) -> None:
    """canonical's inlined check accepts exactly the barcodes problem() finds nothing wrong
    with, valid ones included (half of the digit strings get their check digit fixed)."""
    if barcode and barcode.strip().isdigit() and len(barcode.strip()) in gtin.GTIN_LENGTHS:
        text = barcode.strip()
        if text.isascii() and hash(text) % 2:
            barcode = text[:-1] + str(gtin.check_digit(text[:-1]))
    found = gtin.canonical(barcode)
    if gtin.problem(barcode) is None:
        assert barcode is not None and found == barcode.strip().zfill(14)
    else:
        assert found is None
