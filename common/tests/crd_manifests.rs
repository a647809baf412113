//! manifests/crd/: the CRDs agree with the objects' types and with upstream's bounds, the
//! objects `controller convert` writes are valid against them (a structural-schema validator:
//! types, required fields, bounds, and no field the schema does not define), and the CRD-mode
//! install is the ConfigMap install plus exactly its documented changes.

use std::path::{Path, PathBuf};

use common::config::{Mode, config_text, parse};
use common::crd::{convert, documents};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

/// Every CRD of manifests/crd/.
fn crds() -> Vec<Value> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root().join("manifests/crd")).expect("manifests/crd") {
        let p = e.expect("entry").path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("metallb.io_"))
        {
            out.extend(yaml_docs(&p));
        }
    }
    out.sort_by_key(|c| {
        c["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    });
    out
}

/// The schema of `kind` at `version`.
fn schema<'a>(crds: &'a [Value], api_version: &str, kind: &str) -> &'a Value {
    let version = api_version
        .strip_prefix("metallb.io/")
        .expect("metallb.io object");
    let crd = crds
        .iter()
        .find(|c| c["spec"]["names"]["kind"] == kind)
        .unwrap_or_else(|| panic!("no CRD for {kind}"));
    let v = crd["spec"]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["name"] == version && v["served"] == true)
        .unwrap_or_else(|| panic!("{kind} {version} is not served"));
    &v["schema"]["openAPIV3Schema"]
}

/// What the API server checks of a structural schema (plus: no undefined field, where the
/// server would prune it silently).
fn validate(schema: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
    let t = schema["type"].as_str().unwrap_or_default();
    let ok = match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "boolean" => v.is_boolean(),
        _ => true,
    };
    if !ok {
        errs.push(format!("{path}: {v} is not of type {t}"));
        return;
    }
    if let Some(n) = v.as_i64().map(i128::from).or(v.as_u64().map(i128::from)) {
        if let Some(min) = schema["minimum"].as_i64()
            && n < i128::from(min)
        {
            errs.push(format!("{path}: {n} is below the minimum {min}"));
        }
        if let Some(max) = schema["maximum"].as_u64()
            && n > i128::from(max)
        {
            errs.push(format!("{path}: {n} is above the maximum {max}"));
        }
    }
    if let Some(items) = v.as_array() {
        if let Some(min) = schema["minItems"].as_u64()
            && (items.len() as u64) < min
        {
            errs.push(format!("{path}: fewer than {min} items"));
        }
        for (i, item) in items.iter().enumerate() {
            validate(&schema["items"], item, &format!("{path}[{i}]"), errs);
        }
    }
    if let Some(map) = v.as_object() {
        for r in schema["required"].as_array().into_iter().flatten() {
            if let Some(r) = r.as_str()
                && !map.contains_key(r)
            {
                errs.push(format!("{path}: {r} is required"));
            }
        }
        let props = schema["properties"].as_object();
        let extra = schema.get("additionalProperties");
        if props.is_none() && extra.is_none() {
            // `metadata`, `status`: free-form here.
            return;
        }
        for (k, child) in map {
            let p = format!("{path}.{k}");
            match (props.and_then(|p| p.get(k)), extra) {
                (Some(s), _) | (None, Some(s)) => validate(s, child, &p, errs),
                (None, None) => errs.push(format!("{p}: not defined by the schema")),
            }
        }
    }
}

fn check_object(crds: &[Value], obj: &Value, what: &str) {
    let schema = schema(
        crds,
        obj["apiVersion"].as_str().unwrap_or_default(),
        obj["kind"].as_str().unwrap_or_default(),
    );
    let mut errs = Vec::new();
    validate(schema, obj, "", &mut errs);
    assert!(errs.is_empty(), "{what}: {obj}\n{errs:#?}");
}

#[test]
fn every_kind_has_its_crd_with_our_versions() {
    let crds = crds();
    let mut kinds: Vec<&str> = crds
        .iter()
        .map(|c| c["spec"]["names"]["kind"].as_str().unwrap_or_default())
        .collect();
    kinds.sort();
    let mut ours = documents::KINDS.to_vec();
    ours.sort();
    assert_eq!(kinds, ours);
    for c in &crds {
        let spec = &c["spec"];
        let plural = spec["names"]["plural"].as_str().expect("plural");
        assert_eq!(c["metadata"]["name"], format!("{plural}.metallb.io"));
        assert_eq!(
            (spec["group"].as_str(), spec["scope"].as_str()),
            (Some("metallb.io"), Some("Namespaced"))
        );
        let versions = spec["versions"].as_array().expect("versions");
        let storage: Vec<&Value> = versions.iter().filter(|v| v["storage"] == true).collect();
        assert_eq!(storage.len(), 1, "{plural}: one storage version");
        if versions.len() > 1 {
            // No conversion webhook: the versions share one JSON shape (docs/crd.md#the-crd-files).
            assert_eq!(spec["conversion"]["strategy"], "None", "{plural}");
        }
    }
    let peers = crds
        .iter()
        .find(|c| c["spec"]["names"]["kind"] == "BGPPeer")
        .expect("BGPPeer");
    let names: Vec<&str> = peers["spec"]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["v1beta1", "v1beta2"]);
}

