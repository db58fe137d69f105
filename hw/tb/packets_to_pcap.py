#!/usr/bin/env python3
"""Wrap hw/build/packets.bin into a pcap (one UDP datagram per VRT packet, to
port 4991) so Wireshark/tshark's `vrt` dissector can decode it independently:

    python3 hw/tb/packets_to_pcap.py hw/build/packets.bin hw/build/packets.pcap
    tshark -r hw/build/packets.pcap -V -d udp.port==4991,vrt
"""
import struct
import sys


def ip_checksum(hdr):
    s = sum(struct.unpack(">10H", hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main(src, dst):
    buf = open(src, "rb").read()
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # Ethernet
    pos = 0
    while pos < len(buf):
        size = struct.unpack(">I", buf[pos:pos + 4])[0] & 0xFFFF
        vrt = buf[pos:pos + 4 * size]
        pos += 4 * size
        udp = struct.pack(">HHHH", 4991, 4991, 8 + len(vrt), 0) + vrt
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         bytes([192, 168, 10, 2]), bytes([192, 168, 10, 1]))
        ip = ip[:10] + struct.pack(">H", ip_checksum(ip)) + ip[12:]
        eth = bytes.fromhex("020000000001" "020000000002" "0800") + ip + udp
        out.append(struct.pack("<IIII", 0, 0, len(eth), len(eth)) + eth)
    open(dst, "wb").write(b"".join(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
