//! Invariants of the controller's allocation under random cluster histories: services
//! created, updated and deleted, configurations swapped (renames, shrinks, splits), and
//! controller restarts — each followed by the convergence passes upstream would run.
//!
//! After every step:
//! * no address is held by two services that may not share it (different or empty sharing
//!   key, different backend key, or a common port);
//! * every address in a status is allowed by a pool of the configuration in force;
//! * the allocator holds exactly what the statuses say;
//! * a service whose assignment is still valid for its spec never gets a different one.

use std::collections::BTreeMap;
use std::net::IpAddr;

use common::allocator::{Allocator, Port, ServiceSpec, Status, Usage, converge};
use common::config::{Pool, Protocol};
use proptest::prelude::*;

fn pool(name: &str, cidrs: &[&str], avoid_buggy: bool, auto_assign: bool) -> Pool {
    Pool {
        name: name.to_owned(),
        protocol: Protocol::Layer2,
        cidrs: cidrs
            .iter()
            .map(|c| c.parse().expect("test input"))
            .collect(),
        avoid_buggy_ips: avoid_buggy,
        auto_assign,
        bgp_advertisements: Vec::new(),
    }
}

fn configs() -> Vec<Vec<Pool>> {
    let b = pool("b", &["10.0.1.254/31", "10.0.2.0/31"], true, false);
    let d = pool("d", &["fd00::/125", "10.0.3.0/29"], false, true);
    vec![
        vec![
            pool("a", &["10.0.0.0/29"], false, true),
            b.clone(),
            d.clone(),
        ],
        // rename a → a2
        vec![
            pool("a2", &["10.0.0.0/29"], false, true),
            b.clone(),
            d.clone(),
        ],
        // shrink a
        vec![
            pool("a", &["10.0.0.0/30"], false, true),
            b.clone(),
            d.clone(),
        ],
        // split a, d's CIDRs reordered
        vec![
            pool("a", &["10.0.0.0/30"], false, true),
            pool("a-hi", &["10.0.0.4/30"], true, true),
            b.clone(),
            pool("d", &["10.0.3.0/29", "fd00::/125"], false, true),
        ],
        // swap names of a and d's roles, drop nothing
        vec![
            pool("d", &["10.0.0.0/29"], false, true),
            b,
            pool("a", &["fd00::/125", "10.0.3.0/29"], false, true),
        ],
        // only a small v4 pool
        vec![pool("a", &["10.0.0.0/29"], false, true)],
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(usize, ServiceSpec),
    Delete(usize),
    Config(usize),
    Reprocess(usize),
    Restart,
}

fn usage() -> impl Strategy<Value = Usage> {
    (
        prop_oneof![2 => Just(""), 1 => Just("k"), 1 => Just("j")],
        prop_oneof![3 => Just(""), 1 => Just("app=x")],
        proptest::sample::subsequence(vec![("TCP", 80), ("TCP", 443), ("UDP", 53)], 1..=2),
    )
        .prop_map(|(k, b, ports)| Usage {
            ports: ports.into_iter().map(|(p, n)| Port::new(p, n)).collect(),
            sharing_key: k.to_owned(),
            backend_key: b.to_owned(),
        })
}

fn spec() -> impl Strategy<Value = ServiceSpec> {
    let cluster = prop_oneof![
        6 => Just(vec!["10.96.0.1"]),
        2 => Just(vec!["fd96::1"]),
        2 => Just(vec!["10.96.0.1", "fd96::1"]),
        1 => Just(vec![]),
    ];
    let lb_ip = prop_oneof![8 => Just(""), 1 => Just("10.0.0.3"), 1 => Just("10.0.2.1"), 1 => Just("10.9.9.9")];
    let lb_ips = prop_oneof![10 => Just(""), 1 => Just("fd00::2,10.0.3.2"), 1 => Just("10.0.0.1")];
    let pool =
        prop_oneof![6 => Just(""), 1 => Just("a"), 1 => Just("b"), 1 => Just("d"), 1 => Just("a2")];
    (
        prop_oneof![9 => Just(true), 1 => Just(false)],
        cluster,
        lb_ip,
        lb_ips,
        pool,
        usage(),
    )
        .prop_map(|(lb, cluster, lb_ip, lb_ips, pool, usage)| ServiceSpec {
            is_load_balancer: lb,
            cluster_ips: cluster.into_iter().map(str::to_owned).collect(),
            load_balancer_ip: lb_ip.to_owned(),
            load_balancer_ips: lb_ips.to_owned(),
            address_pool: pool.to_owned(),
            usage,
        })
}

const SERVICES: usize = 8;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..SERVICES, spec()).prop_map(|(s, sp)| Op::Upsert(s, sp)),
        2 => (0..SERVICES).prop_map(Op::Delete),
        2 => (0..configs().len()).prop_map(Op::Config),
        2 => (0..SERVICES).prop_map(Op::Reprocess),
        1 => Just(Op::Restart),
    ]
}

/// A simulated cluster: the controller's allocator, the config in force, and the Services.
struct Cluster {
    config: Vec<Pool>,
    alloc: Allocator,
    services: BTreeMap<String, (ServiceSpec, Vec<IpAddr>)>,
}

fn may_share(a: &Usage, b: &Usage) -> bool {
    !a.sharing_key.is_empty()
        && a.sharing_key == b.sharing_key
        && a.backend_key == b.backend_key
        && a.ports.iter().all(|p| !b.ports.contains(p))
}

impl Cluster {
    fn texts(ips: &[IpAddr]) -> Vec<String> {
        ips.iter()
            .map(|ip| common::gotext::ip_string(*ip))
            .collect()
    }

