#!/usr/bin/env python3
"""A CycloneDX 1.5 JSON SBOM for one release binary of metallb-rs, from what the build used:
the crates `cargo tree -e normal` lists for its package (with their checksums in Cargo.lock)
and the Debian packages of the shared libraries copied next to it into the image.

Usage: sbom.py NAME VERSION REVISION SOURCE EPOCH TREE LOCK [DEB=VERSION ...]
  TREE  `cargo tree -p NAME -e normal --prefix none -f '{p}|{l}|{r}'` output (duplicates allowed;
        proc-macro crates are left out: they run in the compiler, none of their code is linked)
  LOCK  Cargo.lock
  DEB   Debian package=version of a library shipped in the image

Deterministic: no random serial number (a UUID derived from NAME, VERSION and REVISION) and
the timestamp is EPOCH (SOURCE_DATE_EPOCH); components sorted by purl.
"""
import datetime
import json
import sys
import tomllib
import uuid


def main(argv):
    name, version, revision, source, epoch, tree_path, lock_path, *debs = argv
    with open(lock_path, "rb") as f:
        lock = tomllib.load(f)
    checksums = {(p["name"], p["version"]): p.get("checksum") for p in lock.get("package", [])}

    components = {}
    for line in open(tree_path, encoding="utf-8"):
        line = line.strip()
        if not line or "|" not in line:
            continue
        if line.endswith(" (*)"):  # already listed (cargo tree's dedupe marker)
            line = line[:-4]
        pkg, lic, repo = line.split("|", 2)
        parts = pkg.split()
        if "(proc-macro)" in parts:
            continue  # runs in the compiler; none of its code is in the binary
        crate, ver = parts[0], parts[1].lstrip("v")
        local = any(p.startswith("(/") for p in parts[2:])  # a workspace member: "(path)"
        if local and crate == name:
            continue  # the binary itself is the metadata component
        purl = "pkg:cargo/%s@%s" % (crate, ver)
        comp = {"type": "library", "bom-ref": purl, "name": crate, "version": ver, "purl": purl}
        if lic:
            comp["licenses"] = [{"expression": lic}]
        if repo:
            comp["externalReferences"] = [{"type": "vcs", "url": repo}]
        digest = checksums.get((crate, ver))
        if digest:
            comp["hashes"] = [{"alg": "SHA-256", "content": digest}]
        if local:
            comp["purl"] = comp["bom-ref"] = "pkg:cargo/%s@%s?vcs_url=%s" % (crate, ver, source)
            comp["licenses"] = [{"expression": lic or "Apache-2.0"}]
        components[comp["bom-ref"]] = comp
    for deb in debs:
        pkg, ver = deb.split("=", 1)
        purl = "pkg:deb/debian/%s@%s?arch=amd64" % (pkg, ver)
        components[purl] = {"type": "library", "bom-ref": purl, "name": pkg, "version": ver,
                            "purl": purl,
                            "description": "shared library copied from the build system's Debian package"}

    me = "pkg:oci/%s@%s" % (name, version)
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:%s" % uuid.uuid5(uuid.NAMESPACE_URL,
                                                     "%s/%s/%s/%s" % (source, name, version, revision)),
        "version": 1,
        "metadata": {
            "timestamp": datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "scripts/lib/sbom.py",
                                      "description": "metallb-rs: cargo tree + Cargo.lock + dpkg"}]},
            "component": {"type": "application", "bom-ref": me, "name": name, "version": version,
                          "licenses": [{"expression": "Apache-2.0"}],
                          "externalReferences": [{"type": "vcs", "url": source,
                                                  "comment": "revision " + revision}]},
        },
        "components": [components[k] for k in sorted(components)],
        "dependencies": [{"ref": me, "dependsOn": sorted(components)}],
    }
    json.dump(bom, sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) < 8:
        sys.exit(__doc__)
    main(sys.argv[1:])
