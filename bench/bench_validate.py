"""validate on a large catalogue (20,000 products, 200 looks, 40 files) against its floor.

The floor is the least any validation of these files must do: parse each file with PyYAML's
CSafeLoader and check it with jsonschema (the same schemas and validators), nothing else.
validate does more on top (line numbers, duplicate keys, YAML 1.1 pitfalls, cross-file rules,
the spec objects); the ratio says what that costs. Target: ratio <= 1.5.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from bench import cpu_model
from bench.gen_catalogue import generate
from daemon.tree.resources import CATALOGUE_SCHEMA, CONNECTOR_SCHEMA
from daemon.tree.schema import validator
from daemon.tree.validation import validate_tree

ROUNDS = 15  # interleaved, best of each: other load on the machine hits both alike


def floor(root: Path) -> int:
    """Parse with CSafeLoader and check with jsonschema; returns the number of errors."""
    errors = 0
    for path, schema in [(root / "connector.yaml", CONNECTOR_SCHEMA)] + [
        (p, CATALOGUE_SCHEMA) for p in sorted((root / "catalogue").glob("*.yaml"))
    ]:
        data = yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
        errors += sum(1 for _ in validator(schema).iter_errors(data))
    return errors


def best_of(*fns: Callable[[], object]) -> list[tuple[float, float]]:
    """(wall, cpu) seconds of each function, the best of ROUNDS interleaved runs."""
    best = [(float("inf"), float("inf"))] * len(fns)
    for _ in range(ROUNDS):
        for i, fn in enumerate(fns):
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[i] = (min(best[i][0], wall), min(best[i][1], cpu))
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp))
        report = validate_tree(root)
        assert report.ok, [str(f) for f in report.findings]
        assert report.catalogue is not None
        assert floor(root) == 0
        products = sum(
            len(look.products) + sum(len(s.colours) for s in look.styles)
            for c in report.catalogue.collections
            for look in c.looks
        )
        (f_wall, f_cpu), (v_wall, v_cpu) = best_of(lambda: floor(root), lambda: validate_tree(root))
    python = platform.python_version()
    print(f"machine:   {cpu_model()}, {os.cpu_count()} CPUs, Python {python}")
    print(f"catalogue: {products} products written out, 200 looks, 40 files; best of {ROUNDS}")
    print("                 wall       cpu")
    print(f"validate: {v_wall * 1000:8.1f} ms {v_cpu * 1000:8.1f} ms")
    print(f"floor:    {f_wall * 1000:8.1f} ms {f_cpu * 1000:8.1f} ms  (CSafeLoader + jsonschema)")
    print(f"ratio:    {v_wall / f_wall:8.2f}    {v_cpu / f_cpu:8.2f}     (target <= 1.5)")


if __name__ == "__main__":
    main()
