//! Label selectors in the objects: conversion to [`Selector`], and upstream's duplicate checks
//! with the texts it prints them in.

use crate::config::{Labels, Selector};
use crate::crd::error::Reason;
use crate::crd::types::{LabelSelector, MatchExpression};
use crate::gotext::quote;

/// `metav1.LabelSelectorAsSelector`, with apimachinery's validation.
pub(crate) fn to_selector(s: &LabelSelector) -> Result<Selector, String> {
    let exprs: Vec<(String, String, Vec<String>)> = s
        .match_expressions
        .iter()
        .map(|e| (e.key.clone(), e.operator.clone(), e.values.clone()))
        .collect();
    Selector::from_parts(&s.match_labels, &exprs).map_err(|e| e.to_string())
}

/// Does this selector list select `labels`? An empty list selects nothing (pool selectors);
/// each selector is validated.
pub(crate) fn any_matches(list: &[LabelSelector], labels: &Labels) -> Result<bool, Reason> {
    let mut hit = false;
    for s in list {
        let sel = to_selector(s).map_err(|reason| Reason::Selector {
            selector: go_string(s),
            reason,
        })?;
        hit |= sel.matches(labels);
    }
    Ok(hit)
}

/// `validateDuplicate`: the first value given twice.
pub(crate) fn duplicate(values: &[String], what: &'static str) -> Result<(), Reason> {
    for (i, v) in values.iter().enumerate() {
        if values[i + 1..].contains(v) {
            return Err(Reason::Duplicate {
                what,
                value: quote(v),
            });
        }
    }
    Ok(())
}

/// `validateLabelSelectorDuplicate`: within each selector no repeated expression values or
/// expressions, and no two selectors alike (compared with sorted values, as upstream sorts
/// them in place first).
pub(crate) fn duplicate_selectors(
    list: &[LabelSelector],
    what: &'static str,
) -> Result<(), Reason> {
    let sorted: Vec<LabelSelector> = list
        .iter()
        .map(|s| {
            let mut s = s.clone();
            for e in &mut s.match_expressions {
                e.values.sort();
            }
            s
        })
        .collect();
    let texts: Vec<String> = sorted.iter().map(go_string).collect();
    for (i, s) in sorted.iter().enumerate() {
        duplicate_expressions(&s.match_expressions)?;
        if texts[i + 1..].contains(&texts[i]) {
            return Err(Reason::Duplicate {
                what,
                value: go_value(s),
            });
        }
    }
    Ok(())
}

fn duplicate_expressions(exprs: &[MatchExpression]) -> Result<(), Reason> {
    let texts: Vec<String> = exprs.iter().map(requirement_string).collect();
    for (i, e) in exprs.iter().enumerate() {
        duplicate(&e.values, "match expression value in label selector")?;
        if texts[i + 1..].contains(&texts[i]) {
            return Err(Reason::Duplicate {
                what: "match expressions",
                value: requirement_value(e),
            });
        }
    }
    Ok(())
}

/// The generated `String()` of `metav1.LabelSelectorRequirement`, without its leading `&`.
fn requirement_string(e: &MatchExpression) -> String {
    format!(
        "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}}",
        e.key,
        e.operator,
        e.values.join(" ")
    )
}

/// `fmt`'s `%q` of a `metav1.LabelSelectorRequirement` value: its fields, each quoted.
fn requirement_value(e: &MatchExpression) -> String {
    let values: Vec<String> = e.values.iter().map(|v| quote(v)).collect();
    format!(
        "{{{} {} [{}]}}",
        quote(&e.key),
        quote(&e.operator),
        values.join(" ")
    )
}

/// `fmt`'s `%q` of a `metav1.LabelSelector` value, as upstream's duplicate message prints it
/// (the generated `String()` has a pointer receiver, so `fmt` walks the fields instead).
fn go_value(s: &LabelSelector) -> String {
    let labels: Vec<String> = s
        .match_labels
        .iter()
        .map(|(k, v)| format!("{}:{}", quote(k), quote(v)))
        .collect();
    let exprs: Vec<String> = s.match_expressions.iter().map(requirement_value).collect();
    format!("{{map[{}] [{}]}}", labels.join(" "), exprs.join(" "))
}

/// The generated `String()` of `metav1.LabelSelector`: what upstream compares selectors by,
/// and how it names one in a selector error.
pub(crate) fn go_string(s: &LabelSelector) -> String {
    let labels: String = s
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}: {v},"))
        .collect();
    let exprs: String = s
        .match_expressions
        .iter()
        .map(|e| format!("{},", requirement_string(e)))
        .collect();
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(labels: &[(&str, &str)], exprs: &[(&str, &str, &[&str])]) -> LabelSelector {
        LabelSelector {
            match_labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            match_expressions: exprs
                .iter()
                .map(|(k, o, v)| MatchExpression {
                    key: (*k).to_owned(),
                    operator: (*o).to_owned(),
                    values: v.iter().map(|s| (*s).to_owned()).collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn go_string_matches_the_generated_code() {
        let s = sel(&[("b", "2"), ("a", "1")], &[("k", "In", &["x", "y"])]);
        assert_eq!(
            go_string(&s),
            "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:k,Operator:In,Values:[x y],},},}"
        );
    }

    #[test]
    fn duplicates_are_found_with_sorted_values() {
        let a = sel(&[], &[("k", "In", &["x", "y"])]);
        let b = sel(&[], &[("k", "In", &["y", "x"])]);
        let err = duplicate_selectors(&[a.clone(), b], "nodeSelectors").expect_err("alike");
        assert_eq!(
            err.to_string(),
            "duplicate definition of nodeSelectors {map[] [{\"k\" \"In\" [\"x\" \"y\"]}]}"
        );
        assert!(
            duplicate_selectors(&[a.clone(), sel(&[("k", "x")], &[])], "nodeSelectors").is_ok()
        );
        let twice = sel(&[], &[("k", "In", &["x", "x"])]);
        assert_eq!(
            duplicate_selectors(&[twice], "nodeSelectors")
                .expect_err("value twice")
                .to_string(),
            "duplicate definition of match expression value in label selector \"x\""
        );
        assert_eq!(
            duplicate(&["a".into(), "b".into(), "a".into()], "ipAddressPools")
                .expect_err("twice")
                .to_string(),
            "duplicate definition of ipAddressPools \"a\""
        );
    }

    #[test]
    fn matching_validates_each_selector() {
        let labels: Labels = [("zone".to_owned(), "a".to_owned())].into();
        assert!(any_matches(&[sel(&[("zone", "a")], &[])], &labels).expect("valid"));
        assert!(!any_matches(&[], &labels).expect("valid"));
        assert!(any_matches(&[sel(&[], &[("zone", "Equals", &["a"])])], &labels).is_err());
    }
}
