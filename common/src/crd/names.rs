//! Object names for converted legacy objects: upstream's renaming of names Kubernetes would
//! refuse, and numbering that keeps the ConfigMap's order in the API's name order.

use std::collections::BTreeMap;

use crate::crd::convert::ConvertError;

fn unrepresentable(what: String, why: impl Into<String>) -> ConvertError {
    ConvertError::Unrepresentable {
        what,
        why: why.into(),
    }
}

/// Digits of `n`: object numbers are zero-padded to it, so that name order (the API's list
/// order) is the ConfigMap's order. Below ten objects the names are upstream's.
pub(crate) fn digits(n: usize) -> usize {
    n.max(1).to_string().len()
}

pub(crate) fn object_name(renames: &BTreeMap<String, String>, name: &str) -> String {
    renames
        .get(name)
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

/// Upstream's renaming (`formatToK8S`) of every name that is not already
/// `^[a-z][-a-z0-9]{0,61}[a-z0-9]$`: first 63 characters, lower case, `_` as `-`, up to the
/// first letter. A result that is still no valid object name, or that collides, is refused.
pub(crate) fn rename_all<'n>(
    names: impl Iterator<Item = &'n String>,
    kind: &str,
) -> Result<BTreeMap<String, String>, ConvertError> {
    let names: Vec<&String> = names.collect();
    let mut out = BTreeMap::new();
    for name in &names {
        if upstream_valid(name) {
            continue;
        }
        let truncated: String = name.chars().take(63).collect();
        let lower = truncated.to_lowercase().replace('_', "-");
        let Some(first) = lower.find(|c: char| c.is_ascii_lowercase()) else {
            return Err(unrepresentable(
                format!("{kind} {name:?}"),
                "no letter to start an object name with",
            ));
        };
        let renamed = lower[first..].to_owned();
        if !dns_subdomain(&renamed) {
            return Err(unrepresentable(
                format!("{kind} {name:?}"),
                format!(
                    "{renamed:?} is still not a valid object name (lower-case letters, digits, '-' and '.')"
                ),
            ));
        }
        if renamed != **name {
            out.insert((*name).clone(), renamed);
        }
    }
    let mut finals: Vec<String> = names.iter().map(|n| object_name(&out, n)).collect();
    finals.sort();
    if let Some(w) = finals.windows(2).find(|w| w[0] == w[1]) {
        return Err(unrepresentable(
            format!("{kind} {:?}", w[0]),
            "two legacy names become the same object name",
        ));
    }
    Ok(out)
}

fn upstream_valid(name: &str) -> bool {
    let b = name.as_bytes();
    (2..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1].is_ascii_lowercase() | b[b.len() - 1].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// A DNS-1123 subdomain: what the API server accepts as a custom object's name.
fn dns_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            let b = label.as_bytes();
            let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
            match (b.first(), b.last()) {
                (Some(f), Some(l)) => ok(f) && ok(l) && b.iter().all(|c| ok(c) || *c == b'-'),
                _ => false,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_renamed_as_upstream_renames_them() {
        let names: Vec<String> = ["ok-name", "My_Pool", "9lives", "a", "x.y"]
            .map(str::to_owned)
            .to_vec();
        let renamed = rename_all(names.iter(), "IPAddressPool").expect("valid");
        assert_eq!(
            renamed,
            [
                ("9lives".to_owned(), "lives".to_owned()),
                ("My_Pool".to_owned(), "my-pool".to_owned())
            ]
            .into()
        );
        assert!(rename_all([&"pool one".to_owned()].into_iter(), "IPAddressPool").is_err());
        assert!(rename_all([&"42".to_owned()].into_iter(), "IPAddressPool").is_err());
        assert_eq!(
            (digits(0), digits(9), digits(10), digits(100)),
            (1, 1, 2, 3)
        );
    }
}