/// Upstream v0.13's validation that the schema carries: required fields, defaults, bounds.
#[test]
fn the_schemas_carry_upstreams_bounds() {
    let crds = crds();
    let spec = |kind: &str, version: &str| {
        schema(&crds, &format!("metallb.io/{version}"), kind)["properties"]["spec"].clone()
    };
    let pool = spec("IPAddressPool", "v1beta1");
    assert_eq!(pool["required"], json!(["addresses"]));
    assert_eq!(pool["properties"]["autoAssign"]["default"], true);
    let ad = spec("BGPAdvertisement", "v1beta1");
    assert_eq!(
        (
            &ad["properties"]["aggregationLength"]["default"],
            &ad["properties"]["aggregationLength"]["minimum"]
        ),
        (&json!(32), &json!(1))
    );
    assert_eq!(ad["properties"]["aggregationLengthV6"]["default"], 128);
    let peer = spec("BGPPeer", "v1beta2");
    assert_eq!(peer["required"], json!(["myASN", "peerASN", "peerAddress"]));
    assert_eq!(
        (
            &peer["properties"]["peerPort"]["maximum"],
            &peer["properties"]["peerPort"]["default"]
        ),
        (&json!(16384), &json!(179))
    );
    assert_eq!(peer["properties"]["myASN"]["maximum"], 4294967295u64);
    let old = spec("BGPPeer", "v1beta1");
    assert!(
        old["properties"].get("passwordSecret").is_none()
            && old["properties"]["peerPort"].get("default").is_none()
    );
    assert_eq!(
        old["properties"]["nodeSelectors"]["items"]["properties"]["matchExpressions"]["items"]["properties"]
            ["values"]["minItems"],
        1
    );
    let bfd = spec("BFDProfile", "v1beta1");
    for (field, lo, hi) in [
        ("receiveInterval", 10, 60000),
        ("transmitInterval", 10, 60000),
        ("detectMultiplier", 2, 255),
        ("echoInterval", 10, 60000),
        ("minimumTtl", 1, 254),
    ] {
        assert_eq!(
            (
                &bfd["properties"][field]["minimum"],
                &bfd["properties"][field]["maximum"]
            ),
            (&json!(lo), &json!(hi)),
            "{field}"
        );
    }
}

/// A value for every field the schema defines.
fn sample(schema: &Value) -> Value {
    match schema["type"].as_str().unwrap_or_default() {
        "object" => match schema["properties"].as_object() {
            Some(props) => props.iter().map(|(k, s)| (k.clone(), sample(s))).collect(),
            None if schema.get("additionalProperties").is_some() => {
                json!({"key": sample(&schema["additionalProperties"])})
            }
            None => json!({}),
        },
        "array" => json!([sample(&schema["items"])]),
        "integer" => schema["default"]
            .clone()
            .as_i64()
            .or(schema["minimum"].as_i64())
            .map_or(json!(7), |n| json!(n.max(1))),
        "boolean" => json!(true),
        _ => json!("text"),
    }
}

#[test]
fn every_schema_field_is_a_field_of_our_types() {
    let crds = crds();
    for c in &crds {
        let kind = c["spec"]["names"]["kind"].as_str().unwrap_or_default();
        for v in c["spec"]["versions"].as_array().expect("versions") {
            let api_version = format!("metallb.io/{}", v["name"].as_str().unwrap_or_default());
            let root = &v["schema"]["openAPIV3Schema"];
            let obj = json!({
                "apiVersion": api_version,
                "kind": kind,
                "metadata": {"name": "sample", "namespace": "metallb-system"},
                "spec": sample(&root["properties"]["spec"]),
            });
            let res = documents::read_values([obj.clone()])
                .unwrap_or_else(|e| panic!("{kind} {api_version}: {e}"));
            assert_eq!(res.len(), 1);
            // Written back, the object is the sample: no schema field was unknown to the types
            // (it would sit in `unknown` and be written back too, so compare the spec keys).
            let back = serde_saphyr::from_multiple::<Value>(&documents::write(&res)).expect("YAML");
            let keys = |v: &Value| {
                let mut k: Vec<String> = v["spec"]
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                k.sort();
                k
            };
            assert_eq!(keys(&back[0]), keys(&obj), "{kind} {api_version}");
            let unknown = match kind {
                "IPAddressPool" => res.pools[0].spec.unknown.len(),
                "L2Advertisement" => res.l2_advertisements[0].spec.unknown.len(),
                "BGPAdvertisement" => res.bgp_advertisements[0].spec.unknown.len(),
                "BGPPeer" => res.peers[0].spec.unknown.len(),
                "Community" => res.communities[0].spec.unknown.len(),
                _ => res.bfd_profiles[0].spec.unknown.len(),
            };
            assert_eq!(unknown, 0, "{kind} {api_version}");
            check_object(&crds, &back[0], kind);
        }
    }
}

