#!/usr/bin/env python3
"""Writes a cluster as real Kubernetes JSON, one object per line, for the fake API server
(fake-apiserver --objects FILE): the MetalLB ConfigMap, N LoadBalancer Services dressed as
real ones are (labels, kubectl's last-applied-configuration, another tool's annotation, a
finalizer), and, with --endpoints, one ready EndpointSlice per Service on NODE plus the Node
and a Ready speaker pod on it.

usage: cluster_objects.py N [--assigned] [--endpoints NODE] [--protocol layer2|bgp] [--first I --services-only]

--assigned writes each Service's status as the controller would have (10.200.0.0 + i): the
state right after an image swap. --first I numbers the Services from I; --services-only leaves out
the ConfigMap, Node and pod (for adding Services to a running cluster).
"""
import argparse
import ipaddress
import json
import sys

NS = "metallb-system"


def config(protocol):
    text = "address-pools:\n- name: default\n  protocol: %s\n  addresses:\n  - 10.200.0.0/16\n" % protocol
    if protocol == "bgp":
        text = "peers:\n- peer-address: 192.168.78.2\n  peer-asn: 64512\n  my-asn: 64513\n" + text
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "config", "namespace": NS}, "data": {"config": text}}


def service(i, assigned):
    name, ns = "svc-%d" % i, "ns-%d" % (i % 20)
    spec = {"type": "LoadBalancer", "clusterIP": "10.96.%d.%d" % (i // 256, i % 256),
            "clusterIPs": ["10.96.%d.%d" % (i // 256, i % 256)],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
            "selector": {"app": "app-%d" % i}, "externalTrafficPolicy": "Cluster",
            "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"}
    applied = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": ns, "labels": {"app": "app-%d" % i}},
               "spec": {k: spec[k] for k in ("type", "ports", "selector")}}
    obj = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": ns,
                        "labels": {"app": "app-%d" % i, "team": "team-%d" % (i % 7)},
                        "annotations": {
                            "kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied, separators=(",", ":")) + "\n",
                            "example.com/owner": "team-%d" % (i % 7)},
                        "finalizers": ["service.kubernetes.io/load-balancer-cleanup"],
                        "managedFields": [{
                            "manager": "kubectl-client-side-apply", "operation": "Update",
                            "apiVersion": "v1", "time": "2024-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                            "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}},
                                                        "f:labels": {".": {}, "f:app": {}}},
                                         "f:spec": {"f:ports": {".": {}, "k:{\"port\":80,\"protocol\":\"TCP\"}": {
                                             ".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}},
                                             "f:selector": {}, "f:type": {}}}}]},
           "spec": spec, "status": {"loadBalancer": {}}}
    if assigned:
        obj["status"]["loadBalancer"] = {"ingress": [{"ip": str(ipaddress.ip_address("10.200.0.0") + i)}]}
    return obj


def endpoint_slice(i, node):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "svc-%d-abcde" % i, "namespace": "ns-%d" % (i % 20),
                         "labels": {"kubernetes.io/service-name": "svc-%d" % i}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.%d.%d" % (i // 256, i % 256)],
                           "conditions": {"ready": True, "serving": True, "terminating": False},
                           "nodeName": node}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("n", type=int)
    p.add_argument("--assigned", action="store_true")
    p.add_argument("--endpoints", metavar="NODE")
    p.add_argument("--protocol", default="layer2", choices=["layer2", "bgp"])
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--services-only", action="store_true")
    a = p.parse_args()
    out = sys.stdout
    numbers = range(a.first, a.first + a.n)
    if not a.services_only:
        out.write(json.dumps(config(a.protocol)) + "\n")
    for i in numbers:
        out.write(json.dumps(service(i, a.assigned)) + "\n")
    if a.endpoints:
        node = a.endpoints
        if a.services_only:
            for i in numbers:
                out.write(json.dumps(endpoint_slice(i, node)) + "\n")
            return
        out.write(json.dumps({"apiVersion": "v1", "kind": "Node",
                              "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node}}}) + "\n")
        out.write(json.dumps({"apiVersion": "v1", "kind": "Pod",
                              "metadata": {"name": "speaker-abcde", "namespace": NS,
                                           "labels": {"app": "metallb", "component": "speaker"}},
                              "spec": {"nodeName": node, "containers": [{"name": "speaker", "image": "speaker"}]},
                              "status": {"phase": "Running", "podIP": "192.168.78.11",
                                         "conditions": [{"type": "Ready", "status": "True"}]}}) + "\n")
        for i in numbers:
            out.write(json.dumps(endpoint_slice(i, node)) + "\n")


if __name__ == "__main__":
    main()
