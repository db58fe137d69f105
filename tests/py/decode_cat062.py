#!/usr/bin/env python3
"""Independent CAT062 decoder for the tews tests: libasterix (pure Python,
generated from the asterix-specs definitions) decodes a file of CAT062 data
blocks as edition 1.21 and prints one JSON object per record, as a JSON
list on stdout.

Usage: decode_cat062.py FILE

Values are physical quantities as libasterix converts them (degrees,
seconds, m/s, ft, ft/min, m); absent items and subfields are null. "items"
lists every item present and "i500" every I062/500 subfield present, so the
test can check that nothing else was sent.
"""

import json
import sys

from asterix.base import Bits, RawDatablock
import asterix.generated as gen

Cat062 = gen.Cat_062_1_21

STATUS_BITS = [
    "MON", "SPI", "MRH", "SRC", "CNF",
    "SIM", "TSE", "TSB", "FPC", "AFF", "STP", "KOS",
    "AMA", "MD4", "ME", "MI", "MD5",
    "CST", "PSR", "SSR", "MDS", "ADS", "SUC", "AAC",
    "SDS", "EMS", "PFT", "FPLT",
    "DUPT", "DUPF", "DUPM", "SFC", "IDD", "IEC", "MLAT",
    "M5I",
]


def fail(msg):
    print(f"decode_cat062.py: {msg}", file=sys.stderr)
    sys.exit(1)


def sub(item, name):
    """Subitem `name` of a group/extended/compound item, or None."""
    if item is None:
        return None
    return item.variation.get_item(name)


def quantity(item, unit):
    return None if item is None else item.variation.content.as_quantity(unit)


def uint(item):
    return None if item is None else item.as_uint()


def decode(rec):
    i010 = rec.get_item("010")
    i105 = rec.get_item("105")
    i185 = rec.get_item("185")
    i080 = rec.get_item("080")
    i500 = rec.get_item("500")
    apc = sub(i500, "APC")
    apw = sub(i500, "APW")
    atv = sub(i500, "ATV")
    return {
        "items": sorted(rec.items_regular.keys()),
        "sac": uint(sub(i010, "SAC")),
        "sic": uint(sub(i010, "SIC")),
        "service": uint(rec.get_item("015")),
        "tod_s": quantity(rec.get_item("070"), "s"),
        "lat_deg": quantity(sub(i105, "LAT"), "°"),
        "lon_deg": quantity(sub(i105, "LON"), "°"),
        "vx_mps": quantity(sub(i185, "VX"), "m/s"),
        "vy_mps": quantity(sub(i185, "VY"), "m/s"),
        "track": uint(rec.get_item("040")),
        # Bits of the octets present; a bit of an absent extension is null.
        "status": {b: uint(sub(i080, b)) for b in STATUS_BITS},
        "alt_ft": quantity(rec.get_item("130"), "ft"),
        "roc_ft_min": quantity(rec.get_item("220"), "ft/min"),
        "i500": [] if i500 is None else sorted(i500.variation.arg.keys()),
        "apc_x_m": quantity(sub(apc, "X"), "m"),
        "apc_y_m": quantity(sub(apc, "Y"), "m"),
        "apw_lat_deg": quantity(sub(apw, "LAT"), "°"),
        "apw_lon_deg": quantity(sub(apw, "LON"), "°"),
        "aga_ft": quantity(sub(i500, "AGA"), "ft"),
        "atv_x_mps": quantity(sub(atv, "X"), "m/s"),
        "atv_y_mps": quantity(sub(atv, "Y"), "m/s"),
        "arc_ft_min": quantity(sub(i500, "ARC"), "ft/min"),
    }


def main():
    if len(sys.argv) != 2:
        fail("usage: decode_cat062.py FILE")
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    blocks = RawDatablock.parse(Bits.from_bytes(data))
    if isinstance(blocks, ValueError):
        fail(f"data blocks: {blocks}")
    out = []
    for block_index, db in enumerate(blocks):
        cat = db.get_category()
        if cat != 62:
            fail(f"block {block_index}: unexpected category {cat}")
        records = Cat062.cv_uap.parse(db.get_raw_records())
        if isinstance(records, ValueError):
            fail(f"block {block_index}: {records}")
        for rec in records:
            r = decode(rec)
            r["block"] = block_index
            out.append(r)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
