#!/usr/bin/env python3
"""Independent check of the FPGA packetizer's output (hw/build/packets.bin).

Parses the file as back-to-back VITA 49.2 packets (big-endian 32-bit words)
per /work/shared/docs/formats.md section 3 and hw/README.md, and compares every
field and every sample with the known pattern described by hw/tb/pattern.json.
Pure Python (struct only), no dependency on the RTL or on the host parser.

    python3 tests/py/check_vrt.py [hw/build/packets.bin] [hw/tb/pattern.json]

Exit status 0 when everything matches, 1 with one line per mismatch otherwise.
"""
import json
import os
import struct
import sys

PS_PER_S = 10**12
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Header fields (formats.md section 3).
TYPE_DATA, TYPE_CONTEXT = 1, 4
TSI_UTC, TSF_PICOSECONDS = 1, 2
# Trailer: enable bit, indicator bit.
TR_VALID_DATA = (30, 18)
TR_SAMPLE_LOSS = (24, 12)
TR_SAMPLE_FRAME = ((23, 22), (11, 10))
TR_USER_CPI = (20, 8)
# Context indicator fields.
CIF0_CHANGE = 31
CIF0_RF_FREQ, CIF0_SAMPLE_RATE, CIF0_CIF1 = 27, 21, 1
CIF1_POINTING = 29
CONTEXT_WORDS = 12
DATA_OVERHEAD_WORDS = 6  # header, stream ID, 3 timestamp words, trailer


def bit(word, n):
    return (word >> n) & 1


def parse_packets(buf):
    """Split the file into packets using each header's size field."""
    if len(buf) % 4:
        raise ValueError(f"file length {len(buf)} is not a whole number of 32-bit words")
    words = struct.unpack(f">{len(buf) // 4}I", buf)
    packets, pos = [], 0
    while pos < len(words):
        size = words[pos] & 0xFFFF
        if size < 1 or pos + size > len(words):
            raise ValueError(f"word {pos}: packet size {size} runs past the end of the file "
                             f"({len(words) - pos} words left)")
        packets.append((pos, words[pos:pos + size]))
        pos += size
    return packets


def expected_packets(pat):
    """The packet sequence the testbench must produce, as dicts."""
    P, N = pat["pulses_per_cpi"], pat["samples_per_pulse"]
    loss_at = {(e["cpi"], e["pulse"], e["before_sample"]) for e in pat["sample_loss"]}

    def timestamp(k, m, n):
        ps = pat["t0_psec"] + (k * P + m) * pat["pri_ps"] + n * pat["sample_period_ps"]
        return pat["t0_sec"] + ps // PS_PER_S, ps % PS_PER_S

    def sample_word(k, m, n):
        i = (k * pat["i_cpi_step"] + m * pat["i_pulse_step"] + n) & 0xFFFF
        q = i ^ pat["q_xor"]
        return (i << 16) | q

    out, data_count, ctx_count = [], 0, 0
    for c in pat["cpis"]:
        k, spp = c["cpi"], c["samples_per_packet"]
        out.append(dict(kind="context", where=f"context before CPI {k}", count=ctx_count,
                        ts=timestamp(k, 0, 0), change=c["context_field_change"],
                        rf=pat["rf_freq_fx20"], sr=pat["sample_rate_fx20"],
                        pointing=c["pointing_word"]))
        ctx_count = (ctx_count + 1) % 16
        for m in range(P):
            starts = list(range(0, N, spp))
            for j, n0 in enumerate(starts):
                n1 = min(n0 + spp, N)
                first, last = j == 0, j == len(starts) - 1
                sfi = 0 if first and last else 1 if first else 3 if last else 2
                loss = any((k, m, n) in loss_at for n in range(n0, n1))
                out.append(dict(kind="data", where=f"CPI {k} pulse {m} samples {n0}..{n1 - 1}",
                                count=data_count, ts=timestamp(k, m, n0), sfi=sfi,
                                cpi_first=(m == 0), loss=loss,
                                samples=[sample_word(k, m, n) for n in range(n0, n1)]))
                data_count = (data_count + 1) % 16
    return out


