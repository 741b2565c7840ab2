//! `route/fan-out`: one alert starts at most one run.

use serde_json::{Map, Value};

use super::Check;

pub const CHECK: Check = Check {
    id: "route/fan-out",
    refuses: "a receiver that lists the listener more than once, and a route tree along which one alert could reach the listener more than once (`continue`, inherited receivers)",
    why: "each delivery to the listener starts a retraining run: one drift would start many",
};

/// Most routes a fan-out message names before it stops listing.
const LISTED_ROUTES: usize = 5;

/// How many times one alert can reach the tenant's listener through a route subtree, at
/// most, and along which routes (a few, for the message).
#[derive(Debug, Clone, Default)]
pub struct Fanout {
    pub runs: usize,
    pub via: Vec<String>,
    /// Already reported below: a parent does not report it again.
    pub reported: bool,
}

impl Fanout {
    pub fn plus(&self, other: &Fanout) -> Fanout {
        let mut via = self.via.clone();
        via.extend(other.via.iter().cloned());
        via.truncate(LISTED_ROUTES + 1);
        Fanout {
            runs: self.runs.saturating_add(other.runs),
            via,
            reported: self.reported || other.reported,
        }
    }

    pub fn most(self, other: Fanout) -> Fanout {
        let reported = self.reported || other.reported;
        let mut best = if other.runs > self.runs { other } else { self };
        best.reported = reported;
        best
    }
}

/// A reviewed child route, as the fan-out bound needs it.
pub struct Child {
    pub fanout: Fanout,
    pub continues: bool,
    /// Its `label = value` matchers: an alert has one value per label, so two children
    /// requiring different values of one label never both match it.
    pub equal: Vec<(String, String)>,
}

/// The `name = value` matchers of a route, in both versions' shapes: `matchType: "="`,
/// or (v1alpha1) no `matchType` and no `regex: true`.
pub fn equality_matchers(route: &Map<String, Value>) -> Vec<(String, String)> {
    let Some(matchers) = route.get("matchers").and_then(Value::as_array) else {
        return Vec::new();
    };
    matchers
        .iter()
        .filter_map(|m| {
            let name = m.get("name")?.as_str()?;
            let value = m.get("value").and_then(Value::as_str).unwrap_or_default();
            let equal = match m.get("matchType") {
                Some(Value::String(t)) => t == "=",
                None | Some(Value::Null) => m.get("regex") != Some(&Value::Bool(true)),
                Some(_) => false,
            };
            equal.then(|| (name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// The most listener deliveries one alert can get from `way`, children it may match
/// together. Their sum bounds it; so does, for any label, the children that do not
/// pin the label plus the best group of those that pin it to one value (an alert has
/// one value). The smallest of these bounds is taken, with the routes that make it.
/// Children that never reach the listener are left out first, so the work is bounded by
/// the listener routes.
pub fn exclusive_runs(way: &[&Child]) -> Fanout {
    let reaching: Vec<&Child> = way.iter().copied().filter(|c| c.fanout.runs > 0).collect();
    let runs_of = |c: &&Child| c.fanout.runs;
    let total = reaching
        .iter()
        .map(runs_of)
        .fold(0usize, usize::saturating_add);
    // (runs, the label and the value whose group is kept, when a label tightens it)
    let mut best: (usize, Option<(&str, &str)>) = (total, None);
    if total > 1 {
        let mut labels: Vec<&str> = reaching
            .iter()
            .flat_map(|c| c.equal.iter().map(|(name, _)| name.as_str()))
            .collect();
        labels.sort_unstable();
        labels.dedup();
        for label in labels {
            let mut free = 0usize;
            let mut groups: Vec<(&str, usize)> = Vec::new();
            for child in &reaching {
                match pinned(child, label) {
                    None => free = free.saturating_add(child.fanout.runs),
                    Some(value) => match groups.iter_mut().find(|(v, _)| *v == value) {
                        Some((_, n)) => *n = n.saturating_add(child.fanout.runs),
                        None => groups.push((value, child.fanout.runs)),
                    },
                }
            }
            if let Some((value, group)) = groups.into_iter().max_by_key(|(_, n)| *n) {
                let bound = free.saturating_add(group);
                if bound < best.0 {
                    best = (bound, Some((label, value)));
                }
            }
        }
    }
    let chosen = reaching.iter().filter(|c| match best.1 {
        None => true,
        Some((label, value)) => pinned(c, label).is_none_or(|v| v == value),
    });
    let mut fanout = chosen.fold(Fanout::default(), |acc, c| acc.plus(&c.fanout));
    fanout.runs = best.0;
    fanout.reported = reaching.iter().any(|c| c.fanout.reported);
    fanout
}

/// The value `child` requires of `label`, if it pins one.
fn pinned<'c>(child: &'c Child, label: &str) -> Option<&'c str> {
    child
        .equal
        .iter()
        .find(|(name, _)| name == label)
        .map(|(_, value)| value.as_str())
}
