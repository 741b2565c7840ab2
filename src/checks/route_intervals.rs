//! `route/intervals`: notifications are not repeated quickly.

use serde_json::{Map, Value};

use super::object_shape::duration;
use super::{object_loads, Check, Findings, Location};
use crate::durations;
use crate::settings::{
    OnShortInterval, Settings, DEFAULT_MIN_GROUP_INTERVAL, DEFAULT_MIN_REPEAT_INTERVAL,
};

pub const CHECK: Check = Check {
    id: "route/intervals",
    refuses: "`repeatInterval` or `groupInterval` of zero or below `minRepeatInterval`/`minGroupInterval` at any route depth (raised instead with `onShortInterval: raise`); sets `repeatInterval` when unset",
    why: "Alertmanager's default repeats every 4 hours, and short intervals turn one drift into a retraining storm",
};

/// The top route's `repeatInterval`, when unset, is the `repeatInterval` setting.
pub fn default_repeat_interval(
    route: &mut Map<String, Value>,
    settings: &Settings,
    findings: &mut Findings,
) {
    let Some(interval) = &settings.repeat_interval else {
        return;
    };
    if matches!(route.get("repeatInterval"), None | Some(Value::Null)) {
        findings.change(
            &CHECK,
            "spec.route.repeatInterval",
            format!(
                "set to {interval:?} (Alertmanager's 4h default would start a retraining run every 4 hours while drift persists)"
            ),
        );
        route.insert("repeatInterval".to_owned(), Value::String(interval.clone()));
    }
}

/// The shortest intervals accepted, in milliseconds.
pub struct Minimums {
    pub repeat: u64,
    pub group: u64,
}

impl Minimums {
    pub fn of(settings: &Settings) -> Self {
        // Settings validation already refused unparsable minimums; fall back to the
        // defaults rather than to no minimum.
        let millis = |text: &str, default: &str| {
            durations::parse_millis(text)
                .or_else(|_| durations::parse_millis(default))
                .unwrap_or(u64::MAX)
        };
        Minimums {
            repeat: millis(&settings.min_repeat_interval, DEFAULT_MIN_REPEAT_INTERVAL),
            group: millis(&settings.min_group_interval, DEFAULT_MIN_GROUP_INTERVAL),
        }
    }
}

/// `groupWait`, `groupInterval` and `repeatInterval` are durations Alertmanager
/// loads, and the last two are no shorter than the minimums, at every depth: a child
/// route's own interval overrides the top route's.
pub fn review_intervals(
    route: &mut Map<String, Value>,
    at: &str,
    settings: &Settings,
    minimums: &Minimums,
    findings: &mut Findings,
) {
    let checks = [
        ("groupWait", None),
        (
            "groupInterval",
            Some((
                minimums.group,
                "minGroupInterval",
                &settings.min_group_interval,
            )),
        ),
        (
            "repeatInterval",
            Some((
                minimums.repeat,
                "minRepeatInterval",
                &settings.min_repeat_interval,
            )),
        ),
    ];
    for (field, minimum) in checks {
        let read = duration(
            route,
            field,
            || Location::path(format!("{at}.{field}")),
            findings,
        );
        let Some(text) = read.ok().map(str::to_owned) else {
            continue;
        };
        let millis = match durations::parse_millis(&text) {
            Ok(millis) => millis,
            Err(why) => {
                findings.reject(
                    &object_loads::CHECK,
                    Location::path(format!("{at}.{field}")),
                    why,
                );
                continue;
            }
        };
        let Some((min, setting, min_text)) = minimum else {
            continue;
        };
        if millis >= min {
            continue;
        }
        let what = if millis == 0 {
            "is zero, which Alertmanager refuses"
        } else {
            "is shorter than the minimum"
        };
        match settings.on_short_interval {
            OnShortInterval::Raise if millis > 0 => {
                findings.change(
                    &CHECK,
                    format!("{at}.{field}"),
                    format!("raised from {text:?} to {min_text:?} ({setting}); a shorter interval starts a retraining run that often while drift lasts"),
                );
                route.insert(field.to_owned(), Value::String(min_text.clone()));
            }
            _ => findings.reject(
                &CHECK,
                Location::path(format!("{at}.{field}")),
                format!("{text:?} {what} {min_text:?} ({setting}); each notification starts a retraining run, so write {min_text:?} or longer"),
            ),
        }
    }
}
