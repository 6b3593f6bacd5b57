"""Deterministic seed data: the demo brand "Maison Lune", its US twin, and a large brand for
benchmarks.

Everything comes from one seeded RNG, so the same seed gives byte-identical data. The demo
brand has a handful of fixed products that the example catalogue refers to, and a few
deliberate flaws the connector has to cope with: a missing barcode (ML-102/WOOL/BLACK size 36),
a wrong check digit (one AW25 coat), a product without Image 1 (ML-610/LEATHER/BLACK), a zero
price, customers without account code or without addresses.

A Zedonk system issues one barcode type, EAN-13 or UPC-A (domain.md §5), so each brand uses
one: Maison Lune (``brand="demo"``) EAN-13, and "Maison Lune US" (``brand="us"``), the same
collection, ids, names and customers in a Zedonk that issues UPC-A.
"""

from __future__ import annotations

import random
from typing import Any

from daemon.sandbox.common import check_digit

SEASONS = [
    ("AW25", "Autumn Winter 25", "2025-02-01"),
    ("SS26", "Spring Summer 26", "2025-08-01"),
    ("AW26", "Autumn Winter 26", "2026-02-01"),
]
NUMERIC_SIZES = ["34", "36", "38", "40", "42"]
LETTER_SIZES = ["XS", "S", "M", "L", "XL"]
# category: (style series, size run, EUR wholesale range, fabrics, garment words)
CATEGORIES: dict[str, tuple[int, list[str], tuple[int, int], list[str], list[str]]] = {
    "Coats": (100, NUMERIC_SIZES, (260, 480), ["WOOL", "CASH", "ALPACA"],
              ["coat", "car coat", "overcoat", "trench", "cocoon coat"]),
    "Knitwear": (200, LETTER_SIZES, (90, 240), ["CASH", "MERINO", "WOOL"],
                 ["sweater", "cardigan", "turtleneck", "vest", "polo knit"]),
    "Dresses": (300, NUMERIC_SIZES, (140, 320), ["SILK", "VISC", "LINEN"],
                ["slip dress", "shirt dress", "midi dress", "wrap dress", "maxi dress"]),
    "Trousers": (400, NUMERIC_SIZES, (95, 190), ["WOOL", "COTTON", "LINEN"],
                 ["trouser", "wide-leg trouser", "cigarette pant", "culotte", "jogger"]),
    "Shirts": (500, LETTER_SIZES, (70, 150), ["COTTON", "SILK", "LINEN"],
               ["shirt", "overshirt", "blouse", "tunic", "camp shirt"]),
    "Accessories": (600, ["ONE SIZE"], (45, 260), ["LEATHER", "WOOL", "SILK"],
                    ["tote", "scarf", "belt", "clutch", "beanie"]),
}  # fmt: skip
ADJECTIVES = ["Relaxed", "Cropped", "Oversized", "Tailored", "Ribbed", "Belted", "Fluid",
              "Double-faced", "Brushed", "Pleated", "Boxy", "Fitted", "Draped"]  # fmt: skip
COLOURS = ["BLACK", "NAVY", "CAMEL", "ECRU", "GREY", "OAT", "IVORY", "CHARCOAL", "OLIVE",
           "RUST", "SAND", "BORDEAUX", "FOREST", "SKY", "WHITE", "CHOCOLATE"]  # fmt: skip
TEXTILES = {
    "WOOL": "100% wool", "CASH": "100% cashmere", "ALPACA": "70% alpaca, 30% wool",
    "MERINO": "100% merino wool", "SILK": "100% silk", "VISC": "100% viscose",
    "LINEN": "100% linen", "COTTON": "100% cotton", "LEATHER": "100% calf leather",
}  # fmt: skip
ORIGINS = ["IT", "PT", "FR", "RO", "GB", "LT", "CN", "IN"]

# The products the example catalogue refers to: id, category, description, sizes override.
FIXED_PRODUCTS = [
    ("ML-101/WOOL/NAVY", "Coats", "Double-faced wool coat"),
    ("ML-101/WOOL/CAMEL", "Coats", "Double-faced wool coat"),
    ("ML-102/WOOL/BLACK", "Coats", "Belted wrap coat"),
    ("ML-205/CASH/BLACK", "Knitwear", "Cashmere crew-neck"),
    ("ML-205/CASH/ECRU", "Knitwear", "Cashmere crew-neck"),
    ("ML-205/CASH/GREY", "Knitwear", "Cashmere crew-neck"),
    ("ML-230/CASH/GREY", "Knitwear", "Cashmere cardigan"),
    ("ML-230/CASH/OAT", "Knitwear", "Cashmere cardigan"),
    ("ML-310/SILK/IVORY", "Dresses", "Bias-cut silk slip dress"),
    ("ML-310/SILK/BLACK", "Dresses", "Bias-cut silk slip dress"),
    ("ML-420/WOOL/CHARCOAL", "Trousers", "Pleated wool trouser"),
    ("ML-510/COTTON/WHITE", "Shirts", "Poplin shirt"),
    ("ML-510/COTTON/BLUE", "Shirts", "Poplin shirt"),
    ("ML-610/LEATHER/BLACK", "Accessories", "Leather tote"),
]
BRANDS = {"demo": "Maison Lune", "us": "Maison Lune US"}  # the "us" brand issues UPC-A

