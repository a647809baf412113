#!/usr/bin/env python3
"""The Layer 2 start-up of one speaker as a client on its segment saw it, from a capture of
ARP frames taken in the client's namespace (`tcpdump -w`).

usage: arp_pcap.py CAPTURE NODE_MAC CLIENT_MAC TARGET_IP START

NODE_MAC is the speaker's interface, CLIENT_MAC the client's, TARGET_IP the address the client
kept asking for (with arping) from before START (the speaker's start, seconds since the epoch).
Prints one JSON object, times in seconds after START:
  gratuitous_frames, gratuitous_ips  frames from NODE_MAC whose sender IP is their target IP
                                     (a gratuitous request or reply), and the IPs they claim;
  first_gratuitous, last_gratuitous  when the first and the last of them arrived;
  max_per_second                     the most of them in any one-second window;
  mean_per_second                    their count over the span from the first to the last;
  all_claimed                        when the last IP had its first gratuitous frame;
  target_answered                    the first reply to the client's request for TARGET_IP;
  target_first_gratuitous            TARGET_IP's first gratuitous frame.
"""
import ipaddress
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcap import ethernet, packets  # noqa: E402

ARP = 0x0806
OP_REPLY = 2


def mac(text):
    return bytes(int(b, 16) for b in text.split(":"))


def main():
    path, node_mac, client_mac, target, start = sys.argv[1:6]
    node_mac, client_mac, start = mac(node_mac), mac(client_mac), float(start)
    target = ipaddress.ip_address(target)
    gratuitous = []
    first_by_ip = {}
    answered = None
    for ts, linktype, frame in packets(path):
        eth = ethernet(linktype, frame)
        if eth is None:
            continue
        dst, src, ethertype, arp = eth
        if ethertype != ARP or src != node_mac or len(arp) < 28:
            continue
        op = struct.unpack("!H", arp[6:8])[0]
        spa, tpa = ipaddress.ip_address(arp[14:18]), ipaddress.ip_address(arp[24:28])
        t = ts - start
        if spa == tpa:
            gratuitous.append(t)
            first_by_ip.setdefault(spa, t)
        elif op == OP_REPLY and dst == client_mac and spa == target and answered is None:
            answered = t
    window_max, j = 0, 0
    for i, t in enumerate(gratuitous):
        while j < len(gratuitous) and gratuitous[j] < t + 1.0:
            j += 1
        window_max = max(window_max, j - i)
    span = gratuitous[-1] - gratuitous[0] if len(gratuitous) > 1 else 0
    r3 = lambda v: None if v is None else round(v, 3)  # noqa: E731
    print(json.dumps({
        "gratuitous_frames": len(gratuitous),
        "gratuitous_ips": len(first_by_ip),
        "first_gratuitous": r3(gratuitous[0] if gratuitous else None),
        "last_gratuitous": r3(gratuitous[-1] if gratuitous else None),
        "max_per_second": window_max,
        "mean_per_second": round(len(gratuitous) / span) if span else None,
        "all_claimed": r3(max(first_by_ip.values()) if first_by_ip else None),
        "target_answered": r3(answered),
        "target_first_gratuitous": r3(first_by_ip.get(target)),
    }))


if __name__ == "__main__":
    main()
