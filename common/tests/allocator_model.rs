//! The indexed allocator against a naive reference model: upstream's algorithm written out
//! literally (linear scans over every address, holders found by searching all allocations),
//! on pools small enough to scan. Every operation must give the same result — addresses or
//! error text — and leave the same allocations and pool statistics.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::allocator::{Allocator, Family, Port, Usage, go_ip_list};
use common::config::{Pool, Protocol};
use common::gotext::{ip_string, quote};
use ipnet::IpNet;
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

/// Configurations a test switches between: renames, a shrink, a split, flipped options.
fn configs() -> Vec<Vec<Pool>> {
    let b = |avoid, auto| pool("b", &["10.0.0.254/31", "10.0.1.0/30"], avoid, auto);
    let d = pool("d", &["fd00::/126", "10.0.2.0/30"], false, true);
    vec![
        vec![
            pool("a", &["10.0.0.0/29"], false, true),
            b(true, false),
            d.clone(),
        ],
        vec![
            pool("a2", &["10.0.0.0/29"], false, true),
            b(true, false),
            d.clone(),
        ],
        vec![
            pool("a", &["10.0.0.0/30"], false, true),
            b(true, false),
            d.clone(),
        ],
        vec![
            pool("a", &["10.0.0.0/30"], false, true),
            pool("a-hi", &["10.0.0.4/30"], true, true),
            b(true, false),
            pool("d", &["10.0.2.0/30", "fd00::/126"], false, true),
        ],
        vec![pool("a", &["10.0.0.0/29"], false, true), b(false, true), d],
        vec![pool("a", &["10.0.0.0/29"], false, false), b(true, true)],
    ]
}

fn key_of(u: &Usage) -> (&str, &str) {
    (&u.sharing_key, &u.backend_key)
}

/// Upstream's allocator, transcribed.
#[derive(Default)]
struct Model {
    pools: Vec<Pool>,
    allocs: BTreeMap<String, (Vec<IpAddr>, Usage)>,
}

impl Model {
    fn pool_for(pools: &[Pool], ips: &[IpAddr]) -> Option<usize> {
        if ips.is_empty() {
            return None;
        }
        pools
            .iter()
            .position(|p| ips.iter().all(|ip| p.allows(*ip)))
    }

    fn check_sharing(&self, svc: &str, ip: IpAddr, usage: &Usage) -> Result<(), String> {
        let holders: Vec<(&String, &Usage)> = self
            .allocs
            .iter()
            .filter(|(_, (ips, _))| ips.contains(&ip))
            .map(|(s, (_, u))| (s, u))
            .collect();
        let Some((_, existing)) = holders.first() else {
            return Ok(());
        };
        let compatible = !existing.sharing_key.is_empty()
            && !usage.sharing_key.is_empty()
            && key_of(existing) == key_of(usage);
        if !compatible {
            let others: Vec<&str> = holders
                .iter()
                .map(|(s, _)| s.as_str())
                .filter(|s| *s != svc)
                .collect();
            if !others.is_empty() {
                let rule = if existing.sharing_key.is_empty() {
                    "existing service does not allow sharing".to_owned()
                } else if usage.sharing_key.is_empty() {
                    "new service does not allow sharing".to_owned()
                } else if existing.sharing_key != usage.sharing_key {
                    format!(
                        "sharing key {} does not match existing sharing key {}",
                        quote(&usage.sharing_key),
                        quote(&existing.sharing_key)
                    )
                } else {
                    format!(
                        "backend key {} does not match existing backend key {} (services sharing an IP must all use externalTrafficPolicy Cluster, or all Local with the same selector)",
                        quote(&usage.backend_key),
                        quote(&existing.backend_key)
                    )
                };
                return Err(format!(
                    "can't change sharing key for {}, address also in use by {}: {rule}",
                    quote(svc),
                    others.join(",")
                ));
            }
        }
        for port in &usage.ports {
            if let Some((holder, _)) = holders
                .iter()
                .find(|(s, u)| s.as_str() != svc && u.ports.contains(port))
            {
                return Err(format!(
                    "port {port} is already in use on {} by {}",
                    quote(&ip_string(ip)),
                    quote(holder)
                ));
            }
        }
        Ok(())
    }

