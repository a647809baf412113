#!/usr/bin/env python3
"""The BGP UPDATEs one speaker sent, decoded from a capture taken on the router side
(`tcpdump -w`, full frames): the TCP stream from the speaker to port 179 is reassembled, split
into BGP messages, and each UPDATE is reported with the capture time of the segment that
completed it, its announced and its withdrawn prefixes (IPv4 NLRI and MP_REACH/MP_UNREACH).

usage: bgp_pcap.py CAPTURE SPEAKER_IP [--prefixes FILE]

Prints one JSON object per UPDATE on stdout: {"t": seconds since the epoch, "announced": n,
"withdrawn": n}. With --prefixes, also writes "prefix time" lines to FILE: the first time each
prefix was announced (a prefix announced again later keeps its first time).

Needs nothing beyond the standard library (pcap.py reads the capture; TCP and BGP are
decoded here).
"""
import argparse
import ipaddress
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcap import ip_payload, packets  # noqa: E402

BGP_UPDATE = 2
ATTR_MP_REACH = 14
ATTR_MP_UNREACH = 15


def segments(path, speaker):
    """(timestamp, seq, flags, payload) of the TCP segments SPEAKER sent to port 179."""
    for ts, linktype, frame in packets(path):
        decoded = ip_payload(linktype, frame)
        if decoded is None:
            continue
        src, proto, tcp = decoded
        if src != speaker or proto != 6 or len(tcp) < 20:
            continue
        dport, seq = struct.unpack("!HI", tcp[2:8])
        if dport != 179:
            continue
        data_off = (tcp[12] >> 4) * 4
        yield ts, seq, tcp[13], tcp[data_off:]


def stream(path, speaker):
    """The speaker's bytes in order, as (timestamp, chunk); a new connection (SYN) starts
    over. Retransmitted bytes are dropped; segments after a gap wait for it."""
    expected = None
    pending = {}
    for ts, seq, flags, payload in segments(path, speaker):
        if flags & 0x02:  # SYN
            expected, pending = (seq + 1) & 0xFFFFFFFF, {}
            yield ts, None
            continue
        if expected is None or not payload:
            continue
        pending.setdefault(seq, payload)
        while True:
            # A segment starting at or before the next byte we need, possibly overlapping.
            ready = [s for s in pending if ((expected - s) & 0xFFFFFFFF) < 0x80000000]
            if not ready:
                break
            for s in ready:
                chunk = pending.pop(s)
                skip = (expected - s) & 0xFFFFFFFF
                if skip < len(chunk):
                    yield ts, chunk[skip:]
                    expected = (expected + len(chunk) - skip) & 0xFFFFFFFF


def prefixes(buf, afi_v6):
    out = []
    i = 0
    while i < len(buf):
        bits = buf[i]
        n = (bits + 7) // 8
        raw = buf[i + 1:i + 1 + n]
        i += 1 + n
        size = 16 if afi_v6 else 4
        addr = ipaddress.ip_address(bytes(raw) + bytes(size - len(raw)))
        out.append("%s/%d" % (addr, bits))
    return out


def update(body):
    """(announced, withdrawn) prefixes of an UPDATE body (after the 19-byte header)."""
    wlen = struct.unpack("!H", body[0:2])[0]
    withdrawn = prefixes(body[2:2 + wlen], False)
    alen = struct.unpack("!H", body[2 + wlen:4 + wlen])[0]
    attrs = body[4 + wlen:4 + wlen + alen]
    announced = prefixes(body[4 + wlen + alen:], False)
    i = 0
    while i < len(attrs):
        flags, code = attrs[i], attrs[i + 1]
        if flags & 0x10:
            length, head = struct.unpack("!H", attrs[i + 2:i + 4])[0], 4
        else:
            length, head = attrs[i + 2], 3
        value = attrs[i + head:i + head + length]
        i += head + length
        if code == ATTR_MP_REACH:
            afi = struct.unpack("!H", value[0:2])[0]
            nh_len = value[3]
            nlri = value[4 + nh_len + 1:]
            announced += prefixes(nlri, afi == 2)
        elif code == ATTR_MP_UNREACH:
            afi = struct.unpack("!H", value[0:2])[0]
            withdrawn += prefixes(value[3:], afi == 2)
    return announced, withdrawn


def updates(path, speaker):
    """(timestamp, announced, withdrawn) of each UPDATE, in order."""
    buf = b""
    for ts, chunk in stream(path, speaker):
        if chunk is None:
            buf = b""
            continue
        buf += chunk
        while len(buf) >= 19:
            length = struct.unpack("!H", buf[16:18])[0]
            if length < 19 or len(buf) < length:
                break
            kind, body, buf = buf[18], buf[19:length], buf[length:]
            if kind == BGP_UPDATE:
                announced, withdrawn = update(body)
                yield ts, announced, withdrawn


def main():
    p = argparse.ArgumentParser()
    p.add_argument("capture")
    p.add_argument("speaker")
    p.add_argument("--prefixes")
    a = p.parse_args()
    first = {}
    out = sys.stdout
    for ts, announced, withdrawn in updates(a.capture, ipaddress.ip_address(a.speaker)):
        out.write(json.dumps({"t": ts, "announced": len(announced), "withdrawn": len(withdrawn)}) + "\n")
        for prefix in announced:
            first.setdefault(prefix, ts)
    if a.prefixes:
        with open(a.prefixes, "w") as f:
            for prefix, ts in first.items():
                f.write("%s %.6f\n" % (prefix, ts))


if __name__ == "__main__":
    main()
