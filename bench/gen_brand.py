"""Generate the large sandbox brand (20,000 products, 2,000 customers) and optionally save it.

    python -m bench.gen_brand [--seed N] [--out FILE.json]

It is the brand `zedonk-ordre sandbox --large` serves. The figure printed is the time to
generate it, next to a floor (building the same number of plain dicts) measured in this run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from daemon.sandbox.base import DEFAULT_SEED
from daemon.sandbox.seed import zedonk_tables


def floor(n: int) -> float:
    started = time.perf_counter()
    rows = {str(i): {"id": str(i), "skus": [{"size": s} for s in range(5)]} for i in range(n)}
    assert len(rows) == n
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, help="write every Zedonk table as one JSON file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    tables, _ = zedonk_tables(args.seed, large=True)
    took = time.perf_counter() - started
    products, customers = tables["products"], tables["customers"]
    skus = sum(len(p["skus"]) for p in products.values())
    base = floor(len(products))
    print(f"brand: {len(products)} products, {skus} SKUs, {len(customers)} customers")
    print(f"generate: {took:.2f} s  floor: {base:.3f} s  ratio: {took / base:.0f}x")
    if args.out:
        args.out.write_text(json.dumps(tables))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
