"""ARP frames read back from tcpdump's text output (`tcpdump -n -e -tt arp`).

Shared by the failover lab (scripts/lab/lib/failover_env.sh) and the failover benchmark
(scripts/bench/lib/failover_api.py), which both capture the client's interface and judge who
answered which address when.
"""


def arp_frames(path):
    """Yields (ts, kind, ip, src_mac, dst_mac) for every ARP line of the capture at `path`.

    kind is "req" for `Request who-has IP tell ...` and "rep" for `Reply IP is-at ...`; lines
    without a leading timestamp (tcpdump's own messages) or of another shape are skipped.
    """
    with open(path) as capture:
        for line in capture:
            parts = line.split()
            if len(parts) < 4:
                continue
            try:
                ts = float(parts[0])
            except ValueError:
                continue
            src, dst = parts[1], parts[3].rstrip(",")
            for word, kind, follow in (("who-has", "req", "tell"), ("Reply", "rep", "is-at")):
                if word in parts:
                    i = parts.index(word)
                    if i + 2 < len(parts) and parts[i + 2] == follow:
                        yield ts, kind, parts[i + 1], src, dst
                    break