class Checker:
    def __init__(self):
        self.errors = []

    def eq(self, where, what, got, want):
        if got != want:
            g = f"0x{got:X}" if isinstance(got, int) and not isinstance(got, bool) else got
            w = f"0x{want:X}" if isinstance(want, int) and not isinstance(want, bool) else want
            self.errors.append(f"{where}: {what} = {g}, expected {w}")

    def header(self, where, hdr, ptype, count, size):
        self.eq(where, "packet type (bits 31-28)", hdr >> 28, ptype)
        self.eq(where, "C, class ID present (bit 27)", bit(hdr, 27), 0)
        if ptype == TYPE_DATA:
            self.eq(where, "T, trailer present (bit 26)", bit(hdr, 26), 1)
            self.eq(where, "S, spectrum (bit 24)", bit(hdr, 24), 0)
        else:
            self.eq(where, "reserved (bit 26)", bit(hdr, 26), 0)
            self.eq(where, "TSM (bit 24)", bit(hdr, 24), 0)
        self.eq(where, "not-V49.0 indicator (bit 25)", bit(hdr, 25), 1)
        self.eq(where, "TSI (bits 23-22)", (hdr >> 22) & 3, TSI_UTC)
        self.eq(where, "TSF (bits 21-20)", (hdr >> 20) & 3, TSF_PICOSECONDS)
        self.eq(where, "packet count (bits 19-16)", (hdr >> 16) & 0xF, count)
        self.eq(where, "packet size (bits 15-0)", hdr & 0xFFFF, size)

    def timestamps(self, where, words, ts):
        self.eq(where, "integer timestamp (UTC s)", words[2], ts[0])
        psec = (words[3] << 32) | words[4]
        if psec >= PS_PER_S:
            self.errors.append(f"{where}: fractional timestamp {psec} ps is not below 10^12")
        self.eq(where, "fractional timestamp (ps)", psec, ts[1])

    def data(self, where, words, exp, stream_id):
        n = len(exp["samples"])
        self.header(where, words[0], TYPE_DATA, exp["count"], n + DATA_OVERHEAD_WORDS)
        if len(words) != n + DATA_OVERHEAD_WORDS:
            return  # size already reported; the fields below would be misaligned
        self.eq(where, "stream ID", words[1], stream_id)
        self.timestamps(where, words, exp["ts"])
        for i, (got, want) in enumerate(zip(words[5:5 + n], exp["samples"])):
            if got != want:
                gi, gq = struct.unpack(">hh", struct.pack(">I", got))
                wi, wq = struct.unpack(">hh", struct.pack(">I", want))
                self.errors.append(f"{where}: payload word {i} = I {gi} Q {gq}, expected I {wi} Q {wq}")
        tr = words[-1]
        for name, (en, ind), want in (("valid data", TR_VALID_DATA, 1),
                                      ("sample loss", TR_SAMPLE_LOSS, int(exp["loss"])),
                                      ("user-defined CPI start", TR_USER_CPI, int(exp["cpi_first"]))):
            self.eq(where, f"trailer {name} enable (bit {en})", bit(tr, en), 1)
            self.eq(where, f"trailer {name} indicator (bit {ind})", bit(tr, ind), want)
        self.eq(where, "trailer sample frame enables (bits 23-22)", (tr >> 22) & 3, 3)
        self.eq(where, "trailer sample frame indicator (bits 11-10)", (tr >> 10) & 3, exp["sfi"])
        for b in (31, 29, 28, 27, 26, 25, 21, 19, 17, 16, 15, 14, 13, 9):
            self.eq(where, f"trailer bit {b} (unused enable/indicator)", bit(tr, b), 0)
        self.eq(where, "trailer E (bit 7)", bit(tr, 7), 0)
        self.eq(where, "trailer associated context count (bits 6-0)", tr & 0x7F, 0)

    def context(self, where, words, exp, stream_id):
        self.header(where, words[0], TYPE_CONTEXT, exp["count"], CONTEXT_WORDS)
        if len(words) != CONTEXT_WORDS:
            return
        self.eq(where, "stream ID", words[1], stream_id)
        self.timestamps(where, words, exp["ts"])
        cif0 = (1 << CIF0_RF_FREQ) | (1 << CIF0_SAMPLE_RATE) | (1 << CIF0_CIF1)
        cif0 |= int(exp["change"]) << CIF0_CHANGE
        self.eq(where, "CIF0 (change indicator 31, RF frequency 27, sample rate 21, CIF1 1)",
                words[5], cif0)
        self.eq(where, "CIF1 (3-D pointing vector 29)", words[6], 1 << CIF1_POINTING)
        self.eq(where, "RF reference frequency (Hz, 20 fraction bits)",
                (words[7] << 32) | words[8], exp["rf"])
        self.eq(where, "sample rate (Hz, 20 fraction bits)", (words[9] << 32) | words[10], exp["sr"])
        self.eq(where, "pointing word", words[11], exp["pointing"])


def main(argv):
    bin_path = argv[1] if len(argv) > 1 else os.path.join(ROOT, "hw/build/packets.bin")
    pat_path = argv[2] if len(argv) > 2 else os.path.join(ROOT, "hw/tb/pattern.json")
    with open(pat_path) as f:
        pat = json.load(f)
    with open(bin_path, "rb") as f:
        buf = f.read()
    try:
        packets = parse_packets(buf)
    except ValueError as e:
        print(f"check_vrt: FAIL: {bin_path}: {e}")
        return 1
    expected = expected_packets(pat)
    chk = Checker()
    if len(packets) != len(expected):
        chk.errors.append(f"{len(packets)} packets in the file, expected {len(expected)} "
                          f"({pat['data_packets']} data + {pat['context_packets']} context)")
    for idx, ((pos, words), exp) in enumerate(zip(packets, expected)):
        where = f"packet {idx} (word {pos}, {exp['where']})"
        if exp["kind"] == "data":
            chk.data(where, words, exp, pat["stream_id"])
        else:
            chk.context(where, words, exp, pat["stream_id"])
    if chk.errors:
        for e in chk.errors[:50]:
            print(f"check_vrt: FAIL: {e}")
        if len(chk.errors) > 50:
            print(f"check_vrt: ... and {len(chk.errors) - 50} more mismatches")
        return 1
    n_data = sum(1 for e in expected if e["kind"] == "data")
    n_samples = sum(len(e["samples"]) for e in expected if e["kind"] == "data")
    print(f"check_vrt: OK: {len(packets)} packets ({n_data} data, {len(packets) - n_data} context), "
          f"{n_samples} samples, {len(buf)} bytes in {bin_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
