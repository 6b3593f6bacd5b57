"""What both sandbox servers share: the error shape, JSON bodies, pagination, the clock, GTINs.

The sandbox plays the remote systems, so it imports nothing from the rest of ``daemon``: a
mapping mistake in the connector must not be mirrored here.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from operator import itemgetter
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from daemon.sandbox.store import SortKey, Store

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ApiError(Exception):
    """An answer in the one error shape: ``{"error": {"code", "message", "details"}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return error_response(self.status, self.code, self.message, self.details, self.headers)


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what}")


def conflict(message: str, **details: Any) -> ApiError:
    return ApiError(409, "conflict", message, details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def invalid(errors: list[dict[str, str]]) -> ApiError:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ApiError(
        422, "invalid", f"{first['field']}: {first['message']}{more}", {"errors": errors}
    )


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise bad_request("the request needs a JSON body")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"the body is not valid JSON: {exc}") from None


async def read_object(request: Request, *, optional: bool = False) -> dict[str, Any]:
    if optional and not (await request.body()).strip():
        return {}
    data = await read_json(request)
    if not isinstance(data, dict):
        raise bad_request("the body must be a JSON object")
    return data


# --------------------------------------------------------------------------- validation


class Fields:
    """Reads one JSON object field by field, collecting every problem before answering 422."""

    def __init__(self, data: Any, prefix: str = "", errors: list[dict[str, str]] | None = None):
        self.errors: list[dict[str, str]] = [] if errors is None else errors
        self.prefix = prefix
        self.seen: set[str] = set()
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        if not isinstance(data, dict):
            self.fail("", "must be an object")

    def where(self, name: str) -> str:
        if not name:
            return self.prefix or "body"
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, message: str) -> None:
        self.errors.append({"field": self.where(name), "message": message})

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str) -> Any:
        self.seen.add(name)
        return self.data.get(name)

    def _get(self, name: str, required: bool) -> tuple[bool, Any]:
        self.seen.add(name)
        if name not in self.data:
            if required:
                self.fail(name, "is required")
            return False, None
        return True, self.data[name]

    def text(
        self, name: str, *, required: bool = False, default: str = "", max_len: int = 500
    ) -> str:
        present, value = self._get(name, required)
        if not present:
            return default
        if not isinstance(value, str):
            self.fail(name, "must be a string")
            return default
        if len(value) > max_len:
            self.fail(name, f"must be at most {max_len} characters")
        if required and not value.strip():
            self.fail(name, "must not be empty")
        return value

    def opt_text(self, name: str, *, max_len: int = 500) -> str | None:
        present, value = self._get(name, False)
        if not present or value is None:
            return None
        if not isinstance(value, str):
            self.fail(name, "must be a string or null")
            return None
        if len(value) > max_len:
            self.fail(name, f"must be at most {max_len} characters")
        return value

    def choice(self, name: str, options: Iterable[str], *, required: bool = False) -> str:
        opts = list(options)
        value = self.text(name, required=required, default=opts[0])
        if value not in opts:
            self.fail(name, f"must be one of {', '.join(opts)}")
        return value

    def integer(
        self, name: str, *, required: bool = False, default: int = 0, minimum: int = 0
    ) -> int:
        present, value = self._get(name, required)
        if not present:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(name, "must be an integer")
            return default
        if value < minimum:
            self.fail(name, f"must be at least {minimum}")
        return value

    def boolean(self, name: str, *, default: bool) -> bool:
        present, value = self._get(name, False)
        if not present:
            return default
        if not isinstance(value, bool):
            self.fail(name, "must be true or false")
            return default
        return value

    def money(self, name: str, *, required: bool = True) -> str | None:
        present, value = self._get(name, required)
        if not present:
            return None
        text = parse_money(value)
        if text is None:
            self.fail(name, 'must be a decimal string >= 0 with at most 2 decimals, e.g. "120.00"')
        return text

    def day(self, name: str) -> str | None:
        present, value = self._get(name, False)
        if not present or value is None:
            return None
        try:
            return date.fromisoformat(value).isoformat()
        except (TypeError, ValueError):
            self.fail(name, "must be a date YYYY-MM-DD or null")
            return None

    def obj(self, name: str, *, required: bool = False) -> Fields | None:
        present, value = self._get(name, required)
        if not present or value is None:
            return None
        return Fields(value, self.where(name), self.errors)

    def items(self, name: str, *, required: bool = False, min_items: int = 0) -> list[Fields]:
        present, value = self._get(name, required)
        if not present:
            return []
        if not isinstance(value, list):
            self.fail(name, "must be a list")
            return []
        if len(value) < min_items:
            self.fail(name, f"needs at least {min_items} item(s)")
        return [Fields(v, f"{self.where(name)}[{i}]", self.errors) for i, v in enumerate(value)]

    def done(self) -> None:
        """Reject unknown fields; for the top-level reader, raise 422 if anything failed."""
        for name in sorted(set(self.data) - self.seen):
            self.fail(name, "is not a known field")
        if not self.prefix and self.errors:
            raise invalid(self.errors)