#[test]
fn converted_objects_are_valid_against_the_crds() {
    let crds = crds();
    let mut inputs: Vec<(String, String)> = Vec::new();
    for e in std::fs::read_dir(root().join("testdata/config/valid")).expect("testdata") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "yaml") {
            inputs.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).expect("read"),
            ));
        }
    }
    for e in std::fs::read_dir(root().join("testdata/config-upstream/inputs")).expect("oracle") {
        let p = e.expect("entry").path();
        inputs.push((
            p.display().to_string(),
            std::fs::read_to_string(&p).expect("read"),
        ));
    }
    let mut checked = 0;
    for (what, text) in &inputs {
        let valid = config_text(text).is_ok_and(|t| parse(&t, Mode::Controller).is_ok());
        let Ok(c) = convert(text) else { continue };
        assert!(valid, "{what}: converted, yet not a valid config");
        for obj in serde_saphyr::from_multiple::<Value>(&c.to_yaml())
            .expect("YAML")
            .iter()
            .filter(|v| !v.is_null())
        {
            check_object(&crds, obj, what);
            checked += 1;
        }
    }
    for obj in yaml_docs(&root().join("testdata/crd/typical.yaml")) {
        check_object(&crds, &obj, "testdata/crd/typical.yaml");
    }
    assert!(checked > 20, "only {checked} objects checked");
}

#[test]
fn the_validator_refuses_what_the_api_server_refuses() {
    let crds = crds();
    let errs = |obj: Value| {
        let mut e = Vec::new();
        validate(
            schema(
                &crds,
                obj["apiVersion"].as_str().unwrap_or_default(),
                obj["kind"].as_str().unwrap_or_default(),
            ),
            &obj,
            "",
            &mut e,
        );
        e
    };
    let peer = |spec: Value| json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "p"}, "spec": spec});
    assert!(
        errs(peer(
            json!({"myASN": 1, "peerASN": 2, "peerAddress": "10.0.0.1"})
        ))
        .is_empty()
    );
    assert_eq!(
        errs(peer(json!({"myASN": 1, "peerAddress": "10.0.0.1"}))),
        [".spec: peerASN is required"]
    );
    assert_eq!(
        errs(peer(
            json!({"myASN": 1, "peerASN": 2, "peerAddress": "x", "peerPort": 20000})
        )),
        [".spec.peerPort: 20000 is above the maximum 16384"]
    );
    assert_eq!(
        errs(peer(
            json!({"myASN": "1", "peerASN": 2, "peerAddress": "x"})
        )),
        [".spec.myASN: \"1\" is not of type integer"]
    );
    assert_eq!(
        errs(peer(
            json!({"myASN": 1, "peerASN": 2, "peerAddress": "x", "extra": 1})
        )),
        [".spec.extra: not defined by the schema"]
    );
    let ad = json!({"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement", "metadata": {"name": "a"}, "spec": {"aggregationLength": 0}});
    assert_eq!(
        errs(ad),
        [".spec.aggregationLength: 0 is below the minimum 1"]
    );
}

/// manifests/crd/metallb.yaml is manifests/metallb.yaml, with `--config-source=crd` on both
/// workloads and the Role and RoleBinding `metallb-objects`: nothing else differs.
#[test]
fn the_crd_install_is_the_configmap_install_plus_its_changes() {
    let base = yaml_docs(&root().join("manifests/metallb.yaml"));
    let crd = yaml_docs(&root().join("manifests/crd/metallb.yaml"));
    let key = |o: &Value| {
        format!(
            "{}/{}",
            o["kind"].as_str().unwrap_or_default(),
            o["metadata"]["name"].as_str().unwrap_or_default()
        )
    };
    let mut added: Vec<String> = Vec::new();
    for o in &crd {
        match base.iter().find(|b| key(b) == key(o)) {
            None => added.push(key(o)),
            Some(b) if o["kind"] == "Deployment" || o["kind"] == "DaemonSet" => {
                let mut expected = b.clone();
                let args = expected
                    .pointer_mut("/spec/template/spec/containers/0/args")
                    .and_then(Value::as_array_mut)
                    .expect("args");
                args.push(json!("--config-source=crd"));
                assert_eq!(o, &expected, "{}", key(o));
            }
            Some(b) => assert_eq!(o, b, "{}", key(o)),
        }
    }
    assert_eq!(
        added,
        ["Role/metallb-objects", "RoleBinding/metallb-objects"]
    );
    assert_eq!(crd.len(), base.len() + 2);
    // The Role grants reading exactly the CRDs' resources.
    let role = crd
        .iter()
        .find(|o| key(o) == "Role/metallb-objects")
        .expect("Role");
    let mut granted: Vec<&str> = role["rules"][0]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    granted.sort();
    let crds = crds();
    let mut plurals: Vec<&str> = crds
        .iter()
        .filter_map(|c| c["spec"]["names"]["plural"].as_str())
        .collect();
    plurals.sort();
    assert_eq!(granted, plurals);
    assert_eq!(role["rules"][0]["verbs"], json!(["get", "list", "watch"]));
    assert_eq!(role["rules"].as_array().map(Vec::len), Some(1));
}