    /// One convergence pass over one service, writing the status like the controller.
    /// Returns whether the service asked to be retried.
    fn pass(&mut self, key: &str, synced: bool) -> bool {
        let Some((spec, status)) = self.services.get(key).cloned() else {
            return false;
        };
        let c = converge(&mut self.alloc, key, &spec, &Self::texts(&status), synced);
        if let (Status::Set(ips), Some(entry)) = (c.status, self.services.get_mut(key)) {
            entry.1 = ips;
        }
        c.retry
    }

    /// Is the service's current status an assignment the controller must keep?
    fn valid(&self, key: &str) -> bool {
        let Some((spec, status)) = self.services.get(key) else {
            return false;
        };
        if status.is_empty() || !spec.is_load_balancer || spec.family().is_err() {
            return false;
        }
        let family_ok = spec.family().ok()
            == common::allocator::family_for_ips(
                &status.iter().map(|ip| Some(*ip)).collect::<Vec<_>>(),
            )
            .ok();
        let Some(owner) = self
            .config
            .iter()
            .find(|p| status.iter().all(|ip| p.allows(*ip)))
        else {
            return false;
        };
        let pool_ok = spec
            .pool()
            .is_none_or(|want| want == owner.name || !self.config.iter().any(|p| p.name == want));
        let request_ok = match spec.desired_ips() {
            Ok(None) => true,
            Ok(Some(d)) => {
                let (mut a, mut b) = (d.ips.clone(), status.clone());
                a.sort();
                b.sort();
                a == b
            }
            Err(_) => false,
        };
        let sharing_ok = self.services.iter().all(|(other, (ospec, ostatus))| {
            other == key
                || !ostatus.iter().any(|ip| status.contains(ip))
                || may_share(&spec.usage, &ospec.usage)
        });
        family_ok && pool_ok && request_ok && sharing_ok
    }

    /// `ReprocessAll`, asserting valid assignments survive.
    fn reprocess_all(&mut self) -> Result<(), TestCaseError> {
        let keys: Vec<String> = self.services.keys().cloned().collect();
        for key in keys {
            self.pass_checked(&key, true)?;
        }
        Ok(())
    }

    fn pass_checked(&mut self, key: &str, synced: bool) -> Result<bool, TestCaseError> {
        let before = self.services.get(key).map(|s| s.1.clone());
        let valid = self.valid(key);
        let retry = self.pass(key, synced);
        if valid {
            prop_assert_eq!(
                self.services.get(key).map(|s| s.1.clone()),
                before,
                "valid assignment of {} changed",
                key
            );
        }
        Ok(retry)
    }

    fn check_invariants(&self) -> Result<(), TestCaseError> {
        let mut by_ip: BTreeMap<IpAddr, Vec<&String>> = BTreeMap::new();
        for (key, (_, status)) in &self.services {
            for ip in status {
                prop_assert!(
                    self.config.iter().any(|p| p.allows(*ip)),
                    "{} holds {} outside the config",
                    key,
                    ip
                );
                by_ip.entry(*ip).or_default().push(key);
            }
            let held = self
                .alloc
                .ips_of(key)
                .map(<[IpAddr]>::to_vec)
                .unwrap_or_default();
            prop_assert_eq!(&held, status, "allocator and status of {} disagree", key);
        }
        for (ip, holders) in by_ip {
            for (i, a) in holders.iter().enumerate() {
                for b in &holders[i + 1..] {
                    prop_assert!(
                        may_share(&self.services[*a].0.usage, &self.services[*b].0.usage),
                        "{} and {} both hold {} but may not share",
                        a,
                        b,
                        ip
                    );
                }
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn allocation_invariants_hold_through_any_history(ops in proptest::collection::vec(op(), 1..80)) {
        let configs = configs();
        let mut cluster = Cluster {
            config: configs[0].clone(),
            alloc: Allocator::with_pools(&configs[0]),
            services: BTreeMap::new(),
        };
        for op in ops {
            match op {
                Op::Upsert(s, spec) => {
                    let key = format!("ns/s{s}");
                    let status = cluster.services.remove(&key).map(|e| e.1).unwrap_or_default();
                    cluster.services.insert(key.clone(), (spec, status));
                    cluster.pass_checked(&key, true)?;
                }
                Op::Delete(s) => {
                    let key = format!("ns/s{s}");
                    cluster.services.remove(&key);
                    cluster.alloc.unassign(&key);
                    cluster.reprocess_all()?;
                }
                Op::Config(i) => {
                    let new = &configs[i];
                    let orphan = cluster
                        .services
                        .values()
                        .any(|(_, st)| !st.is_empty() && !new.iter().any(|p| st.iter().all(|ip| p.allows(*ip))));
                    match cluster.alloc.set_pools(new) {
                        Ok(_) => {
                            prop_assert!(!orphan, "config {} accepted although it orphans a status", i);
                            cluster.config = new.clone();
                            cluster.reprocess_all()?;
                        }
                        Err(_) => prop_assert!(orphan, "config {} refused without an orphan", i),
                    }
                }
                Op::Reprocess(s) => {
                    cluster.pass_checked(&format!("ns/s{s}"), true)?;
                }
                Op::Restart => {
                    cluster.alloc = Allocator::with_pools(&cluster.config);
                    let keys: Vec<String> = cluster.services.keys().cloned().collect();
                    let mut deferred = Vec::new();
                    for key in &keys {
                        if cluster.pass_checked(key, false)? {
                            deferred.push(key.clone());
                        }
                    }
                    for key in &deferred {
                        cluster.pass_checked(key, true)?;
                    }
                }
            }
            cluster.check_invariants()?;
        }
    }
}
