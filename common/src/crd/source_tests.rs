use super::*;
use crate::crd::documents::read;

fn typical() -> Resources {
    read(include_str!("../../../testdata/crd/typical.yaml")).expect("testdata")
}

fn fill(src: &mut CrdSource, res: &Resources) {
    src.objects.pools.reset(res.pools.clone());
    src.objects
        .l2_advertisements
        .reset(res.l2_advertisements.clone());
    src.objects
        .bgp_advertisements
        .reset(res.bgp_advertisements.clone());
    src.objects.peers.reset(res.peers.clone());
    src.objects.communities.reset(res.communities.clone());
    src.objects.bfd_profiles.reset(res.bfd_profiles.clone());
    for w in WATCHES {
        src.mark_listed(w);
    }
}

#[test]
fn nothing_is_offered_before_every_watch_listed() {
    let mut src = CrdSource::new(Mode::NativeSpeaker, "config");
    for w in &WATCHES[..6] {
        src.mark_listed(w);
        assert_eq!(src.next(None, false), None);
    }
    src.mark_listed("ConfigMap");
    // No objects at all: no configuration, as a missing ConfigMap.
    assert_eq!(src.next(None, false), Some(Ok(None)));
}

#[test]
fn each_outcome_is_offered_once_unless_retried() {
    let mut src = CrdSource::new(Mode::NativeSpeaker, "config");
    fill(&mut src, &typical());
    let first = src
        .next(None, false)
        .expect("first")
        .expect("valid")
        .expect("a config");
    assert_eq!(first.pools.len(), 2);
    assert_eq!(src.next(None, false), None);
    assert_eq!(src.next(None, true), Some(Ok(Some(first.clone()))));

    // A live change that changes the config: offered.
    let mut lan = src.objects.pools.get("lan").expect("lan").clone();
    lan.spec.addresses = vec!["192.168.1.64/28".into()];
    assert!(src.objects.pools.apply(lan.clone()));
    assert!(
        !src.objects.pools.apply(lan),
        "the same object again changes nothing"
    );
    let second = src
        .next(None, false)
        .expect("changed")
        .expect("valid")
        .expect("a config");
    assert_ne!(second, first);

    // An invalid object: the refusal names it, once.
    let mut bad = src.objects.peers.get("router").expect("router").clone();
    bad.spec.my_asn = 0;
    bad.metadata.uid = Some("uid-router".into());
    src.objects.peers.apply(bad);
    let Some(Err(SourceError::Invalid(e))) = src.next(None, false) else {
        panic!("refused");
    };
    assert_eq!(
        e.to_string(),
        "BGPPeer \"router\" spec.myASN: missing local ASN"
    );
    assert_eq!(src.objects.uid(&e.object).as_deref(), Some("uid-router"));
    assert_eq!(src.next(None, false), None);
    // Retrying cannot make a refusal valid: not offered again.
    assert_eq!(src.next(None, true), None);
}

#[test]
fn a_configmap_beside_objects_is_refused() {
    let mut src = CrdSource::new(Mode::Controller, "config");
    fill(&mut src, &typical());
    // An empty ConfigMap (as Helm may leave) is no conflict.
    assert!(matches!(src.candidate(Some("  \n")), Ok(Some(_))));
    let Err(e) = src.candidate(Some("address-pools: []\n")) else {
        panic!("mixed");
    };
    assert_eq!(
        e,
        SourceError::Mixed {
            configmap: "config".into(),
            objects: 5
        }
    );
    assert!(
        e.to_string()
            .contains("in CRD mode only the objects are read")
    );
    // A ConfigMap alone, in CRD mode: no configuration.
    let mut empty = CrdSource::new(Mode::Controller, "config");
    fill(&mut empty, &Resources::default());
    assert_eq!(empty.candidate(Some("address-pools: []\n")), Ok(None));
}

#[test]
fn a_relist_replaces_the_objects_and_deletes_the_unlisted() {
    let mut store: Named<IpAddressPoolSpec> = Named::default();
    let res = typical();
    assert!(store.reset(res.pools.clone()));
    assert!(!store.reset(res.pools.clone()));
    store.begin();
    store.listed(res.pools[0].clone());
    assert_eq!(
        store.list().len(),
        2,
        "the old view serves until the commit"
    );
    assert!(store.commit());
    assert_eq!(store.list().len(), 1);
    assert!(store.delete(res.pools[0].clone()));
    assert!(store.list().is_empty());
}
