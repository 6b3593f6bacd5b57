"""The dump round trip on the large sandbox brand (20,000 products in 200 looks, 40 files).

    python -m bench dump

The catalogue of ``bench_plan`` is applied to the ORDRE sandbox (set-up, timed but not the
figure); a repository made as `init` makes it, with the same settings, takes the showroom in
with `dump`, and `plan` there must find no change. Figures: the dump (read both remotes, map,
validate and plan its own files, write them) and the plan after it, each next to the floor of
``bench_plan`` (the same pages from both sandboxes with a bare httpx client).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from bench import start_sandboxes
from bench.bench_plan import ORDRE_TOKEN, ZEDONK_TOKEN, floor, write_catalogue
from daemon.reconcile import load_tree, plan_only, reconcile
from daemon.reconcile.adopt import dump_showroom
from daemon.remotes import open_clients
from daemon.store.history import History
from daemon.tree.scaffold import Answers, repository_files, write_files
from daemon.tree.settings import load_settings


def main() -> None:
    proc, zedonk_url, ordre_url = start_sandboxes("--large", wait=300)
    os.environ["ZEDONK_TOKEN"], os.environ["ORDRE_TOKEN"] = ZEDONK_TOKEN, ORDRE_TOKEN
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source, target = Path(tmp) / "source", Path(tmp) / "target"
            source.mkdir()
            products = write_catalogue(source, zedonk_url, ordre_url)
            settings = load_settings(source)
            with History.open(settings.state_dir) as history:
                started = time.perf_counter()
                applied = reconcile(settings, history, trigger="bench")
            assert applied.result == "ok", applied.message
            print(
                f"set-up: {products} products in 200 looks applied ({applied.result}) "
                f"in {time.perf_counter() - started:.1f} s"
            )

            answers = Answers(zedonk_url, ordre_url, "AW26", "sophie")
            write_files(target, repository_files(answers, keep_catalogue=True))
            shutil.copy(source / "connector.yaml", target / "connector.yaml")  # same settings
            started = time.perf_counter()
            report = dump_showroom(load_settings(target))
            dumped = time.perf_counter() - started
            assert report.plan is not None and not report.plan.has_changes, report.plan
            assert not report.dump.left_out, report.dump.left_out

            settings, catalogue, findings = load_tree(target)
            started = time.perf_counter()
            with open_clients(settings) as (zedonk, ordre):
                result = plan_only(settings, catalogue, zedonk, ordre, findings=findings)
            planned = time.perf_counter() - started
            assert not result.plan.has_changes, result.plan.counts()

            started = time.perf_counter()
            floor(zedonk_url, ordre_url)
            base = time.perf_counter() - started
            print(
                f"dump: {dumped:.2f} s ({len(report.written)} files, {report.dump.looks} looks, "
                f"{report.dump.products} products)  plan after it: {planned:.2f} s, no changes  "
                f"floor: {base:.2f} s  ratios: {dumped / base:.2f}, {planned / base:.2f}"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
