"""Write the sample district (``district.yaml``) and business registry (``registry.csv``).

Run ``python -m config.samples.generate [--out DIR]``. The output is a pure function of ``SEED``: a
seeded ``random.Random``, no clock, no network, so the committed files can be checked by regenerating
them. The shape follows the Yantian (Shenzhen) smart-supervision project: one district command center,
4 street platforms, 20 mobile enforcement terminals, 255 restaurant kitchen cameras, 4 food-testing
rooms and 4 testing vehicles. Boundaries, names and numbers are invented; only the shape is real.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from config.district import District
from inspection.gps.geo import Point, point_in_polygon, random_point_in_polygon

SEED = 20240308
DISTRICT_CODE = "440308"  # the administrative division code of Yantian, part of every licence number
CAMERA_URL = "rtsp://viewer:sample-pass@127.0.0.1:8554/cam{}"  # the camera simulator's paths
DISTRICT_YAML = "district.yaml"
REGISTRY_CSV = "registry.csv"
OTHER_BUSINESSES = 45


@dataclass(frozen=True)
class _StreetSpec:
    id: str
    name: str
    name_zh: str
    restaurants: int
    roads: tuple[str, ...]
    # Hand-drawn approximations from south-west to east along the coast, clockwise from the south-west
    # corner. Neighbours keep a few hundred metres apart so no point can sit on two streets' boundary.
    polygon: tuple[Point, ...]


# fmt: off
# Data tables are laid out by hand so a vertex list reads as a ring, not one number per line.
STREETS = (
    _StreetSpec(
        "shatoujiao", "Shatoujiao", "沙头角", 78,
        ("Shenyan Road", "Zhongying Street", "Shashen Road", "Haijing Road", "Hongmian Road"),
        ((22.5440, 114.2140), (22.5525, 114.2125), (22.5610, 114.2150), (22.5690, 114.2195),
         (22.5720, 114.2270), (22.5665, 114.2335), (22.5600, 114.2375), (22.5540, 114.2395),
         (22.5485, 114.2360), (22.5448, 114.2290), (22.5432, 114.2210)),
    ),
    _StreetSpec(
        "haishan", "Haishan", "海山", 64,
        ("Haishan Road", "Yantian Road", "Beishan Road", "Haigang Road", "Tianxin Road"),
        ((22.5500, 114.2440), (22.5570, 114.2430), (22.5635, 114.2385), (22.5700, 114.2320),
         (22.5760, 114.2365), (22.5745, 114.2470), (22.5700, 114.2560), (22.5640, 114.2620),
         (22.5575, 114.2640), (22.5520, 114.2590), (22.5490, 114.2510)),
    ),
    _StreetSpec(
        "yantian", "Yantian", "盐田", 62,
        ("Mingzhu Avenue", "Yantian Port Road", "Hongan Road", "Yongan Road", "Gangcheng Road"),
        ((22.5600, 114.2665), (22.5665, 114.2645), (22.5725, 114.2590), (22.5775, 114.2510),
         (22.5830, 114.2545), (22.5890, 114.2600), (22.5950, 114.2680), (22.5930, 114.2770),
         (22.5880, 114.2850), (22.5800, 114.2880), (22.5720, 114.2850), (22.5650, 114.2780),
         (22.5605, 114.2720)),
    ),
    _StreetSpec(
        "meisha", "Meisha", "梅沙", 51,
        ("Yanmei Road", "Dameisha Avenue", "Xiaomeisha Road", "Donghai Road", "Sihai Road"),
        ((22.5860, 114.2905), (22.5925, 114.2860), (22.5985, 114.2790), (22.6040, 114.2830),
         (22.6080, 114.2920), (22.6095, 114.3020), (22.6070, 114.3120), (22.6020, 114.3180),
         (22.5960, 114.3150), (22.5915, 114.3060), (22.5870, 114.2990)),
    ),
)

_PREFIXES = (
    "Golden Harbour", "Sea Breeze", "Old Street", "Lucky Star", "Jade Garden", "Red Lantern", "Harbour View",
    "Morning Tide", "Pearl Bay", "Double Happiness", "Bamboo Grove", "Wutong Hill", "Fisherman's", "Lotus",
    "Silver Sands", "East Coast", "Sunrise", "Phoenix", "Ocean Pearl", "Plum Blossom", "Big Banyan",
    "Blue Sail", "Port Side", "Evergreen",
)
_CUISINES = (
    "Chaozhou", "Hakka", "Cantonese", "Seafood", "Noodle", "Dim Sum", "Hotpot", "Beef Hotpot", "Sichuan",
    "Hunan", "Claypot Rice", "Roast Goose", "Congee", "Dumpling", "Rice Noodle", "BBQ",
)
_VENUES = ("Restaurant", "Kitchen", "House", "Eatery", "Diner", "Dining Hall")
_SURNAMES = ("Chen", "Lin", "Huang", "Zhang", "Li", "Wang", "Wu", "Liu", "Cai", "Zheng", "Yang", "Xu", "He",
             "Luo", "Ye", "Zhou")
_GIVEN = ("Wei", "Min", "Jie", "Na", "Hui", "Tao", "Jun", "Yan", "Lei", "Ping", "Xin", "Qiang", "Ying",
          "Hao", "Li", "Bo")
_CANTEEN_ORGS = (
    "Primary School", "Experimental School", "Kindergarten", "Elderly Care Home", "Community Health Centre",
    "Street Office Staff", "Logistics Park Staff", "Seafront Hotel Staff",
)
# Other licensed food businesses that appear in the registry but have no kitchen camera.
_OTHER_KINDS = (
    ("food_shop", "Dried Seafood Shop", 10), ("market_stall", "Wet Market Stall", 12),
    ("supermarket", "Supermarket", 6), ("bakery", "Bakery", 7), ("tea_shop", "Milk Tea", 6),
    ("convenience_store", "Convenience Store", 4),
)
_PREP_ZONES = ("prep counter", "wok station", "cold dish room", "washing area")
_EXCLUDE_ZONES = ("window", "tv screen", "street door")
# fmt: on


@dataclass(frozen=True)
class _Business:
    licence_no: str
    name: str
    address: str
    kind: str
    street: str
    lat: float
    lon: float


class _Generator:
    """One pass over a seeded RNG; every draw happens in a fixed order so the output never changes."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        # Serial numbers are drawn once for every business so licence numbers are unique by construction.
        self._serials = iter(self.rng.sample(range(1, 1_000_000), 255 + OTHER_BUSINESSES))
        self._names: set[str] = set()

    def licence_no(self, category: int) -> str:
        """``JY`` + category (1 sales, 2 catering, 3 canteen) + division code + serial + check digit."""
        digits = f"{category}{DISTRICT_CODE}{next(self._serials):06d}"
        return f"JY{digits}{_luhn(digits)}"

    def point(self, street: _StreetSpec) -> Point:
        # Re-check after rounding: a point rounded onto the far side of an edge would fail the tests.
        while True:
            lat, lon = random_point_in_polygon(self.rng, street.polygon)
            lat, lon = round(lat, 6), round(lon, 6)
            if point_in_polygon(lat, lon, street.polygon):
                return lat, lon

    def address(self, street: _StreetSpec) -> str:
        road = self.rng.choice(street.roads)
        number = self.rng.randint(1, 388)
        shop = f"Shop {self.rng.randint(1, 24)}, " if self.rng.random() < 0.3 else ""
        return f"{shop}No. {number} {road}, {street.name} Street, Yantian District"

    def unique_name(self, make: Sequence[Sequence[str]]) -> str:
        # Draw until unused so the list stays readable on the wall; the name space is far larger than 300.
        while True:
            name = " ".join(self.rng.choice(words) for words in make)
            if name not in self._names:
                self._names.add(name)
                return name

    def restaurant_name(self) -> str:
        if self.rng.random() < 0.25:
            return self.unique_name([[f"{s}'s" for s in _SURNAMES], _CUISINES, _VENUES])
        return self.unique_name([_PREFIXES, _CUISINES, _VENUES])

    def restaurants(self) -> list[_Business]:
        out: list[_Business] = []
        for street in STREETS:
            canteens = set(self.rng.sample(range(street.restaurants), round(street.restaurants * 0.08)))
            orgs = iter(self.rng.sample(_CANTEEN_ORGS, len(canteens)))
            for i in range(street.restaurants):
                if i in canteens:
                    kind, name = "canteen", f"{street.name} {next(orgs)} Canteen"
                else:
                    kind, name = "restaurant", self.restaurant_name()
                lat, lon = self.point(street)
                licence = self.licence_no(3 if kind == "canteen" else 2)
                out.append(_Business(licence, name, self.address(street), kind, street.id, lat, lon))
        return out

    def others(self) -> list[_Business]:
        kinds = [(kind, label) for kind, label, count in _OTHER_KINDS for _ in range(count)]
        assert len(kinds) == OTHER_BUSINESSES
        weights = [s.restaurants for s in STREETS]
        out: list[_Business] = []
        for kind, label in kinds:
            street = self.rng.choices(STREETS, weights=weights)[0]
            if kind == "market_stall":
                name = f"{street.name} Wet Market Stall {self.rng.choice('ABCD')}{self.rng.randint(1, 40)}"
            else:
                name = f"{self.rng.choice(_PREFIXES)} {label}"
            lat, lon = self.point(street)
            out.append(_Business(self.licence_no(1), name, self.address(street), kind, street.id, lat, lon))
        return out

    def public_ids(self, n: int) -> list[str]:
        alphabet = string.ascii_lowercase + string.digits
        seen: set[str] = set()
        out: list[str] = []
        while len(out) < n:
            pid = "".join(self.rng.choices(alphabet, k=10))
            if pid not in seen:
                seen.add(pid)
                out.append(pid)
        return out

    def zones(self) -> list[tuple[str, str, list[Point]]]:
        """A prep zone on about a quarter of kitchens, half of those with an excluded window or TV."""
        if self.rng.random() >= 0.25:
            return []
        r = self.rng.uniform
        x0, x1, y0 = r(0.05, 0.3), r(0.6, 0.9), r(0.35, 0.55)
        prep = [(x0, y0), (x1, y0 + r(-0.05, 0.05)), (min(x1 + 0.05, 1.0), 0.95), (max(x0 - 0.05, 0.0), 0.95)]
        zones = [(self.rng.choice(_PREP_ZONES), "prep", prep)]
        if self.rng.random() < 0.5:
            ex, ey, w, h = r(0.05, 0.7), r(0.02, 0.1), r(0.12, 0.25), r(0.1, 0.2)
            rect = [(ex, ey), (ex + w, ey), (ex + w, ey + h), (ex, ey + h)]
            zones.append((self.rng.choice(_EXCLUDE_ZONES), "exclude", rect))
        return zones

    def inspector_names(self) -> list[str]:
        combos = [f"{s} {g}" for s in _SURNAMES for g in _GIVEN]
        return self.rng.sample(combos, 20)


