"""Typed reading of API JSON objects, with errors that name the field that was wrong.

``Fields(raw).obj("retailer").text("name")`` returns a str or raises ``ShapeError`` saying
``retailer.name: expected a string, got 12``. The clients turn a ShapeError into
``BadResponse`` naming the endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import partial, wraps
from typing import Any, TypeVar

from daemon.errors import BadResponse

T = TypeVar("T")


def parse_json(raw: bytes) -> Any:
    """An answer's JSON, numbers that are not integers as Decimal (money stays exact). Raises
    ValueError (or UnicodeDecodeError) when it is not JSON."""
    return json.loads(raw, parse_float=Decimal)


class TypedItems(list[Any]):
    """A page's items decoded straight into typed structs (``daemon.clients.typed``), with the
    page's bytes, to be parsed again as plain JSON where a struct cannot be mapped."""

    __slots__ = ("raw",)
    raw: bytes

    def plain(self) -> list[Any]:
        items: list[Any] = parse_json(self.raw)["items"]
        return items


class ShapeError(ValueError):
    """A JSON value does not have the shape the API documents."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Fields:
    """Read fields of one JSON object; ``where`` is its path in error messages ("" at the top)."""

    __slots__ = ("_at", "raw")

    def __init__(self, raw: Any, where: str | Callable[[], str] = "") -> None:
        self._at = where
        if not isinstance(raw, dict):
            raise ShapeError(f"{self.where or 'answer'}: expected an object, got {_show(raw)}")
        self.raw: dict[str, Any] = raw

    @property
    def where(self) -> str:
        # Built only when an error needs it: a large brand reads a few hundred thousand objects.
        return self._at if isinstance(self._at, str) else self._at()

    def _path(self, key: str) -> str:
        where = self.where
        return f"{where}.{key}" if where else key

    def _item_path(self, key: str, index: int) -> str:
        return f"{self._path(key)}[{index}]"

    def _get(self, key: str, required: bool) -> Any:
        value = self.raw.get(key, _MISSING)
        if value is _MISSING:
            if required:
                raise ShapeError(f"{self._path(key)}: missing")
            return None
        return value

    def _fail(self, key: str, expected: str, value: Any) -> ShapeError:
        return ShapeError(f"{self._path(key)}: expected {expected}, got {_show(value)}")

    def problem(self, key: str, message: str) -> ShapeError:
        """An error about one field, for checks the readers here do not cover."""
        return ShapeError(f"{self._path(key)}: {message}")

    def has(self, key: str) -> bool:
        return key in self.raw

    def text(self, key: str) -> str:
        value = self._get(key, True)
        if not isinstance(value, str):
            raise self._fail(key, "a string", value)
        return value

    def opt_text(self, key: str) -> str | None:
        """A string, or None when the field is missing, null or empty."""
        value = self._get(key, False)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self._fail(key, "a string or null", value)
        return value

    def text_or(self, key: str, default: str = "") -> str:
        value = self.opt_text(key)
        return default if value is None else value

    def ident(self, key: str) -> str:
        """An id: a non-empty string, or an integer read as its decimal form."""
        value = self._get(key, True)
        if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            raise self._fail(key, "an id (string or integer)", value)
        return str(value)

    def opt_ident(self, key: str) -> str | None:
        value = self._get(key, False)
        return None if value is None or value == "" else self.ident(key)

    def integer(self, key: str) -> int:
        value = self._get(key, True)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, "an integer", value)
        return value

    def flag(self, key: str, default: bool | None = None) -> bool:
        value = self._get(key, default is None)
        if value is None and default is not None:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, "true or false", value)
        return value

    def money(self, key: str) -> Decimal:
        """A decimal amount, given as a JSON number or a numeric string; never a float, and
        at most ``MONEY_DIGITS`` digits before the point."""
        value = self._get(key, True)
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise self._fail(key, "an amount", value)
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise self._fail(key, "an amount", value) from None
        if not amount.is_finite():
            raise self._fail(key, "a finite amount", value)
        if not is_money(amount):
            raise self._fail(
                key, f"an amount of at most {MONEY_DIGITS} digits before the point", value
            )
        return amount

    def day(self, key: str) -> date:
        value = self._get(key, True)
        try:
            return date.fromisoformat(value) if isinstance(value, str) else _raise()
        except ValueError:
            raise self._fail(key, "a date YYYY-MM-DD", value) from None

    def opt_day(self, key: str) -> date | None:
        return None if self._get(key, False) in (None, "") else self.day(key)

    def moment(self, key: str) -> datetime:
        value = self._get(key, True)
        try:
            when = datetime.fromisoformat(value) if isinstance(value, str) else _raise()
        except ValueError:
            raise self._fail(key, "an ISO 8601 timestamp", value) from None
        if when.tzinfo is None:
            raise self._fail(key, "a timestamp with a time zone", value)
        return when

    def opt_moment(self, key: str) -> datetime | None:
        return None if self._get(key, False) in (None, "") else self.moment(key)

    def items(self, key: str, required: bool = True) -> list[Any]:
        value = self._get(key, required)
        if value is None and not required:
            return []
        if not isinstance(value, list):
            raise self._fail(key, "a list", value)
        return value

    def texts(self, key: str, required: bool = True) -> tuple[str, ...]:
        values = self.items(key, required)
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise ShapeError(f"{self._path(key)}[{i}]: expected a string, got {_show(value)}")
        return tuple(values)

    def objects(self, key: str, required: bool = True) -> Iterator[Fields]:
        for i, value in enumerate(self.items(key, required)):
            yield Fields(value, partial(self._item_path, key, i))

    def obj(self, key: str) -> Fields:
        return Fields(self._get(key, True), lambda: self._path(key))

    def opt_obj(self, key: str) -> Fields | None:
        value = self._get(key, False)
        return None if value is None else Fields(value, lambda: self._path(key))


_MISSING = object()


def _raise() -> Any:
    raise ValueError("wrong type")


# What a quick reader raises on a shape it does not expect (InvalidOperation is an
# ArithmeticError).
_QUICK_SLIPS = (KeyError, TypeError, ValueError, AttributeError, ArithmeticError)


def fast_path(
    quick: Callable[[dict[str, Any]], T] | None, *, typed: Any = None
) -> Callable[[Callable[[Fields], T]], Callable[[Fields], T]]:
    """Read well-formed objects with ``quick``, plain dict access that is several times faster;
    on anything it does not expect, the careful ``Fields`` reader runs instead, so an error
    still names the field.

    ``quick`` must never be more lenient than the careful reader: where it raises is free, but
    whatever it returns must equal what the careful reader returns. Only the bulk listings
    (products, ORDRE listings) need this: a large brand reads 40,000 of them per pass.
    """

    def decorate(careful: Callable[[Fields], T]) -> Callable[[Fields], T]:
        @wraps(careful)
        def read(f: Fields) -> T:
            if quick is None:
                return careful(f)
            try:
                return quick(f.raw)
            except _QUICK_SLIPS:
                return careful(f)

        read.quick = quick  # type: ignore[attr-defined]  # for read_pages
        read.typed = typed  # type: ignore[attr-defined]  # for ApiClient._list and read_pages
        return read

    return decorate


def quick_text(value: Any) -> str:
    """``Fields.text`` for a quick reader: the value itself, which must be a string."""
    if type(value) is not str:
        raise TypeError
    return value


def quick_text_or(value: Any, default: str = "") -> str:
    """``Fields.text_or``: ``default`` for None or ""."""
    if value is None:
        return default
    if type(value) is not str:
        raise TypeError
    return value or default


def quick_text_in(raw: dict[str, Any], key: str) -> str:
    """``quick_text_or(raw.get(key))`` in one call: for ``partial(quick_text_in, raw)``, which
    reads several fields of one object without a Python frame more per field."""
    value = raw.get(key)
    if value is None:
        return ""
    if type(value) is not str:
        raise TypeError
    return value


def quick_opt_text(value: Any) -> str | None:
    """``Fields.opt_text``: None for None or ""."""
    if value is None:
        return None
    if type(value) is not str:
        raise TypeError
    return value or None


def quick_list(value: Any, required: bool = True) -> list[Any]:
    """``Fields.items``: a list; None counts as empty when not ``required``."""
    if value is None and not required:
        return []
    if type(value) is not list:
        raise TypeError
    return value


# No price has more digits before the point; past that, an amount is a broken value (json may
# refuse it as an integer, and money cannot be written with two places in Decimal's precision).
MONEY_DIGITS = 20


def is_money(amount: Decimal) -> bool:
    """A finite amount of at most ``MONEY_DIGITS`` digits before the point."""
    return amount.is_finite() and amount.adjusted() < MONEY_DIGITS


def quick_money(value: Any) -> Decimal:
    """``Fields.money``: a Decimal (as JSON numbers are parsed), an integer or a numeric string."""
    kind = type(value)
    if kind is Decimal:
        amount: Decimal = value
    elif kind is str or kind is int:
        amount = Decimal(value)  # a bad string raises InvalidOperation
    else:
        raise TypeError
    if not is_money(amount):
        raise ValueError
    return amount


def quick_int(value: Any) -> int:
    """``Fields.integer``: an int, never a bool."""
    if type(value) is not int:
        raise TypeError
    return value


def quick_ident(value: Any) -> str:
    """``Fields.ident``: a non-empty string, or an integer as its decimal form."""
    if type(value) is int:
        return str(value)
    if type(value) is not str or not value:
        raise TypeError
    return value


def quick_flag(value: Any) -> bool:
    """``Fields.flag``: true or false, nothing else."""
    if type(value) is not bool:
        raise TypeError
    return value


def quick_opt_obj(value: Any) -> dict[str, Any] | None:
    """``Fields.opt_obj``: an object, or None."""
    if value is not None and type(value) is not dict:
        raise TypeError
    return value


def quick_opt_day(value: Any) -> date | None:
    """``Fields.opt_day``: None for None or ""."""
    return None if value is None or value == "" else date.fromisoformat(quick_text(value))


def quick_opt_moment(value: Any) -> datetime | None:
    """``Fields.opt_moment``: None for None or ""; a timestamp must name its time zone."""
    if value is None or value == "":
        return None
    when = datetime.fromisoformat(quick_text(value))
    if when.tzinfo is None:
        raise ValueError
    return when


@dataclass(frozen=True)
class BrokenItem:
    """One item of a listing that could not be read; the rest of the listing carries on.

    ``id`` is the item's own id when it had a readable one; ``raw`` is the JSON as received.
    """

    id: str | None
    reason: str
    raw: Any = field(repr=False, default=None)


def raw_id(raw: Any, key: str = "id") -> str | None:
    """The id of a raw JSON item, if it has a usable one."""
    value = raw.get(key) if isinstance(raw, dict) else None
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def read_one(raw: Any, read: Callable[[Fields], T], *, remote: str, where: str) -> T:
    """Map one JSON object, or raise ``BadResponse`` naming the endpoint and the field."""
    try:
        return read(Fields(raw))
    except ShapeError as exc:
        raise BadResponse(f"{where}: {exc}", remote=remote) from None


def read_all(
    raws: Iterable[Any],
    read: Callable[[Fields], T],
    *,
    where: str,
    id_key: str = "id",
    start: int = 1,
) -> Iterator[T | BrokenItem]:
    """Map every item of a listing; a malformed one comes out as a ``BrokenItem`` (``#n``
    counts the items from ``start`` when it has no id)."""
    for number, raw in enumerate(raws, start=start):
        try:
            yield read(Fields(raw))
        except ShapeError as exc:
            ident = raw_id(raw, id_key)
            label = f"{id_key}={ident}" if ident is not None else f"#{number}"
            yield BrokenItem(ident, f"{where}: item {label}: {exc}", raw)


def read_each(
    raws: Iterable[Any],
    read: Callable[[Fields], T],
    *,
    remote: str,
    where: str,
    on_broken: Callable[[BrokenItem], None] | None = None,
    id_key: str = "id",
    start: int = 1,
) -> Iterator[T]:
    """Map every item of a listing.

    A malformed item raises ``BadResponse`` unless ``on_broken`` is given: then it is passed
    there and the listing carries on.
    """
    for item in read_all(raws, read, where=where, id_key=id_key, start=start):
        if not isinstance(item, BrokenItem):
            yield item
        elif on_broken is None:
            raise BadResponse(item.reason, remote=remote)
        else:
            on_broken(item)


def read_pages(
    pages: Iterable[list[Any]],
    read: Callable[[Fields], T],
    *,
    remote: str,
    where: str,
    on_broken: Callable[[BrokenItem], None] | None = None,
    id_key: str = "id",
) -> Iterator[T]:
    """``read_each`` over a listing read a page at a time. A page its reader's ``typed`` decoder
    read (``TypedItems``) is mapped from its structs; a reader made with ``fast_path`` maps a
    whole page with its quick reader in one go; a page where either slips is read again item
    by item, each with its careful reader where the quick one slips."""
    quick: Callable[[Any], T] | None = getattr(read, "quick", None)
    typed = getattr(read, "typed", None)
    convert = typed.convert if typed is not None else None
    start = 1
    for page in pages:
        if type(page) is TypedItems:
            try:
                mapped = [convert(item) for item in page]  # type: ignore[misc]
            except _QUICK_SLIPS:
                try:
                    page = page.plain()
                except ValueError as exc:  # what msgspec read and json refuses (a huge integer)
                    raise BadResponse(
                        f"{where}: answer is not valid JSON ({exc})", remote=remote
                    ) from None
            else:
                yield from mapped
                start += len(page)
                continue
        if quick is not None:
            try:
                mapped = [quick(raw) for raw in page]
            except _QUICK_SLIPS:
                pass
            else:
                yield from mapped
                start += len(page)
                continue
        yield from read_each(
            page, read, remote=remote, where=where, on_broken=on_broken, id_key=id_key, start=start
        )
        start += len(page)