    fn assign(&mut self, svc: &str, ips: &[IpAddr], usage: &Usage) -> Result<Vec<IpAddr>, String> {
        if Self::pool_for(&self.pools, ips).is_none() {
            let allowed = |ip: &IpAddr| self.pools.iter().any(|p| p.allows(*ip));
            let buggy = ips.iter().filter(|ip| !allowed(ip)).find_map(|ip| {
                self.pools
                    .iter()
                    .find(|p| p.contains(*ip))
                    .map(|p| (p.name.clone(), *ip))
            });
            let suffix = match (buggy, ips.len()) {
                (Some((pool, ip)), _) => format!(
                    ": pool {} has avoid-buggy-ips, which excludes {}",
                    quote(&pool),
                    quote(&ip_string(ip))
                ),
                (None, 0) => String::new(),
                (None, 1) => ": no address pool contains it".to_owned(),
                (None, _) => match ips.iter().find(|ip| !allowed(ip)) {
                    Some(ip) => format!(": no address pool contains {}", quote(&ip_string(*ip))),
                    None => ": no single address pool contains them all".to_owned(),
                },
            };
            return Err(format!(
                "{} is not allowed in config{suffix}",
                go_ip_list(ips)
            ));
        }
        if ips.len() > 2 {
            return Err(format!("More than two addresses {}", go_ip_list(ips)));
        }
        if let [a, b] = ips
            && a.is_ipv4() == b.is_ipv4()
        {
            return Err(format!(
                "{} {} has the same family",
                quote(&ip_string(*a)),
                quote(&ip_string(*b))
            ));
        }
        for ip in ips {
            self.check_sharing(svc, *ip, usage)?;
        }
        self.allocs
            .insert(svc.to_owned(), (ips.to_vec(), usage.clone()));
        Ok(ips.to_vec())
    }

    fn family(ips: &[IpAddr]) -> Family {
        match ips {
            [a] if a.is_ipv4() => Family::V4,
            [_] => Family::V6,
            _ => Family::Dual,
        }
    }

    fn allocate_from_pool(
        &mut self,
        svc: &str,
        fam: Family,
        name: &str,
        usage: &Usage,
    ) -> Result<Vec<IpAddr>, String> {
        if let Some((ips, _)) = self.allocs.get(svc).cloned() {
            if Self::family(&ips) != fam {
                return Err(format!(
                    "IP for wrong family assigned alloc {} service family {fam}",
                    Self::family(&ips)
                ));
            }
            return self.assign(svc, &ips, usage);
        }
        let Some(p) = self.pools.iter().find(|p| p.name == name).cloned() else {
            return Err(format!("unknown pool {}", quote(name)));
        };
        let (mut want4, mut want6) = (fam != Family::V6, fam != Family::V4);
        let mut found = Vec::new();
        for cidr in &p.cidrs {
            let want = if matches!(cidr, IpNet::V4(_)) {
                &mut want4
            } else {
                &mut want6
            };
            if !*want {
                continue;
            }
            let hit = addresses(*cidr)
                .filter(|ip| p.allows(*ip))
                .find(|ip| self.check_sharing(svc, *ip, usage).is_ok());
            if let Some(ip) = hit {
                found.push(ip);
                *want = false;
            }
        }
        if want4 || want6 {
            let missing_v4 = want4;
            let capacity = p
                .cidrs
                .iter()
                .filter(|c| matches!(c, IpNet::V4(_)) == missing_v4)
                .flat_map(|c| addresses(*c))
                .filter(|ip| p.allows(*ip))
                .count();
            let fam_text = if missing_v4 { "ipv4" } else { "ipv6" };
            let detail = match (capacity, usage.sharing_key.is_empty()) {
                (0, _) => format!("the pool has no {fam_text} addresses"),
                (n, true) => format!("all {n} {fam_text} addresses are in use"),
                (n, false) => format!(
                    "all {n} {fam_text} addresses are in use, none shareable with this service (key, backend or port)"
                ),
            };
            return Err(format!(
                "no available IPs in pool {} for {fam} IPFamily: {detail}",
                quote(name)
            ));
        }
        self.assign(svc, &found, usage)
    }

