"""Reading captures without third-party modules: the pcap file format (microsecond or
nanosecond timestamps) and the frames the benches capture (Ethernet, Linux cooked v1/v2),
for bgp_pcap.py and arp_pcap.py.
"""
import ipaddress
import struct


def packets(path):
    """(timestamp, link type, frame bytes) of every record."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise SystemExit("%s: not a pcap file" % path)
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    (linktype,) = struct.unpack(endian + "I", data[20:24])
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        frame = data[off:off + incl]
        off += incl
        yield sec + frac / (1e9 if nano else 1e6), linktype, frame


def ip_payload(linktype, frame):
    """(src ip, protocol, payload) of an IP packet in FRAME, or None."""
    if linktype == 1:  # Ethernet
        ethertype, off = struct.unpack("!H", frame[12:14])[0], 14
        while ethertype == 0x8100:  # VLAN tags
            ethertype, off = struct.unpack("!H", frame[off + 2:off + 4])[0], off + 4
    elif linktype == 113:  # Linux cooked v1
        ethertype, off = struct.unpack("!H", frame[14:16])[0], 16
    elif linktype == 276:  # Linux cooked v2
        ethertype, off = struct.unpack("!H", frame[0:2])[0], 20
    else:
        return None
    pkt = frame[off:]
    if ethertype == 0x0800 and len(pkt) >= 20:
        ihl = (pkt[0] & 0x0F) * 4
        total = struct.unpack("!H", pkt[2:4])[0]
        return ipaddress.ip_address(pkt[12:16]), pkt[9], pkt[ihl:total]
    if ethertype == 0x86DD and len(pkt) >= 40:
        length = struct.unpack("!H", pkt[4:6])[0]
        return ipaddress.ip_address(pkt[8:24]), pkt[6], pkt[40:40 + length]
    return None


def ethernet(linktype, frame):
    """(destination MAC, source MAC, ethertype, payload) of an Ethernet frame, or None."""
    if linktype != 1 or len(frame) < 14:
        return None
    ethertype, off = struct.unpack("!H", frame[12:14])[0], 14
    while ethertype == 0x8100 and len(frame) >= off + 4:
        ethertype, off = struct.unpack("!H", frame[off + 2:off + 4])[0], off + 4
    return frame[0:6], frame[6:12], ethertype, frame[off:]