# name, city, country, currency, street, postcode
BOUTIQUES = [
    ("Atelier Nord", "Copenhagen", "DK", "EUR", "Strandgade 12", "1401"),
    ("Maison Verte", "Paris", "FR", "EUR", "14 rue de Charonne", "75011"),
    ("The Shop at Bluebell", "London", "GB", "GBP", "22 Lamb's Conduit Street", "WC1N 3LE"),
    ("Hanway & Co", "Manchester", "GB", "GBP", "5 King Street", "M2 4LQ"),
    ("Forma Milano", "Milan", "IT", "EUR", "Via Solferino 18", "20121"),
    ("Casa Luz", "Madrid", "ES", "EUR", "Calle de Claudio Coello 34", "28001"),
    ("Studio Ostra", "Lisbon", "PT", "EUR", "Rua da Escola Politecnica 42", "1250-102"),
    ("Kaufhaus Lind", "Berlin", "DE", "EUR", "Torstrasse 101", "10119"),
    ("Lilla Butiken", "Stockholm", "SE", "EUR", "Nytorgsgatan 9", "116 40"),
    ("Het Magazijn", "Amsterdam", "NL", "EUR", "Haarlemmerstraat 88", "1013 EW"),
    ("Bergdahl Boutique", "Oslo", "NO", "EUR", "Thereses gate 24", "0168"),
    ("Quinn & Wren", "New York", "US", "USD", "180 Mulberry Street", "10012"),
    ("Marigold Supply", "Los Angeles", "US", "USD", "8440 Melrose Place", "90069"),
    ("Olive Street Store", "Chicago", "US", "USD", "1435 N Wells Street", "60610"),
    ("Harbour Lane", "Sydney", "AU", "USD", "51 William Street", "2021"),
    ("Kinsei", "Tokyo", "JP", "USD", "5-2-1 Jingumae", "150-0001"),
    ("Seoul Atelier", "Seoul", "KR", "USD", "45 Dosan-daero", "06021"),
    ("Boutique Anouk", "Brussels", "BE", "EUR", "Rue Antoine Dansaert 58", "1000"),
    ("Zurich Loft", "Zurich", "CH", "EUR", "Rennweg 30", "8001"),
    ("Galerie Sixtine", "Lyon", "FR", "EUR", "9 rue Auguste Comte", "69002"),
    ("Linnea Concept", "Helsinki", "FI", "EUR", "Fredrikinkatu 36", "00100"),
    ("Dovetail", "Dublin", "IE", "EUR", "17 Drury Street", "D02 W017"),
    ("Merchant House", "Edinburgh", "GB", "GBP", "61 Thistle Street", "EH2 1DY"),
    ("Piazza Nove", "Florence", "IT", "EUR", "Via della Vigna Nuova 9", "50123"),
    ("Kvarter", "Aarhus", "DK", "EUR", "Jaegergardsgade 20", "8000"),
    ("The Linen Room", "Bath", "GB", "GBP", "8 Margaret's Buildings", "BA1 2LP"),
    ("Sable & Stone", "Toronto", "CA", "USD", "1040 Queen Street West", "M6J 1H7"),
    ("Almond Tree", "Vienna", "AT", "EUR", "Neubaugasse 12", "1070"),
    ("Rosa Negra", "Barcelona", "ES", "EUR", "Carrer del Rec 61", "08003"),
    ("Haus Edel", "Munich", "DE", "EUR", "Maximilianstrasse 21", "80539"),
]
NO_ACCOUNT_CODE = {"Rosa Negra", "Haus Edel", "Dovetail"}
INACTIVE = {"Almond Tree", "Sable & Stone", "Kaufhaus Lind"}
NO_DELIVERY = {"Kinsei", "Piazza Nove", "Boutique Anouk"}
NO_ACCOUNTS = {"Kvarter", "The Linen Room", "Harbour Lane", "Linnea Concept"}
FIRST_NAMES = ["Ingrid", "Camille", "Olivia", "James", "Giulia", "Lucia", "Ines", "Jonas",
               "Astrid", "Daan", "Kari", "Maya", "Ava", "Noah", "Emma", "Yuki"]  # fmt: skip
