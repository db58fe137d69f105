#!/usr/bin/env python3
"""Independent ASTERIX decoder for the tews tests: libasterix (pure Python,
generated from the asterix-specs definitions) decodes a file of data blocks
and prints one JSON object per record, as a JSON list on stdout.

Usage: decode_asterix.py FILE

CAT048 is decoded as edition 1.32 and its Reserved Expansion Field as REF
edition 1.13; CAT034 as edition 1.29. Values are physical quantities as
libasterix converts them (NM, degrees, seconds, m/s); absent items are null.
"""

import json
import sys

from asterix.base import Bits, RawDatablock
import asterix.generated as gen

Cat048 = gen.Cat_048_1_32
Ref048 = gen.Ref_048_1_13
Cat034 = gen.Cat_034_1_29


def fail(msg):
    print(f"decode_asterix.py: {msg}", file=sys.stderr)
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


def decode_048(rec):
    i010 = rec.get_item("010")
    i020 = rec.get_item("020")
    i040 = rec.get_item("040")
    i120 = rec.get_item("120")
    cal = sub(i120, "CAL")
    ref_err = None
    re = rec.get_item("RE")
    if re is not None:
        parsed = Ref048.cv_expansion.parse(Bits.from_bytes(re.variation.get_bytes()))
        if isinstance(parsed, ValueError):
            fail(f"RE: {parsed}")
        expansion, rest = parsed
        if len(rest):
            fail("RE: trailing bytes after the expansion")
        err = expansion.get_item("ERR")
        ref_err = None if err is None else err.variation.content.as_quantity("NM")
    return {
        "cat": 48,
        "sac": uint(sub(i010, "SAC")),
        "sic": uint(sub(i010, "SIC")),
        "tod_s": quantity(rec.get_item("140"), "s"),
        "typ": uint(sub(i020, "TYP")),
        "sim": uint(sub(i020, "SIM")),
        "rdp": uint(sub(i020, "RDP")),
        "spi": uint(sub(i020, "SPI")),
        "rab": uint(sub(i020, "RAB")),
        "err": uint(sub(i020, "ERR")),
        "rho_nm": quantity(sub(i040, "RHO"), "NM"),
        "theta_deg": quantity(sub(i040, "THETA"), "°"),
        "cal_d": uint(sub(cal, "D")),
        "cal_mps": quantity(sub(cal, "CAL"), "m/s"),
        "rds": sub(i120, "RDS") is not None,
        "i130": rec.get_item("130") is not None,
        "height_ft": quantity(sub(rec.get_item("110"), "3DH"), "ft"),
        "ref_err_nm": ref_err,
    }


def decode_034(rec):
    i010 = rec.get_item("010")
    return {
        "cat": 34,
        "sac": uint(sub(i010, "SAC")),
        "sic": uint(sub(i010, "SIC")),
        "msg_type": uint(rec.get_item("000")),
        "tod_s": quantity(rec.get_item("030"), "s"),
        "sector_deg": quantity(rec.get_item("020"), "°"),
    }


def main():
    if len(sys.argv) != 2:
        fail("usage: decode_asterix.py FILE")
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    blocks = RawDatablock.parse(Bits.from_bytes(data))
    if isinstance(blocks, ValueError):
        fail(f"data blocks: {blocks}")
    out = []
    for block_index, db in enumerate(blocks):
        cat = db.get_category()
        spec, decode = {48: (Cat048, decode_048), 34: (Cat034, decode_034)}.get(
            cat, (None, None)
        )
        if spec is None:
            fail(f"block {block_index}: unexpected category {cat}")
        records = spec.cv_uap.parse(db.get_raw_records())
        if isinstance(records, ValueError):
            fail(f"block {block_index} (CAT{cat:03}): {records}")
        for rec in records:
            r = decode(rec)
            r["block"] = block_index
            out.append(r)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