def parse_money(value: Any) -> str | None:
    """A non-negative decimal string with at most two decimals, normalised to two."""
    if not isinstance(value, str):
        return None
    try:
        amount = Decimal(value.strip())
        # quantize refuses an amount too large to hold two places in Decimal's precision
        cents = amount.quantize(Decimal("0.01")) if amount.is_finite() else None
    except InvalidOperation:
        return None
    if cents is None or amount < 0 or amount != cents:
        return None
    return str(cents)


# --------------------------------------------------------------------------- GTIN


def gtin_is_valid(text: str) -> bool:
    """Digits only, GTIN-8/12/13/14 length, correct GS1 mod-10 check digit."""
    if not text.isascii() or not text.isdigit() or len(text) not in (8, 12, 13, 14):
        return False
    return check_digit(text[:-1]) == int(text[-1])


def check_digit(body: str) -> int:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_key(text: str) -> str:
    """How two barcodes are compared: as digits, ignoring leading zeros."""
    return text.strip().lstrip("0")


# --------------------------------------------------------------------------- clock


class Clock:
    """Wall clock plus a test-set offset; every stamp is strictly later than the one before."""

    def __init__(self) -> None:
        self.offset_ms = 0
        self.last_ms = 0

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def tick(self) -> str:
        self.last_ms = max(self.now_ms(), self.last_ms + 1)
        return format_ms(self.last_ms)

    def now(self) -> str:
        return format_ms(self.now_ms())

    def catch_up(self, stamp: str) -> None:
        """Never hand out a stamp at or before ``stamp`` (one read back from a state file)."""
        parsed = datetime.fromisoformat(stamp)
        self.last_ms = max(self.last_ms, int(parsed.timestamp() * 1000))


def format_ms(ms: int) -> str:
    stamp = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_timestamp(text: str) -> str:
    """An RFC 3339 time as the servers write it, so that stamps compare as strings."""
    try:
        stamp = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise bad_request(f"{text!r} is not an RFC 3339 timestamp") from None
    if stamp.tzinfo is None:
        raise bad_request(f"{text!r} needs a time zone, e.g. a trailing Z")
    return format_ms(int(stamp.timestamp() * 1000))


# --------------------------------------------------------------------------- pagination


@cache
def by(*fields: str) -> Callable[[Any], SortKey]:
    """The sort key of an object: its ``fields`` in order. The same function for the same
    fields, so that ``Store.ordered`` keeps its sorted rows."""
    return lambda obj: tuple(obj[name] for name in fields)


def paginate(
    request: Request,
    rows: Sequence[tuple[SortKey, Any]],
    keep: Callable[[Any], bool] | None = None,
    show: Callable[[Any], Any] | None = None,
    *,
    changes: tuple[Store, str] | None = None,
) -> JSONResponse:
    """One page of ``rows`` (sort key, item), already sorted by key (``Store.ordered``).

    Only items ``keep`` accepts count; ``show`` turns an item into what the page holds. The
    page is ``{"items": [...], "next_cursor": ..., "sync_token": ...}``; the scan stops once
    the page is full. With ``changes`` (the store and the table the rows come from), the last
    page's ``sync_token`` names the point the listing began at, and ``?changed_since=<token>``
    lists what changed in the table after such a point instead (``changes_page``).
    """
    if changes is not None and "changed_since" in request.query_params:
        return changes_page(request, *changes, show)
    limit = _limit(request)
    start = 0
    # A first page: the listing starts at the store's latest change (a later page carries
    # that point in its cursor, so the last page's token names it, whatever changed since).
    began = [changes[0].epoch, changes[0].seq] if changes is not None else None
    cursor = request.query_params.get("cursor")
    if cursor:
        after, began = decode_cursor(cursor)
        try:
            start = bisect.bisect_right(rows, after, key=itemgetter(0))
        except TypeError:
            raise bad_request(f"{cursor!r} is not a cursor for this list") from None
    chunk: list[tuple[SortKey, Any]] = []
    more = False
    for i in range(start, len(rows)):
        if keep is None or keep(rows[i][1]):
            if len(chunk) == limit:  # one more match: there is a next page
                more = True
                break
            chunk.append(rows[i])
    next_cursor = encode_cursor(chunk[-1][0], began) if more else None
    token = _encode(began) if changes is not None and not more and began is not None else None
    items = [item if show is None else show(item) for _, item in chunk]
    return JSONResponse({"items": items, "next_cursor": next_cursor, "sync_token": token})


