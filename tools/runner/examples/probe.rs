use policy_runner::*;
use serde_json::json;
fn main() {
    let policy = Policy::load(&default_policy_wasm()).unwrap();
    let base: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/requests/seed-prometheusrule.json").unwrap(),
    )
    .unwrap();
    // (name, per-level bound units, generator)
    let shapes: Vec<(&str, usize, Box<dyn Fn(usize) -> String>)> = vec![
        (
            "calls",
            1,
            Box::new(|d| format!("{}x{}", "abs(".repeat(d), ")".repeat(d))),
        ),
        (
            "label_replace",
            1,
            Box::new(|d| {
                format!(
                    "{}x{}",
                    "label_replace(".repeat(d),
                    r#","a","b","c","d")"#.repeat(d)
                )
            }),
        ),
        (
            "topk",
            1,
            Box::new(|d| format!("{}x{}", "topk(1,".repeat(d), ")".repeat(d))),
        ),
        (
            "sum_by",
            2,
            Box::new(|d| format!("{}x{}", "sum by (a,b) (".repeat(d), ")".repeat(d))),
        ),
        (
            "subq",
            2,
            Box::new(|d| {
                format!(
                    "{}x{}",
                    "max_over_time(".repeat(d),
                    "[5m:1m] offset 1m)".repeat(d)
                )
            }),
        ),
        (
            "parens",
            1,
            Box::new(|d| format!("{}x{}", "(".repeat(d), ")".repeat(d))),
        ),
        ("chain", 1, Box::new(|d| vec!["x"; d + 1].join("+"))),
        (
            "onchain",
            1,
            Box::new(|d| vec!["x"; d + 1].join(" * on(a) group_left(b) ")),
        ),
        (
            "cmpbool",
            1,
            Box::new(|d| vec!["x"; d + 1].join(" > bool ")),
        ),
        (
            "unaryparen",
            2,
            Box::new(|d| format!("{}x{}", "-(".repeat(d), ")".repeat(d))),
        ),
        (
            "histq",
            1,
            Box::new(|d| format!("{}x{}", "histogram_quantile(0.9,".repeat(d), ")".repeat(d))),
        ),
        ("and", 1, Box::new(|d| vec!["x"; d + 1].join(" and "))),
    ];
    for (name, units, f) in &shapes {
        let mut lo = 50usize;
        let mut hi = 4000usize;
        while hi - lo > 10 {
            let d = (lo + hi) / 2;
            let mut r = base.clone();
            r["object"]["spec"]["groups"][0]["rules"][0]["expr"] = json!(f(d));
            match policy.instance().unwrap().validate(&r, &json!({})) {
                Ok(_) => lo = d,
                Err(_) => hi = d,
            }
        }
        println!("{name:14} traps at ~{hi} levels = bound ~{}", hi * units);
    }
}