def _luhn(digits: str) -> int:
    """Luhn check digit, so a mistyped licence number is usually detectable (illustrative only)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def _s(value: str) -> str:
    """A YAML scalar: plain when it reads back unchanged, else double-quoted (JSON strings are YAML)."""
    if value and value.strip() == value and yaml.safe_load(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _pt(point: Point, digits: int) -> str:
    return f"[{point[0]:.{digits}f}, {point[1]:.{digits}f}]"


def _item(fields: Sequence[tuple[str, str]], indent: str = "  ") -> list[str]:
    """A block-sequence item with one ``key: value`` line per field."""
    # An empty value opens a nested block on the following lines; no trailing space for it.
    return [
        f"{indent}{'- ' if i == 0 else '  '}{key}:{' ' if value else ''}{value}"
        for i, (key, value) in enumerate(fields)
    ]


def generate(seed: int = SEED) -> dict[str, str]:
    """The sample files as ``{file name: text}``, validated against the district model before return."""
    gen = _Generator(seed)
    restaurants = gen.restaurants()
    public_ids = gen.public_ids(len(restaurants))
    zones = [gen.zones() for _ in restaurants]
    others = gen.others()
    inspector_names = gen.inspector_names()
    inspectors = [(f"insp-{n:02d}", inspector_names[n - 1], STREETS[(n - 1) // 5]) for n in range(1, 21)]

    out = [
        "# Sample district: a Yantian-like district (Shenzhen) with invented data. GENERATED by",
        f"# `python -m config.samples.generate` (seed {seed}); edit the generator, not this file.",
        "# Coordinates are WGS84 [lat, lon]; camera zones are [x, y] in [0, 1] image coordinates.",
        "",
        "name: Yantian District (sample)",
        "timezone: Asia/Shanghai",
        "",
        "streets:",
    ]
    for st in STREETS:
        out += _item([("id", st.id), ("name", _s(st.name)), ("name_zh", _s(st.name_zh)), ("polygon", "")])
        out += [f"      - {_pt(p, 4)}" for p in st.polygon]

    blocks, first = [], 1
    for st in STREETS:
        blocks.append(f"r{first:03d}-r{first + st.restaurants - 1:03d} {st.id}")
        first += st.restaurants
    out += ["", f"# {len(restaurants)} restaurants: " + ", ".join(blocks), "restaurants:"]
    for i, (biz, pid) in enumerate(zip(restaurants, public_ids, strict=True), start=1):
        out += _item(
            [
                ("id", f"r{i:03d}"),
                ("licence_no", biz.licence_no),
                ("name", _s(biz.name)),
                ("address", _s(biz.address)),
                ("kind", biz.kind),
                ("street", biz.street),
                ("lat", f"{biz.lat:.6f}"),
                ("lon", f"{biz.lon:.6f}"),
                ("public_id", pid),
            ]
        )

    # Camera numbers follow the simulator's stream paths: kitchens first, then labs, vehicles, terminals.
    cameras: list[tuple[str, str, str, float, list[tuple[str, str, list[Point]]]]] = [
        (f"cam-r{i:03d}", "restaurant", f"r{i:03d}", 2.0, z) for i, z in enumerate(zones, start=1)
    ]
    cameras += [(f"cam-lab-room-{n}", "lab", f"lab-room-{n}", 2.0, []) for n in range(1, 5)]
    cameras += [(f"cam-veh-{n:02d}", "vehicle", f"veh-{n:02d}", 5.0, []) for n in range(1, 5)]
    cameras += [(f"cam-{iid}", "terminal", iid, 5.0, []) for iid, _, _ in inspectors]
    out += [
        "",
        f"# {len(restaurants)} kitchen cameras, 4 lab rooms, 4 test vehicles, 20 enforcement terminals",
    ]
    out += ["cameras:"]
    for k, (cid, owner_kind, owner_id, interval, cam_zones) in enumerate(cameras):
        fields = [
            ("id", cid),
            ("owner", f"{{kind: {owner_kind}, id: {owner_id}}}"),
            ("url", _s(CAMERA_URL.format(k))),
            ("analysis_interval_s", f"{interval:.1f}"),
        ]
        out += _item(fields + ([("zones", "")] if cam_zones else []))
        for name, kind, poly in cam_zones:
            pts = ", ".join(_pt(p, 2) for p in poly)
            out += _item([("name", _s(name)), ("kind", kind), ("polygon", f"[{pts}]")], indent="      ")

    out += ["", "labs:"]
    for n, st in enumerate(STREETS, start=1):
        name = _s(f"{st.name} food testing room")
        out += _item([("id", f"lab-room-{n}"), ("name", name), ("kind", "room"), ("street", st.id)])
    for n in range(1, 5):
        name = _s(f"Mobile testing lab {n}")
        out += _item(
            [("id", f"lab-vehicle-{n}"), ("name", name), ("kind", "vehicle"), ("vehicle", f"veh-{n:02d}")]
        )

    out += ["", "vehicles:"]
    for n in range(1, 5):
        vid = f"veh-{n:02d}"
        out += _item([("id", vid), ("name", _s(f"Food testing vehicle {n}")), ("device_id", vid)])

    out += ["", "# 20 inspectors with mobile enforcement terminals, 5 per street", "inspectors:"]
    for iid, name, st in inspectors:
        out += _item([("id", iid), ("name", _s(name)), ("street", st.id), ("device_id", iid)])

    out += ["", "# Passwords are not kept here: `mscc user add` or the demo sets them.", "users:"]
    out += _item([("username", "admin"), ("role", "district_admin")])
    out += _item([("username", "wall"), ("role", "wall_display")])
    for st in STREETS:
        out += _item([("username", f"sup-{st.id}"), ("role", "street_supervisor"), ("street", st.id)])
    for iid, _, st in inspectors:
        out += _item([("username", iid), ("role", "inspector"), ("street", st.id), ("inspector", iid)])
    district_yaml = "\n".join(out) + "\n"

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["licence_no", "name", "address", "type", "street", "lat", "lon"])
    # Sorted by licence number, as a registry export would be, so restaurants and shops interleave.
    for biz in sorted(restaurants + others, key=lambda b: b.licence_no):
        lat, lon = f"{biz.lat:.6f}", f"{biz.lon:.6f}"
        writer.writerow([biz.licence_no, biz.name, biz.address, biz.kind, biz.street, lat, lon])

    # Refuse to write a sample the loader would reject.
    District.model_validate(yaml.safe_load(district_yaml))
    return {DISTRICT_YAML: district_yaml, REGISTRY_CSV: buf.getvalue()}


def write(out_dir: Path, seed: int = SEED) -> list[Path]:
    """Generate and write the sample files into ``out_dir``; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in generate(seed).items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8", newline="\n")
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m config.samples.generate [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="output folder")
    args = parser.parse_args(argv)
    for path in write(args.out):
        print(path)


if __name__ == "__main__":
    main()