def changes_page(
    request: Request, store: Store, table: str, show: Callable[[Any], Any] | None = None
) -> JSONResponse:
    """One page of what changed in ``table`` after the point ``?changed_since=`` names, in the
    order it changed: each key once, in ``items`` as it is now or in ``deleted`` (its key) when
    its last change deleted it. The last page's ``sync_token`` is the point to ask from next.
    ``410 sync_token_expired`` when the point is not of this epoch (the server was reseeded,
    reset or restarted since): the client reads the whole list again. No filter but ``limit``
    and ``cursor`` goes with it."""
    params = request.query_params
    extra = sorted(set(params) - {"changed_since", "limit", "cursor"})
    if extra:
        raise bad_request(f"changed_since takes no other filter ({', '.join(extra)})")
    since = _decode(params["changed_since"], "sync token")
    if not _is_point(since):
        raise bad_request(f"{params['changed_since']!r} is not a sync token this server gave out")
    epoch, after = since
    if epoch != store.epoch or not 0 <= after <= store.seq:
        raise ApiError(
            410,
            "sync_token_expired",
            "this sync token is from before the server's data was replaced; list everything again",
        )
    limit = _limit(request)
    cursor = params.get("cursor")
    if cursor:
        position = _decode(cursor, "cursor")
        if type(position) is not int or position < after:
            raise bad_request(f"{cursor!r} is not a cursor for this list")
        after = position
    found = store.changes(table, after)
    chunk, more = found[:limit], len(found) > limit
    items = [obj if show is None else show(obj) for _, _, obj in chunk if obj is not None]
    deleted = [key for _, key, obj in chunk if obj is None]
    return JSONResponse(
        {
            "items": items,
            "deleted": deleted,
            "next_cursor": _encode(chunk[-1][0]) if more else None,
            "sync_token": None if more else sync_token(store, store.seq),
        }
    )


def sync_token(store: Store, seq: int) -> str:
    """The point after change ``seq`` of ``store``'s current epoch, as an opaque token."""
    return _encode([store.epoch, seq])


def _limit(request: Request) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise bad_request(f"limit must be an integer from 1 to {MAX_LIMIT}, not {text!r}")
    return int(text)


def encode_cursor(key: SortKey, began: list[Any] | None = None) -> str:
    """The cursor after sort key ``key`` of a listing that began at ``began`` (the store's
    epoch and its latest change then)."""
    return _encode([list(key), began])


def decode_cursor(cursor: str) -> tuple[SortKey, list[Any] | None]:
    value = _decode(cursor, "cursor")
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], list)):
        raise bad_request(f"{cursor!r} is not a cursor this server gave out")
    began = value[1]
    if began is not None and not _is_point(began):
        raise bad_request(f"{cursor!r} is not a cursor this server gave out")
    return tuple(value[0]), began


def _is_point(value: Any) -> bool:
    """``[epoch, seq]``: a point in a store's changes."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and type(value[1]) is int
    )


def _encode(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _decode(text: str, what: str) -> Any:
    try:
        padded = text + "=" * (-len(text) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        raise bad_request(f"{text!r} is not a {what} this server gave out") from None


def flag(request: Request, name: str) -> bool | None:
    """An optional true/false query parameter."""
    text = request.query_params.get(name)
    if text is None:
        return None
    if text.lower() not in ("true", "false"):
        raise bad_request(f"{name} must be true or false, not {text!r}")
    return text.lower() == "true"


def json_response(document: Any, status: int = 200, etag: int | None = None) -> JSONResponse:
    headers = {"ETag": f'"{etag}"'} if etag is not None else None
    return JSONResponse(document, status_code=status, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)
