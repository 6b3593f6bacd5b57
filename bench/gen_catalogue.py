"""Write a large catalogue repository: 20,000 products in 200 looks across 40 files.

    python -m bench.gen_catalogue DIR [--products N --looks N --files N]

Most products are written as ids; every tenth look also lists a style with colours and a
selector, so every part of the format is exercised. The result is valid.
"""

from __future__ import annotations

import argparse
from pathlib import Path

CONNECTOR = """\
# yaml-language-server: $schema=schemas/connector.schema.json
version: 1
zedonk:
  url: http://127.0.0.1:8101
  token: {env: ZEDONK_TOKEN}
ordre:
  url: http://127.0.0.1:8102
  token: {env: ORDRE_TOKEN}
import:
  season: AW26
  order_owner: sophie
prices:
  seasons: [AW25, SS26, AW26]
"""

COLOURS = ("BLACK", "NAVY", "ECRU", "GREY", "OAT", "CAMEL", "IVORY", "CHARCOAL", "WHITE", "BLUE")


def generate(root: Path, products: int = 20_000, looks: int = 200, files: int = 40) -> Path:
    """Write connector.yaml and catalogue/ under ``root``; returns ``root``."""
    catalogue = root / "catalogue"
    catalogue.mkdir(parents=True, exist_ok=True)
    (root / "connector.yaml").write_text(CONNECTOR)
    per_look = products // looks
    looks_per_file = looks // files
    look_no = 0
    for file_no in range(files):
        lines = [
            "# yaml-language-server: $schema=../schemas/catalogue.schema.json",
            f"collection: Collection {file_no:03d}",
            f"description: Generated collection number {file_no}",
            f"order: {file_no}",
            "looks:",
        ]
        for _ in range(looks_per_file):
            lines += [f"  - name: Look {look_no:04d}", "    products:"]
            count = per_look
            if look_no % 10 == 0:  # a style with colours and a selector, too
                lines += [
                    f"      - style: ST-{look_no:04d}",
                    "        fabric: WOOL",
                    f"        colours: [{', '.join(COLOURS)}]",
                ]
                count -= len(COLOURS)
            for i in range(count):
                lines.append(f"      - S{look_no:04d}-{i:03d}/COTTON/{COLOURS[i % len(COLOURS)]}")
            if look_no % 10 == 0:
                lines += [
                    "    select:",
                    f"      - season: AW26\n        category: Category {look_no}",
                    f"        exclude: [X-{look_no}/WOOL/RED]",
                ]
            look_no += 1
        (catalogue / f"collection-{file_no:03d}.yaml").write_text("\n".join(lines) + "\n")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--looks", type=int, default=200)
    parser.add_argument("--files", type=int, default=40)
    args = parser.parse_args()
    generate(args.dir, args.products, args.looks, args.files)
    print(f"wrote {args.products} products in {args.looks} looks across {args.files} files")


if __name__ == "__main__":
    main()