SURNAMES = ["Berg", "Laurent", "Hughes", "Carter", "Rossi", "Garcia", "Silva", "Weber",
            "Lind", "de Vries", "Hansen", "Cohen", "Brooks", "Tanaka", "Kim", "Dubois"]  # fmt: skip
USERS = [
    ("sophie", "Sophie Marchand", True),
    ("marc", "Marc Delacroix", True),
    ("intern", "Intern Account", False),
]

DEMO_PRODUCT_TARGET = 96
LARGE_PRODUCTS = 20_000
LARGE_CUSTOMERS = 2_000
IMAGE_BASE = "https://images.maisonlune.example"


def ean13(n: int) -> str:
    body = f"5061234{n:05d}" if n < 100_000 else f"506{n:09d}"
    return body + str(check_digit(body))


def upc_a(n: int) -> str:
    body = f"8{n:010d}"
    return body + str(check_digit(body))


def money(value: float) -> str:
    return f"{value:.2f}"


class _Brand:
    """Builds one brand; the RNG is consumed in a fixed order, so output is deterministic."""

    def __init__(self, seed: int, brand: str = "demo") -> None:
        if brand not in BRANDS:
            raise ValueError(f"no brand {brand!r}; the brands are {', '.join(BRANDS)}")
        self.upc = brand == "us"  # the barcode type of the whole system
        self.rng = random.Random(seed)
        self.barcode_no = 0
        self.products: dict[str, dict[str, Any]] = {}
        self.style_no = dict.fromkeys(CATEGORIES, 0)
        self.taken = {pid.split("/")[0] for pid, _, _ in FIXED_PRODUCTS}

    def next_style(self, category: str) -> str:
        series = CATEGORIES[category][0]
        while True:
            self.style_no[category] += 1
            n = self.style_no[category]
            style = f"ML-{series + n}" if n < 100 else f"ML-{series // 100}{n:04d}"
            if style not in self.taken:
                self.taken.add(style)
                return style

    def product(
        self,
        pid: str,
        category: str,
        description: str,
        seasons: list[str],
        *,
        base_wsp: float | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        style, fabric, colour = pid.split("/")
        _, sizes, (lo, hi), _, _ = CATEGORIES[category]
        skus = []
        for size in sizes:
            self.barcode_no += 1
            skus.append(
                {
                    "size": size,
                    "barcode": upc_a(self.barcode_no) if self.upc else ean13(self.barcode_no),
                }
            )
        wsp = base_wsp if base_wsp is not None else float(rng.randrange(lo, hi, 5))
        prices = []
        for i, season in enumerate(sorted(seasons, key=_season_order)):
            season_wsp = round(wsp * (1 + 0.05 * i))  # carried-over styles get dearer
            for currency, rate in (("EUR", 1.0), ("GBP", 0.87), ("USD", 1.1)):
                w = round(season_wsp * rate)
                prices.append({"season": season, "currency": currency, "wsp": money(w),
                               "rrp": money(round(w * 2.6 / 5) * 5)})  # fmt: skip
        product = {
            "id": pid,
            "style": style,
            "fabric": fabric,
            "colour": colour,
            "description": description,
            "category": category,
            "seasons": sorted(seasons, key=_season_order),
            "skus": skus,
            "prices": prices,
            "image_1": f"{IMAGE_BASE}/{style}-{fabric}-{colour}-1.jpg",
            "textile_content": TEXTILES[fabric],
            "country_of_origin": rng.choice(ORIGINS),
            "active": True,
            "updated_at": "2026-01-15T09:00:00.000Z",
        }
        self.products[pid] = product
        return product

    def generated_style(self, season: str, category: str, limit: int) -> list[dict[str, Any]]:
        rng = self.rng
        style = self.next_style(category)
        fabric = rng.choice(CATEGORIES[category][3])
        description = f"{rng.choice(ADJECTIVES)} {rng.choice(CATEGORIES[category][4])}"
        seasons = [season]
        if season == "AW26" and rng.random() < 0.2:
            seasons.append("AW25")  # a carry-over style, priced in both seasons
        rng.random()  # kept, so every brand draws the same products from one seed
        wsp = float(rng.randrange(*CATEGORIES[category][2], 5))
        colours = rng.sample(COLOURS, rng.randint(1, 3))[:limit]
        made = []
        for colour in colours:
            pid = f"{style}/{fabric}/{colour}"
            made.append(self.product(pid, category, description, seasons, base_wsp=wsp))
        return made


def _season_order(code: str) -> str:
    return next(start for c, _, start in SEASONS if c == code)


def zedonk_tables(
    seed: int, large: bool = False, brand_name: str = "demo"
) -> tuple[dict[str, Any], dict[str, int]]:
    """Every Zedonk table, seeded; and the id counters that continue after the seed.
    ``brand_name``: "demo" (EAN-13) or "us" (the same brand issuing UPC-A)."""
    brand = _Brand(seed, brand_name)
    for pid, category, description in FIXED_PRODUCTS:
        brand.product(pid, category, description, ["AW26"])
    target = LARGE_PRODUCTS if large else DEMO_PRODUCT_TARGET
    generated: dict[str, list[dict[str, Any]]] = {code: [] for code, _, _ in SEASONS}
    while len(brand.products) < target:
        for code, _, _ in SEASONS:
            for category in CATEGORIES:
                room = target - len(brand.products)
                if room > 0:
                    generated[code] += brand.generated_style(code, category, room)
    _add_flaws(brand, generated, large)
    customers, address_no = _customers(brand.rng, large)
    tables: dict[str, Any] = {
        "seasons": {c: {"code": c, "name": n, "starts_on": s} for c, n, s in SEASONS},
        "categories": {c: {"name": c} for c in CATEGORIES},
        "users": {
            u: {"username": u, "name": n, "email": f"{u}@maisonlune.example", "active": a}
            for u, n, a in USERS
        },
        "products": brand.products,
        "customers": customers,
        "sales_orders": {},
    }
    counters = {"customer": len(customers), "address": address_no, "sales_order": 1000}
    return tables, counters


def _add_flaws(brand: _Brand, generated: dict[str, list[dict[str, Any]]], large: bool) -> None:
    products = brand.products
    products["ML-102/WOOL/BLACK"]["skus"][1]["barcode"] = None  # size 36
    products["ML-610/LEATHER/BLACK"]["image_1"] = None
    aw25_coat = next(p for p in generated["AW25"] if p["category"] == "Coats")
    _break_check_digit(aw25_coat["skus"][2])
    ss26_shirt = next(p for p in generated["SS26"] if p["category"] == "Shirts")
    for price in ss26_shirt["prices"]:
        if price["currency"] == "USD":
            price["wsp"] = price["rrp"] = "0.00"
    ss26_dress = next(p for p in generated["SS26"] if p["category"] == "Dresses")
    ss26_dress["skus"][-1]["barcode"] = None
    ss26_dress["image_1"] = None
    inactive = next(p for p in generated["AW25"] if p["category"] == "Trousers")
    inactive["active"] = False
    if large:  # sprinkle the same flaws through the big catalogue
        rng = brand.rng
        fixed_styles = {pid.split("/")[0] for pid, _, _ in FIXED_PRODUCTS}
        for product in products.values():
            if product["style"] in fixed_styles:
                continue
            roll = rng.random()
            if roll < 0.01:
                product["skus"][0]["barcode"] = None
            elif roll < 0.015:
                _break_check_digit(product["skus"][-1])
            elif roll < 0.04:
                product["image_1"] = None
            elif roll < 0.05:
                product["active"] = False


def _break_check_digit(sku: dict[str, Any]) -> None:
    code = sku["barcode"]
    sku["barcode"] = code[:-1] + str((int(code[-1]) + 1) % 10)


def _customers(rng: random.Random, large: bool) -> tuple[dict[str, Any], int]:
    rows = list(BOUTIQUES)
    if large:
        cities = [(b[1], b[2], b[3], b[4], b[5]) for b in BOUTIQUES]
        words = ["Atelier", "Studio", "Maison", "Casa", "House", "Store", "Room", "Edit"]
        n = 0
        while len(rows) < LARGE_CUSTOMERS:
            n += 1
            city, country, currency, street, postcode = rng.choice(cities)
            rows.append((f"{rng.choice(words)} {rng.choice(SURNAMES)} {n}", city, country,
                         currency, street, postcode))  # fmt: skip
    customers: dict[str, Any] = {}
    address_no = 0
    for i, (name, city, country, currency, street, postcode) in enumerate(rows, start=1):
        cid = f"C{i:05d}"
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        domain = "".join(ch for ch in name.lower() if ch.isalnum()) + ".example"
        words = name.replace("&", "").split()
        code = ("".join(w[0] for w in words) + words[0][1:])[:3].upper()
        code = f"{code}{i:03d}" if i < 1000 else f"{code}{i:05d}"
        kinds = ["store"]
        if name not in NO_DELIVERY and (not large or rng.random() > 0.05):
            kinds.append("delivery")
        if name not in NO_ACCOUNTS and (not large or rng.random() > 0.05):
            kinds.append("accounts")
        addresses = []
        for kind in kinds:
            address_no += 1
            line1 = street if kind != "accounts" else f"Accounts dept, {street}"
            addresses.append({
                "id": f"A{address_no:05d}", "kind": kind, "company": name,
                "line1": line1, "line2": "", "city": city, "region": "", "postcode": postcode,
                "country": country, "is_default": True,
            })  # fmt: skip
        no_code = name in NO_ACCOUNT_CODE or (large and rng.random() < 0.03)
        inactive = name in INACTIVE or (large and rng.random() < 0.03)
        customers[cid] = {
            "id": cid,
            "name": name,
            "account_code": None if no_code else code,
            "active": not inactive,
            "currency": currency,
            "contact_name": f"{first} {last}",
            "contact_email": None if i % 11 == 0 else f"buying@{domain}",
            "addresses": addresses,
            "created_at": "2025-01-10T09:00:00.000Z",
            "updated_at": "2025-01-10T09:00:00.000Z",
        }
    return customers, address_no


# --------------------------------------------------------------------------- ORDRE


def ordre_tables(
    seed: int, large: bool = False, populated: bool = False, brand_name: str = "demo"
) -> tuple[dict[str, Any], dict[str, int]]:
    """ORDRE starts empty; ``populated`` publishes the AW26 demo catalogue and the retailers
    of ``brand_name``."""
    tables: dict[str, Any] = {
        name: {}
        for name in ("collections", "looks", "listings", "customers", "orders", "idempotency")
    }
    counters: dict[str, int] = {"order_number": 10000}
    if not populated:
        return tables, counters
    zedonk, _ = zedonk_tables(seed, large, brand_name)
    stamp = "2026-01-20T09:00:00.000Z"
    meta = {"version": 1, "created_at": stamp, "updated_at": stamp}
    tables["collections"]["col_000001"] = {
        "id": "col_000001", "name": "Autumn Winter 26", "position": 1, "description": "", **meta,
    }  # fmt: skip
    counters["collection"] = 1
    by_category: dict[str, list[str]] = {}
    for pid, product in sorted(zedonk["products"].items()):
        listing = _listing(product)
        if listing is None:
            continue
        tables["listings"][pid] = {**listing, **meta}
        by_category.setdefault(product["category"], []).append(pid)
    for position, category in enumerate(CATEGORIES, start=1):
        look_id = f"look_{position:06d}"
        tables["looks"][look_id] = {
            "id": look_id, "collection_id": "col_000001", "name": f"Look {position} - {category}",
            "position": position, "product_keys": by_category.get(category, [])[:12], **meta,
        }  # fmt: skip
    counters["look"] = len(CATEGORIES)
    for customer in zedonk["customers"].values():
        if not customer["active"] or not customer["account_code"]:
            continue
        by_kind = {a["kind"]: a for a in customer["addresses"]}
        store = by_kind.get("store")
        tables["customers"][customer["account_code"]] = {
            "account_code": customer["account_code"],
            "name": customer["name"],
            "currency": customer["currency"],
            "delivery_address": _ordre_address(by_kind.get("delivery", store)),
            "accounts_address": _ordre_address(by_kind.get("accounts", store)),
            "contact_name": customer["contact_name"],
            "contact_email": customer["contact_email"],
            **meta,
        }
    return tables, counters


def _listing(product: dict[str, Any]) -> dict[str, Any] | None:
    if "AW26" not in product["seasons"] or not product["active"] or not product["image_1"]:
        return None
    sizes = []
    for sku in product["skus"]:
        code = sku["barcode"]
        if code and code.isdigit() and check_digit(code[:-1]) == int(code[-1]):
            sizes.append({"size": sku["size"], "gtin": code.zfill(14)})
    if not sizes:
        return None
    prices = [
        {"currency": p["currency"], "wsp": p["wsp"], "rrp": p["rrp"]}
        for p in product["prices"]
        if p["season"] == "AW26"
    ]
    return {
        "key": product["id"],
        "style": product["style"],
        "fabric": product["fabric"],
        "colour": product["colour"],
        "description": product["description"],
        "category": product["category"],
        "sizes": sizes,
        "prices": prices,
        "image_url": product["image_1"],
    }


def _ordre_address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if address is None:
        return None
    fields = ("company", "line1", "line2", "city", "region", "postcode", "country")
    return {name: address[name] for name in fields}