    fn allocate(&mut self, svc: &str, fam: Family, usage: &Usage) -> Result<Vec<IpAddr>, String> {
        if let Some((ips, _)) = self.allocs.get(svc).cloned() {
            return self.assign(svc, &ips, usage);
        }
        let mut tried = Vec::new();
        for p in self.pools.clone() {
            if !p.auto_assign {
                continue;
            }
            match self.allocate_from_pool(svc, fam, &p.name, usage) {
                Ok(ips) => return Ok(ips),
                Err(e) => {
                    // The pool's name is said once, in front.
                    let detail = e
                        .split_once(" IPFamily: ")
                        .filter(|_| e.starts_with("no available IPs in pool"))
                        .map_or(e.as_str(), |(_, d)| d)
                        .to_owned();
                    tried.push(format!("pool {}: {detail}", quote(&p.name)));
                }
            }
        }
        if tried.is_empty() {
            return Err("no available IPs: no address pool has auto-assign enabled".to_owned());
        }
        Err(format!("no available IPs: {}", tried.join("; ")))
    }

    fn set_pools(&mut self, pools: &[Pool]) -> Result<(), String> {
        for (svc, (ips, _)) in &self.allocs {
            if Self::pool_for(pools, ips).is_none() {
                return Err(format!(
                    "new config not compatible with assigned IPs: service {} cannot own {} under new config",
                    quote(svc),
                    go_ip_list(ips)
                ));
            }
        }
        self.pools = pools.to_vec();
        Ok(())
    }

    fn pool_of(&self, svc: &str) -> Option<&str> {
        let (ips, _) = self.allocs.get(svc)?;
        Self::pool_for(&self.pools, ips).map(|i| self.pools[i].name.as_str())
    }

    fn stats(&self) -> Vec<(String, u128, u128)> {
        self.pools
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let capacity = p
                    .cidrs
                    .iter()
                    .flat_map(|c| addresses(*c))
                    .filter(|ip| p.allows(*ip))
                    .count();
                let mut used: Vec<IpAddr> = self
                    .allocs
                    .values()
                    .filter(|(ips, _)| Self::pool_for(&self.pools, ips) == Some(i))
                    .flat_map(|(ips, _)| ips.clone())
                    .collect();
                used.sort();
                used.dedup();
                (p.name.clone(), capacity as u128, used.len() as u128)
            })
            .collect()
    }
}

