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
        via.truncate(LISTED_ROUTES);
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

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::alertmanager_config::{review, ApiVersion};
    use crate::checks::Findings;
    use crate::cluster::fake::FakeCluster;
    use crate::settings::Settings;

    const LISTENER: &str = "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/";

    /// The `[route/fan-out]` texts for a top route to `other` (no listener) whose
    /// children are `routes`; receiver `listener` holds the tenant's listener once.
    fn fan_out(version: ApiVersion, routes: Value) -> Vec<String> {
        let mut object = json!({"spec": {
            "route": {"receiver": "other", "repeatInterval": "12h", "routes": routes},
            "receivers": [
                {"name": "other"},
                {"name": "listener", "webhookConfigs": [{"url": LISTENER, "sendResolved": false, "httpConfig": {"followRedirects": false}}]},
            ],
        }});
        let settings = Settings {
            cluster_domain: "apps.cluster-abc.example.com".to_owned(),
            ..Settings::default()
        };
        let mut findings = Findings::default();
        review(
            &mut object,
            "user1-test",
            version,
            &settings,
            &FakeCluster::default(),
            &mut findings,
        );
        let texts = findings.problem_texts();
        let (fan_out, other): (Vec<String>, Vec<String>) = texts
            .into_iter()
            .partition(|t| t.starts_with("[route/fan-out] "));
        assert_eq!(other, Vec::<String>::new(), "other problems");
        fan_out
    }

    /// A listener route, with `continue: true` or not, requiring `label = value` of each
    /// pair.
    fn listener(continues: bool, equal: &[(&str, &str)]) -> Value {
        let matchers: Vec<Value> = equal
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value, "matchType": "="}))
            .collect();
        json!({"receiver": "listener", "continue": continues, "matchers": matchers})
    }

    fn along(runs: usize, routes: &[usize]) -> String {
        let via: Vec<String> = routes
            .iter()
            .map(|i| format!("spec.route.routes[{i}]"))
            .collect();
        format!(
            "[route/fan-out] spec.route: one alert can reach this tenant's EventListener {runs} times, along {}, so one drift would start {runs} retraining runs; remove `continue: true` so that at most one of these routes reaches the listener, or send the others to a receiver without it",
            via.join(", ")
        )
    }

    #[test]
    fn a_fan_out_message_names_at_most_five_routes() {
        let storm: Vec<Value> = (0..40).map(|_| listener(true, &[])).collect();
        assert_eq!(
            fan_out(ApiVersion::V1beta1, Value::Array(storm)),
            [along(40, &[0, 1, 2, 3, 4])]
        );
    }

    #[test]
    fn a_fan_out_is_reported_once_at_the_route_that_makes_it() {
        let nested =
            json!([{"receiver": "other", "routes": [listener(true, &[]), listener(false, &[])]}]);
        let got = fan_out(ApiVersion::V1beta1, nested);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with("[route/fan-out] spec.route.routes[0]: one alert can reach this tenant's EventListener 2 times, along spec.route.routes[0].routes[0], spec.route.routes[0].routes[1],"),
            "{got:?}"
        );
    }

    #[test]
    fn of_equally_bad_ways_the_first_is_named() {
        // routes[0] continues; an alert matching it can go on to [1], or (when [1] does
        // not match) to [2]: two runs either way, and the first way is named.
        let routes = json!([
            listener(true, &[]),
            listener(false, &[]),
            listener(false, &[])
        ]);
        assert_eq!(fan_out(ApiVersion::V1beta1, routes), [along(2, &[0, 1])]);
    }

    #[test]
    fn the_routes_named_are_ones_one_alert_can_take_together() {
        // Any two of these three routes can match one alert only as [0] and [2]
        // (`a="2", b="1"`): [1] wants `a="1"` against [2]'s `a="2"`, and `b="2"` against
        // [0]'s `b="1"`. The bound is two; the message names the pair that makes it.
        let routes = json!([
            listener(true, &[("b", "1")]),
            listener(true, &[("b", "2"), ("a", "1")]),
            listener(false, &[("a", "2")]),
        ]);
        assert_eq!(fan_out(ApiVersion::V1beta1, routes), [along(2, &[0, 2])]);
    }

    #[test]
    fn v1alpha1_matchers_are_equalities_unless_regex() {
        // v1alpha1 has no matchType: `regex: true` makes a matcher a regex, and two
        // regexes on one label may both match.
        let route = |continues: bool, value: &str, regex: Option<bool>| {
            let mut matcher = json!({"name": "severity", "value": value});
            if let Some(regex) = regex {
                matcher["regex"] = json!(regex);
            }
            json!({"receiver": "listener", "continue": continues, "matchers": [matcher]})
        };
        for regex in [None, Some(false)] {
            let exclusive = json!([
                route(true, "critical", regex),
                route(false, "warning", regex)
            ]);
            assert_eq!(
                fan_out(ApiVersion::V1alpha1, exclusive),
                Vec::<String>::new(),
                "{regex:?}"
            );
        }
        let regexes = json!([
            route(true, "crit.*", Some(true)),
            route(false, "warn.*", Some(true))
        ]);
        assert_eq!(fan_out(ApiVersion::V1alpha1, regexes), [along(2, &[0, 1])]);
    }
}
