//! What the allocator reads from a Service (docs/allocation.md#service-inputs), and the
//! requested-address rules.
//!
//! The controller fills a [`ServiceSpec`] from the Kubernetes object; everything here is
//! plain data so convergence is testable without an API server.

use std::net::IpAddr;

use super::family::{Family, FamilyError, family_for_ips, family_for_texts, parse_ip};
use super::sharing::Usage;
use crate::gotext::quote;

/// `metallb.universe.tf/address-pool`.
pub const ANNOTATION_ADDRESS_POOL: &str = "metallb.universe.tf/address-pool";
/// `metallb.universe.tf/allow-shared-ip`.
pub const ANNOTATION_ALLOW_SHARED_IP: &str = "metallb.universe.tf/allow-shared-ip";
/// `metallb.universe.tf/loadBalancerIPs` (v0.12).
pub const ANNOTATION_LOAD_BALANCER_IPS: &str = "metallb.universe.tf/loadBalancerIPs";

/// The allocation-relevant fields of a Service. Empty strings mean "not set", as Go's
/// zero values and missing annotations do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceSpec {
    /// `spec.type == LoadBalancer`.
    pub is_load_balancer: bool,
    /// `spec.clusterIPs` (or `[spec.clusterIP]` when the list is absent); gives the family.
    pub cluster_ips: Vec<String>,
    /// `spec.loadBalancerIP`.
    pub load_balancer_ip: String,
    /// Annotation `metallb.universe.tf/loadBalancerIPs`.
    pub load_balancer_ips: String,
    /// Annotation `metallb.universe.tf/address-pool`.
    pub address_pool: String,
    /// Ports, sharing key and backend key.
    pub usage: Usage,
}

/// Addresses the user asked for, in the order asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub ips: Vec<IpAddr>,
    pub family: Family,
}

/// Why the requested addresses are unusable (texts of upstream's `getDesiredLbIPs`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("service can not have both {ANNOTATION_LOAD_BALANCER_IPS} and svc.Spec.LoadBalancerIP")]
    Both,
    #[error("invalid {ANNOTATION_LOAD_BALANCER_IPS}: {}", quote(.0))]
    InvalidAnnotation(String),
    #[error("invalid spec.loadBalancerIP {}", quote(.0))]
    InvalidSpec(String),
    #[error(transparent)]
    Family(#[from] FamilyError),
}

impl ServiceSpec {
    /// The service's family from its cluster IPs (`ipfamily.ForAddresses`).
    pub fn family(&self) -> Result<Family, FamilyError> {
        family_for_texts(&self.cluster_ips)
    }

    /// The pool annotation, if set.
    pub fn pool(&self) -> Option<&str> {
        Some(self.address_pool.as_str()).filter(|p| !p.is_empty())
    }

    /// `getDesiredLbIPs`: the annotation (comma-separated, items trimmed, one address or two
    /// of different families) or `spec.loadBalancerIP`; never both.
    pub fn desired_ips(&self) -> Result<Option<Desired>, RequestError> {
        match (
            self.load_balancer_ips.is_empty(),
            self.load_balancer_ip.is_empty(),
        ) {
            (true, true) => Ok(None),
            (false, false) => Err(RequestError::Both),
            (false, true) => {
                let ips = self
                    .load_balancer_ips
                    .split(',')
                    .map(|item| parse_ip(item.trim_matches(char::is_whitespace)))
                    .collect::<Option<Vec<IpAddr>>>()
                    .ok_or_else(|| {
                        RequestError::InvalidAnnotation(self.load_balancer_ips.clone())
                    })?;
                let family = family_for_ips(&ips.iter().copied().map(Some).collect::<Vec<_>>())?;
                Ok(Some(Desired { ips, family }))
            }
            (true, false) => {
                let ip = parse_ip(&self.load_balancer_ip)
                    .ok_or_else(|| RequestError::InvalidSpec(self.load_balancer_ip.clone()))?;
                Ok(Some(Desired {
                    ips: vec![ip],
                    family: Family::of(ip),
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(lb_ip: &str, annotation: &str) -> ServiceSpec {
        ServiceSpec {
            load_balancer_ip: lb_ip.to_owned(),
            load_balancer_ips: annotation.to_owned(),
            ..ServiceSpec::default()
        }
    }

    fn err(s: ServiceSpec) -> String {
        s.desired_ips().unwrap_err().to_string()
    }

    #[test]
    fn requested_addresses() {
        assert_eq!(spec("", "").desired_ips(), Ok(None));
        let one = spec("192.0.2.7", "").desired_ips().unwrap().unwrap();
        assert_eq!(
            (one.ips, one.family),
            (vec![parse_ip("192.0.2.7").unwrap()], Family::V4)
        );
        let dual = spec("", " 1000::1 , 1.2.3.0")
            .desired_ips()
            .unwrap()
            .unwrap();
        assert_eq!(
            dual.ips,
            vec![parse_ip("1000::1").unwrap(), parse_ip("1.2.3.0").unwrap()]
        );
        assert_eq!(dual.family, Family::Dual);
    }

    #[test]
    fn request_errors_have_upstream_text() {
        assert_eq!(
            err(spec("1.2.3.4", "1.2.3.4")),
            "service can not have both metallb.universe.tf/loadBalancerIPs and svc.Spec.LoadBalancerIP"
        );
        assert_eq!(
            err(spec("", "1.2.3.4,")),
            r#"invalid metallb.universe.tf/loadBalancerIPs: "1.2.3.4,""#
        );
        assert_eq!(
            err(spec("1.2.3", "")),
            r#"invalid spec.loadBalancerIP "1.2.3""#
        );
        assert_eq!(
            err(spec("", "1.2.3.4,5.6.7.8")),
            r#"IPFamilyForAddresses: same address family ["1.2.3.4" "5.6.7.8"]"#
        );
        assert_eq!(
            err(spec("", "1.2.3.4,::1,5.6.7.8")),
            r#"IPFamilyForAddresses: invalid ips length 3 ["1.2.3.4" "::1" "5.6.7.8"]"#
        );
    }

    #[test]
    fn family_comes_from_cluster_ips() {
        let mut s = ServiceSpec::default();
        assert!(s.family().is_err());
        s.cluster_ips = vec!["10.96.0.1".into(), "fd00::1".into()];
        assert_eq!(s.family(), Ok(Family::Dual));
        s.address_pool = String::new();
        assert_eq!(s.pool(), None);
    }
}