fn addresses(net: IpNet) -> Box<dyn Iterator<Item = IpAddr>> {
    match net {
        IpNet::V4(n) => Box::new(
            (u32::from(n.network())..=u32::from(n.broadcast()))
                .map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        ),
        IpNet::V6(n) => Box::new(
            (u128::from(n.network())..=u128::from(n.broadcast()))
                .map(|v| IpAddr::V6(Ipv6Addr::from(v))),
        ),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Assign(usize, Vec<IpAddr>, Usage),
    FromPool(usize, Family, &'static str, Usage),
    Allocate(usize, Family, Usage),
    Unassign(usize),
    SetPools(usize),
}

fn usage() -> impl Strategy<Value = Usage> {
    (
        prop_oneof![Just(""), Just("k"), Just("j")],
        prop_oneof![Just(""), Just("app=x")],
        proptest::sample::subsequence(vec![("TCP", 80), ("TCP", 443), ("UDP", 53)], 0..=2),
    )
        .prop_map(|(k, b, ports)| Usage {
            ports: ports.into_iter().map(|(p, n)| Port::new(p, n)).collect(),
            sharing_key: k.to_owned(),
            backend_key: b.to_owned(),
        })
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![3 => Just(Family::V4), 1 => Just(Family::V6), 1 => Just(Family::Dual)]
}

fn address() -> impl Strategy<Value = IpAddr> {
    proptest::sample::select(vec![
        "10.0.0.0",
        "10.0.0.1",
        "10.0.0.5",
        "10.0.0.7",
        "10.0.0.254",
        "10.0.0.255",
        "10.0.1.0",
        "10.0.1.2",
        "10.0.2.1",
        "fd00::",
        "fd00::3",
        "192.0.2.1",
        "::ffff:10.0.0.2",
    ])
    .prop_map(|s| s.parse::<IpAddr>().expect("test input").to_canonical())
}

const SERVICES: usize = 10;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..SERVICES, proptest::collection::vec(address(), 1..=3), usage()).prop_map(|(s, a, u)| Op::Assign(s, a, u)),
        4 => (0..SERVICES, family(), proptest::sample::select(vec!["a", "a2", "a-hi", "b", "d", "nope"]), usage())
            .prop_map(|(s, f, p, u)| Op::FromPool(s, f, p, u)),
        4 => (0..SERVICES, family(), usage()).prop_map(|(s, f, u)| Op::Allocate(s, f, u)),
        2 => (0..SERVICES).prop_map(Op::Unassign),
        1 => (0..configs().len()).prop_map(Op::SetPools),
    ]
}

fn text<T>(r: Result<T, impl ToString>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn indexed_allocator_matches_the_reference_model(ops in proptest::collection::vec(op(), 1..120)) {
        let configs = configs();
        let mut real = Allocator::with_pools(&configs[0]);
        let mut model = Model { pools: configs[0].clone(), ..Model::default() };
        for op in ops {
            let (got, want) = match &op {
                Op::Assign(s, ips, u) => {
                    let svc = format!("s{s}");
                    (text(real.assign(&svc, ips, u).map(|l| l.to_vec())), model.assign(&svc, ips, u))
                }
                Op::FromPool(s, f, p, u) => {
                    let svc = format!("s{s}");
                    (text(real.allocate_from_pool(&svc, *f, p, u).map(|l| l.to_vec())), model.allocate_from_pool(&svc, *f, p, u))
                }
                Op::Allocate(s, f, u) => {
                    let svc = format!("s{s}");
                    (text(real.allocate(&svc, *f, u).map(|l| l.to_vec())), model.allocate(&svc, *f, u))
                }
                Op::Unassign(s) => {
                    let svc = format!("s{s}");
                    let had = model.allocs.remove(&svc).is_some();
                    (Ok(Vec::new()), if real.unassign(&svc) == had { Ok(Vec::new()) } else { Err("unassign disagrees".into()) })
                }
                Op::SetPools(i) => (
                    text(real.set_pools(&configs[*i]).map(|_| Vec::new())),
                    model.set_pools(&configs[*i]).map(|()| Vec::new()),
                ),
            };
            prop_assert_eq!(got, want, "{:?}", op);
            for s in 0..SERVICES {
                let svc = format!("s{s}");
                prop_assert_eq!(real.ips_of(&svc).map(<[IpAddr]>::to_vec), model.allocs.get(&svc).map(|(ips, _)| ips.clone()));
                prop_assert_eq!(real.pool_of(&svc), model.pool_of(&svc));
            }
            let stats: Vec<(String, u128, u128)> =
                real.pool_stats().into_iter().map(|p| (p.name, p.capacity, p.in_use)).collect();
            prop_assert_eq!(stats, model.stats());
        }
    }
}
