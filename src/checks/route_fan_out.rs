//! `route/fan-out`: one alert starts at most one run.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::object_shape::{match_type, MatchType};
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
#[derive(Debug)]
pub struct Child {
    pub fanout: Fanout,
    pub continues: bool,
    /// Its `label = value` matchers: an alert has one value per label, so two children
    /// requiring different values of one label never both match it.
    pub equal: Vec<(String, String)>,
}

/// The `name = value` matchers of a route (`regex_field`: the version has v1alpha1's
/// `regex`; [`match_type`] reads each).
pub fn equality_matchers(route: &Map<String, Value>, regex_field: bool) -> Vec<(String, String)> {
    let Some(matchers) = route.get("matchers").and_then(Value::as_array) else {
        return Vec::new();
    };
    matchers
        .iter()
        .filter_map(|m| {
            let name = m.get("name")?.as_str()?;
            let value = m.get("value").and_then(Value::as_str).unwrap_or_default();
            (match_type(m, regex_field) == Some(MatchType::Equal))
                .then(|| (name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// The ways one alert can go below a route: every matching child with `continue: true`,
/// then at most one that stops the search. [`Ways::push`] adds a continuing child (in
/// order); [`Ways::bound`] bounds the way made of those so far and one stopping child.
///
/// The sum of the children's runs bounds a way; so does, for any label, the children
/// that do not pin the label plus the largest group of those that pin it to one value
/// (an alert has one value). The smallest of these bounds is taken, with the routes that
/// make it. What the continuing children pin is summed once, as they come, so a bound
/// costs the stopping child's matchers, not the way's: a route tree of many matchers
/// must not make the review's work grow with their product.
#[derive(Default)]
pub struct Ways<'c> {
    /// The continuing children that reach the listener, with the label values they pin.
    reaching: Vec<(&'c Child, Pins<'c>)>,
    runs: usize,
    reported: bool,
    groups: HashMap<&'c str, Groups<'c>>,
    /// Every pinned label by what pinning saves on the sum, the largest saving first
    /// (ties: the label first in order).
    by_saving: BTreeSet<(Reverse<usize>, &'c str)>,
}

/// A child's `label = value` matchers, the first per label (as Alertmanager requires
/// them all, a second value on one label only makes the route match less).
type Pins<'c> = HashMap<&'c str, &'c str>;

fn pins_of(child: &Child) -> Pins<'_> {
    let mut pins = Pins::new();
    for (label, value) in &child.equal {
        pins.entry(label.as_str()).or_insert(value.as_str());
    }
    pins
}

/// The runs of the children that pin one label, by the value pinned.
#[derive(Default)]
struct Groups<'c> {
    pinned: usize,
    /// (value, runs), in the order the values were first pinned.
    by_value: Vec<(&'c str, usize)>,
    position: HashMap<&'c str, usize>,
    /// The largest group: its runs and position (ties: the later).
    largest: (usize, usize),
}

impl<'c> Groups<'c> {
    fn add(&mut self, value: &'c str, runs: usize) {
        self.pinned = self.pinned.saturating_add(runs);
        let at = *self.position.entry(value).or_insert(self.by_value.len());
        if at == self.by_value.len() {
            self.by_value.push((value, 0));
        }
        if let Some((_, group)) = self.by_value.get_mut(at) {
            *group = group.saturating_add(runs);
            self.largest = self.largest.max((*group, at));
        }
    }

    /// What the bound gains over the plain sum from this label.
    fn saving(&self) -> usize {
        self.pinned - self.largest.0
    }

    fn value_at(&self, at: usize) -> &'c str {
        self.by_value.get(at).map_or("", |(value, _)| value)
    }
}

impl<'c> Ways<'c> {
    /// A child with `continue: true`, after those pushed before it.
    pub fn push(&mut self, child: &'c Child) {
        let runs = child.fanout.runs;
        if runs == 0 {
            return;
        }
        self.runs = self.runs.saturating_add(runs);
        self.reported |= child.fanout.reported;
        let pins = pins_of(child);
        for (&label, &value) in &pins {
            let groups = self.groups.entry(label).or_default();
            self.by_saving.remove(&(Reverse(groups.saving()), label));
            groups.add(value, runs);
            self.by_saving.insert((Reverse(groups.saving()), label));
        }
        self.reaching.push((child, pins));
    }

    /// The most listener deliveries one alert can get from the continuing children so
    /// far and then `last`, a child that stops the search (or none).
    pub fn bound(&self, last: Option<&'c Child>) -> Fanout {
        let last = last.filter(|c| c.fanout.runs != 0);
        let last_runs = last.map_or(0, |c| c.fanout.runs);
        let last_pins = last.map(pins_of).unwrap_or_default();
        let total = self.runs.saturating_add(last_runs);
        // (bound, label, the value whose group is kept), the smallest bound first.
        let mut best: Option<(usize, &str, &str)> = None;
        let mut consider = |bound: usize, label: &'c str, value: &'c str| {
            if bound < total && best.is_none_or(|(b, l, _)| (bound, label) < (b, l)) {
                best = Some((bound, label, value));
            }
        };
        // Of the labels `last` leaves free, the one that saves most.
        if let Some((Reverse(saving), label)) = self
            .by_saving
            .iter()
            .find(|(_, label)| !last_pins.contains_key(label))
        {
            if let Some(groups) = self.groups.get(label) {
                consider(total - saving, label, groups.value_at(groups.largest.1));
            }
        }
        // The labels `last` pins: its runs join its value's group.
        for (&label, &value) in &last_pins {
            let Some(groups) = self.groups.get(label) else {
                continue; // pinned by `last` alone: the sum stands
            };
            let grown = match groups.position.get(value) {
                Some(&at) => (groups.by_value.get(at).map_or(0, |g| g.1), at),
                None => (0, groups.by_value.len()),
            };
            let grown = (grown.0.saturating_add(last_runs), grown.1);
            let (largest, value) = if grown > groups.largest {
                (grown.0, value)
            } else {
                (groups.largest.0, groups.value_at(groups.largest.1))
            };
            consider(
                (self.runs - groups.pinned).saturating_add(largest),
                label,
                value,
            );
        }
        let compatible = |pins: &Pins| match best {
            None => true,
            Some((_, label, value)) => pins.get(label).is_none_or(|v| *v == value),
        };
        let way = self
            .reaching
            .iter()
            .map(|(child, pins)| (*child, pins))
            .chain(last.map(|child| (child, &last_pins)));
        let mut fanout = Fanout::default();
        for (child, pins) in way {
            if fanout.via.len() >= LISTED_ROUTES {
                break;
            }
            if compatible(pins) {
                fanout = fanout.plus(&child.fanout);
            }
        }
        fanout.runs = best.map_or(total, |(bound, _, _)| bound);
        fanout.reported = self.reported || last.is_some_and(|c| c.fanout.reported);
        fanout
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::alertmanager_config::{review, ApiVersion};
    use crate::checks::Findings;
    use crate::cluster::fake::FakeCluster;
    use crate::settings::Settings;

    use super::{Child, Fanout, Ways};

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

    /// The bound as it was first written: every label of the way rescanned for each way
    /// (quadratic and more). `Ways` must give exactly its answer, routes named included.
    fn reference_bound(way: &[&Child]) -> Fanout {
        let pinned = |child: &Child, label: &str| -> Option<String> {
            child
                .equal
                .iter()
                .find(|(name, _)| name == label)
                .map(|(_, value)| value.clone())
        };
        let reaching: Vec<&Child> = way.iter().copied().filter(|c| c.fanout.runs > 0).collect();
        let total: usize = reaching.iter().map(|c| c.fanout.runs).sum();
        let mut best: (usize, Option<(String, String)>) = (total, None);
        if total > 1 {
            let mut labels: Vec<&str> = reaching
                .iter()
                .flat_map(|c| c.equal.iter().map(|(name, _)| name.as_str()))
                .collect();
            labels.sort_unstable();
            labels.dedup();
            for label in labels {
                let mut free = 0;
                let mut groups: Vec<(String, usize)> = Vec::new();
                for child in &reaching {
                    match pinned(child, label) {
                        None => free += child.fanout.runs,
                        Some(value) => match groups.iter_mut().find(|(v, _)| *v == value) {
                            Some((_, n)) => *n += child.fanout.runs,
                            None => groups.push((value, child.fanout.runs)),
                        },
                    }
                }
                if let Some((value, group)) = groups.into_iter().max_by_key(|(_, n)| *n) {
                    if free + group < best.0 {
                        best = (free + group, Some((label.to_owned(), value)));
                    }
                }
            }
        }
        let chosen = reaching.iter().filter(|c| match &best.1 {
            None => true,
            Some((label, value)) => pinned(c, label).is_none_or(|v| v == *value),
        });
        let mut fanout = chosen.fold(Fanout::default(), |acc, c| acc.plus(&c.fanout));
        fanout.runs = best.0;
        fanout.reported = reaching.iter().any(|c| c.fanout.reported);
        fanout
    }

    fn child() -> impl proptest::strategy::Strategy<Value = (Child, bool)> {
        use proptest::prelude::*;
        let matcher = (
            prop::sample::select(vec!["a", "b", "c"]),
            prop::sample::select(vec!["1", "2", "3"]),
        );
        (
            0usize..4,
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec(matcher, 0..4),
            0usize..100,
        )
            .prop_map(|(runs, reported, continues, equal, name)| {
                let child = Child {
                    fanout: Fanout {
                        runs,
                        via: (0..runs.min(2)).map(|k| format!("r{name}.{k}")).collect(),
                        reported,
                    },
                    continues,
                    equal: equal
                        .into_iter()
                        .map(|(l, v)| (l.to_owned(), v.to_owned()))
                        .collect(),
                };
                (child, continues)
            })
    }

    proptest::proptest! {
        #[test]
        fn ways_bound_each_way_as_the_rescan_did(children in proptest::collection::vec(child(), 0..9)) {
            let mut ways = Ways::default();
            let mut continuing: Vec<&Child> = Vec::new();
            let same = |got: Fanout, want: Fanout| {
                proptest::prop_assert_eq!(
                    (got.runs, got.via, got.reported),
                    (want.runs, want.via, want.reported)
                );
                Ok(())
            };
            for (child, continues) in &children {
                if *continues {
                    ways.push(child);
                    continuing.push(child);
                } else {
                    let mut way = continuing.clone();
                    way.push(child);
                    same(ways.bound(Some(child)), reference_bound(&way))?;
                }
            }
            same(ways.bound(None), reference_bound(&continuing))?;
        }
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

    #[test]
    fn only_equality_matchers_pin_a_label() {
        // `!=`, `=~`, `!~` and a matchType the CRD refuses pin nothing: two such
        // routes on one label can both match one alert (severity=info takes both).
        let route = |continues: bool, value: &str, match_type: &str| {
            json!({"receiver": "listener", "continue": continues,
                   "matchers": [{"name": "severity", "value": value, "matchType": match_type}]})
        };
        for match_type in ["!=", "=~", "!~", "==", " ="] {
            let routes = json!([
                route(true, "critical", match_type),
                route(false, "warning", match_type)
            ]);
            assert_eq!(
                fan_out(ApiVersion::V1beta1, routes),
                [along(2, &[0, 1])],
                "{match_type:?}"
            );
        }
        let exclusive = json!([route(true, "critical", "="), route(false, "warning", "=")]);
        assert_eq!(
            fan_out(ApiVersion::V1beta1, exclusive),
            Vec::<String>::new()
        );
        assert_eq!(
            super::equality_matchers(
                json!({"matchers": [{"name": "a", "value": "b", "matchType": "=="}]})
                    .as_object()
                    .unwrap(),
                true
            ),
            Vec::<(String, String)>::new()
        );
    }
}
