"""Writes the speaker's link order (speaker/link-order.txt) from callgrind profiles.

Usage: link_order.py BINARY OUT PROFILE...: the unstripped binary, the output path, and the
callgrind outputs (written with --demangle=no --compress-strings=no) of runs of that binary.

Order: the functions that every run ran, hottest first (costs added over the runs), then those
that only some ran; then the functions of paths the benchmark does not drive but a cluster does
(TLS to the API server, memberlist, BGP), matched by the crate or module that opens their
demangled names, so that they too sit together instead of scattered through the cold code; last,
the other CPUs' variants of the SIMD functions that ran and every C or assembly function (ring's,
picked by CPUID). See speaker/build.rs for why.
"""

import collections
import os
import re
import subprocess
import sys

# Paths a real cluster runs that the memberlist-off benchmark does not, by the crate or module
# that opens the demangled name or names the trait it implements (`<rustls::conn::Conn<T> as
# ...>::f` and `<u64 as aes::...>::f` count as rustls and aes).
GROUPS = [
    ("TLS to the API server",
     r"(\w*rustls\w*|webpki|ring|untrusted)::"),
    ("memberlist", r"(common::memberlist|speaker::memberlist|aes_gcm|aes|ghash|polyval|ctr|cipher|rmp)::"),
    ("BGP", r"(common::bgp|speaker::bgp)::"),
]
# SIMD code picked at run time (httparse, memchr): the variants a node without AVX2 would run.
SIMD = re.compile(r"::(sse2|sse41|sse42|ssse3|avx|avx2|avx512|generic|fallback)::")
# `<&mut serde_json::Serializer<W> as serde::Serializer>::f`: the crate is the first path segment
# after the leading `<`, `&`, `mut ` or `dyn `.
LEAD = re.compile(r"^(?:[<&*]|mut |dyn |const )*")
# A v0 name demangles with its crate's disambiguator (`core[c1f1a4ba060b9bfa]::fmt`), a legacy
# one with a trailing hash (`::h0123456789abcdef`): neither says anything about the path.
NOISE = re.compile(r"\[[0-9a-f]+\]|::h[0-9a-f]{16}$")


def demangled(names):
    """Demangled paths of `names` (Rust legacy and v0), without hashes, in the same order."""
    out = subprocess.run(
        ["c++filt"], input="\n".join(names) + "\n", check=True, capture_output=True, text=True
    ).stdout.splitlines()
    if len(out) != len(names):
        sys.exit("link_order: c++filt returned a different number of names")
    return [LEAD.sub("", NOISE.sub("", d)) for d in out]


def executed(profile, binary):
    """Self cost (instructions) per function of `binary` in a callgrind profile."""
    cost = collections.Counter()
    ob = fn = None
    callee_line = False
    with open(profile, errors="replace") as f:
        for line in f:
            if line.startswith("ob="):
                ob = line[3:].strip()
            elif line.startswith("fn="):
                # callgrind marks recursion depth with 'N; the symbol is the same.
                fn = re.sub(r"'\d+$", "", line[3:].strip())
                callee_line = False
                if ob == binary:
                    cost[fn] += 0
            elif line.startswith("calls="):
                callee_line = True  # the next cost line is the callee's inclusive cost
            elif line[:1].isdigit() or line[:1] in "+-*":
                if callee_line:
                    callee_line = False
                    continue
                parts = line.split()
                if ob == binary and fn and len(parts) >= 2 and parts[1].isdigit():
                    cost[fn] += int(parts[1])
    return cost


def text_symbols(binary):
    """Function symbols of the binary with their sizes."""
    out = subprocess.run(
        ["nm", "--defined-only", "-S", binary], check=True, capture_output=True, text=True
    ).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTW":
            sizes[parts[3]] = int(parts[1], 16)
    return sizes


def main():
    binary, out_path, *profiles = sys.argv[1:]
    binary = os.path.realpath(binary)
    sizes = text_symbols(binary)
    runs = [executed(profile, binary) for profile in profiles]
    cost = sum(runs, collections.Counter())
    # What every run ran comes first, hottest first, then what only some ran: a run that skips the
    # paths of another (plain HTTP skips TLS) still finds its own code in one block.
    everywhere = set.intersection(*(set(run) for run in runs)) if runs else set()
    hottest = sorted(cost, key=lambda n: (n not in everywhere, -cost[n], n))
    ran = [n for n in hottest if n in sizes]
    if not ran:
        sys.exit(f"link_order: no function of {binary} in {' '.join(profiles)}")
    order, seen = list(ran), set(ran)
    common = [n for n in ran if n in everywhere]
    print(f"ran: {len(ran)} functions, {sum(sizes[n] for n in ran)} bytes "
          f"(in every run: {len(common)}, {sum(sizes[n] for n in common)} bytes)")
    names = sorted(sizes)
    paths = dict(zip(names, demangled(names)))
    # Variants of SIMD code that ran: same function path once the variant's module is removed.
    ran_simd = {SIMD.sub("::", paths[n]) for n in ran if SIMD.search(paths[n])}
    groups = [
        (label, lambda n, p=re.compile(rf"(?:^| as )(?:{pattern})"): p.search(paths[n]))
        for label, pattern in GROUPS
    ]
    groups.append(("other CPUs' SIMD variants", lambda n: SIMD.sub("::", paths[n]) in ran_simd))
    # C and assembly (ring's, 0.2 MB): ring picks its variant by CPUID (`_adx`, `_hw` with SHA-NI,
    # `_avx2`), and valgrind's CPU is not the node's, so the variants that ran here are not the ones
    # a node runs. All of them, then.
    groups.append(("C and assembly (ring's CPU variants)", lambda n: not n.startswith(("_Z", "_R"))))
    for label, member in groups:
        group = [n for n in names if n not in seen and member(n)]
        seen.update(group)
        order += group
        print(f"{label}: {len(group)} functions, {sum(sizes[n] for n in group)} bytes")
    total = sum(sizes.values())
    print(f"ordered: {len(order)} of {len(sizes)} functions, "
          f"{sum(sizes[n] for n in order)} of {total} bytes")
    with open(out_path, "w") as f:
        f.write("".join(n + "\n" for n in order))


if __name__ == "__main__":
    main()
