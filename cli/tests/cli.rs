//! The tool end to end: inputs (Helm streams, trees with other kinds, Lists, JSON, broken
//! documents), exit codes, `--fix` round trips, SARIF, and bad input.

mod common;

use common::*;
use serde_json::Value;

fn statuses(report: &Value) -> Vec<(String, u64, String)> {
    report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["file"].as_str().unwrap().to_owned(),
                o["line"].as_u64().unwrap(),
                o["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

const HELM_STREAM: &str = "---
# Source: alerting/templates/prometheusrule.yaml
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: jukebox-alerts
spec:
  groups:
  - name: jukebox.rules
    rules:
    - alert: jukebox-datadrift-alert
      expr: trustyai_meanshift{subcategory=\"danceability\"} < 0.05
      for: 10m
      labels:
        severity: critical
---
# Source: alerting/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: other
data: {a: b}
";

#[test]
fn a_helm_stream_from_stdin_names_its_templates_and_cannot_be_fixed_in_place() {
    let out = run(
        &[
            "check",
            "--settings",
            SETTINGS,
            "--namespace",
            "user2-test",
            "-",
        ],
        Some(HELM_STREAM),
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("-:3: PrometheusRule user2-test/jukebox-alerts: would change (Helm template alerting/templates/prometheusrule.yaml)"), "{}", out.stdout);
    assert!(
        out.stdout.contains("cannot be fixed in place"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("+      expr: trustyai_meanshift{namespace=\"user2-test\", subcategory=\"danceability\"} < 0.05"), "{}", out.stdout);
    assert!(
        out.stdout
            .ends_with("2 objects: 0 unchanged, 1 would change, 0 rejected, 1 skipped, 0 errors\n"),
        "{}",
        out.stdout
    );
    // --fix on `-` prints the stream: a rendered document is left as rendered.
    let fixed = run(
        &[
            "check",
            "--settings",
            SETTINGS,
            "--namespace",
            "user2-test",
            "--fix",
            "-",
        ],
        Some(HELM_STREAM),
    );
    assert_eq!(fixed.stdout, HELM_STREAM);
    assert!(fixed.stderr.contains("would change"), "{}", fixed.stderr);
}

#[test]
fn fix_on_stdin_prints_the_fixed_stream() {
    let plain = HELM_STREAM.replace("# Source: ", "# from ");
    let fixed = run(
        &[
            "check",
            "--settings",
            SETTINGS,
            "--namespace",
            "user2-test",
            "--fix",
            "-",
        ],
        Some(&plain),
    );
    assert_eq!(fixed.code, 0, "{}", fixed.stderr);
    assert_eq!(
        fixed.stdout,
        plain
            .replace("{subcategory=", "{namespace=\"user2-test\", subcategory=")
            .replace(
                "        severity: critical\n",
                "        severity: critical\n        namespace: user2-test\n"
            )
    );
    let again = run(
        &[
            "check",
            "--settings",
            SETTINGS,
            "--namespace",
            "user2-test",
            "--fail-on-change",
            "-",
        ],
        Some(&fixed.stdout),
    );
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert!(
        again.stdout.contains("1 unchanged, 0 would change"),
        "{}",
        again.stdout
    );
}

#[test]
fn a_tree_with_other_kinds_lists_json_and_a_broken_document() {
    let dir = copy_examples();
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git/ignored.yaml"), "not: [valid").unwrap();
    std::fs::write(
        dir.path().join("rules/broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\nkind: [\n---\n- a list\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
    )
    .unwrap();
    let out = run_in(
        dir.path(),
        &[
            "check",
            "--policy",
            &format!("{}/{POLICY}", repo_root().display()),
            "-n",
            "user1-prod",
            "--format",
            "json",
            ".",
        ],
        None,
    );
    assert_eq!(out.code, 2, "broken input: exit 2\n{}", out.stdout);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let s = statuses(&report);
    assert!(
        s.contains(&("./rules/broken.yaml".into(), 1, "skipped".into())),
        "{s:?}"
    );
    assert!(
        s.contains(&("./rules/broken.yaml".into(), 6, "error".into())),
        "{s:?}"
    );
    assert!(
        s.contains(&("./rules/broken.yaml".into(), 8, "error".into())),
        "{s:?}"
    );
    assert!(
        s.contains(&("./rules/broken.yaml".into(), 10, "skipped".into())),
        "{s:?}"
    );
    assert!(
        s.contains(&("./rules/project.json".into(), 13, "unchanged".into())),
        "{s:?}"
    );
    assert!(
        s.contains(&(
            "./rules/drift-wrong-direction.yaml".into(),
            2,
            "rejected".into()
        )),
        "{s:?}"
    );
    assert!(!s.iter().any(|(f, _, _)| f.contains(".git")), "{s:?}");
    assert_eq!(report["summary"]["errors"], 2);
}

#[test]
fn exit_codes() {
    let clean = "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: r, namespace: user1-test}\nspec:\n  groups:\n  - name: g\n    rules:\n    - record: x\n      expr: x{namespace=\"user1-test\"}\n      labels: {namespace: user1-test}\n";
    let changed = clean.replace("x{namespace=\"user1-test\"}", "x");
    let rejected = clean.replace("x{namespace=\"user1-test\"}", "x{namespace=\"other\"}");
    let check = |text: &str, extra: &[&str]| {
        let mut args = vec!["check", "--settings", SETTINGS];
        args.extend(extra);
        args.push("-");
        run(&args, Some(text)).code
    };
    assert_eq!(check(clean, &[]), 0);
    assert_eq!(check(clean, &["--fail-on-change"]), 0);
    assert_eq!(check(&changed, &[]), 0);
    assert_eq!(check(&changed, &["--fail-on-change"]), 1);
    assert_eq!(check(&rejected, &[]), 1);
    assert_eq!(check("a: [", &[]), 2);
    assert_eq!(run(&["check", "-"], Some(clean)).code, 2, "no settings");
    assert_eq!(
        run(
            &["check", "--settings", SETTINGS, "--format", "xml", "-"],
            Some(clean)
        )
        .code,
        2
    );
    assert_eq!(
        run(&["check", "--settings", "nope.json", "-"], Some(clean)).code,
        2
    );
    let quiet = run(&["check", "--settings", SETTINGS, "-"], Some(clean));
    assert_eq!(
        quiet.stdout,
        "1 objects: 1 unchanged, 0 would change, 0 rejected, 0 skipped, 0 errors\n"
    );
}

#[test]
fn fix_writes_only_the_changed_values_and_a_second_run_is_clean() {
    let dir = copy_examples();
    let before: Vec<(String, String)> = [
        "rules/fairness.yaml",
        "seed/alertmanagerconfig.yaml",
        "seed/prometheusrule.yaml",
        "rendered/jukebox-user1-prod.yaml",
        "rules/drift-wrong-direction.yaml",
    ]
    .iter()
    .map(|f| {
        (
            f.to_string(),
            std::fs::read_to_string(dir.path().join(f)).unwrap(),
        )
    })
    .collect();
    let policy = format!("{}/{POLICY}", repo_root().display());
    let args = [
        "check",
        "--policy",
        &policy,
        "-n",
        "user1-prod",
        "--format",
        "json",
        ".",
    ];
    let first = run_in(dir.path(), &args, None);
    let report: Value = serde_json::from_str(&first.stdout).unwrap();
    let fix_args = [
        "check",
        "--policy",
        &policy,
        "-n",
        "user1-prod",
        "--fix",
        ".",
    ];
    let fixed = run_in(dir.path(), &fix_args, None);
    assert_eq!(
        fixed.code, 1,
        "the rejected rule stays rejected\n{}",
        fixed.stdout
    );
    // Each fixed document parses to exactly the JSONPatch result.
    for object in report["objects"].as_array().unwrap() {
        let Some(patch) = object["patch"].as_array() else {
            continue;
        };
        let file = object["file"].as_str().unwrap().trim_start_matches("./");
        let (_, original) = before.iter().find(|(f, _)| f == file).unwrap();
        let after = std::fs::read_to_string(dir.path().join(file)).unwrap();
        if file.starts_with("rendered/") {
            assert_eq!(&after, original, "a Helm-rendered file is not edited");
            continue;
        }
        let parse = |t: &str| {
            tenant_alerting_policy_cli::yaml::parse_stream(t)[0]
                .as_ref()
                .unwrap()
                .root
                .as_ref()
                .unwrap()
                .value()
        };
        let want = tenant_alerting_policy_cli::check::apply_patch(
            &parse(original),
            &Value::Array(patch.clone()),
        )
        .unwrap();
        assert_eq!(parse(&after), want, "{file}");
        // Byte for byte outside the changed values: every original line that is gone
        // held a changed value.
        for change in
            similar::TextDiff::from_lines(original.as_str(), after.as_str()).iter_all_changes()
        {
            if change.tag() == similar::ChangeTag::Delete {
                let line = change.value();
                assert!(
                    line.contains("expr")
                        || line.contains("trustyai_spd")
                        || line.contains("<USER_NAME>"),
                    "{file}: an unchanged line was rewritten: {line:?}"
                );
            }
        }
    }
    let fairness = std::fs::read_to_string(dir.path().join("rules/fairness.yaml")).unwrap();
    assert!(fairness.contains("          # statistical parity difference outside [-0.1, 0.1]\n          expr: |\n            trustyai_spd{namespace=\"user1-test\", batch=\"region\"} < -0.1\n              or trustyai_spd{namespace=\"user1-test\", batch=\"region\"} > 0.1\n"), "{fairness}");
    let (_, rejected) = &before[4];
    assert_eq!(
        &std::fs::read_to_string(dir.path().join("rules/drift-wrong-direction.yaml")).unwrap(),
        rejected
    );
    let second = run_in(
        dir.path(),
        &[
            "check",
            "--policy",
            &policy,
            "-n",
            "user1-prod",
            "--format",
            "json",
            "seed",
            "rules/fairness.yaml",
        ],
        None,
    );
    let report: Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!(report["summary"]["wouldChange"], 0, "{}", second.stdout);
    assert_eq!(second.code, 0);
}

#[test]
fn sarif_reads_as_sarif_2_1_0() {
    let out = run(
        &[
            "check",
            "--policy",
            POLICY,
            "-n",
            "user1-prod",
            "--format",
            "sarif",
            "examples/gitops",
        ],
        None,
    );
    let sarif: serde_sarif::sarif::Sarif = serde_json::from_str(&out.stdout).expect("SARIF");
    let run = &sarif.runs[0];
    assert_eq!(run.tool.driver.name, "tenant-alerting-policy");
    let results = run.results.as_ref().unwrap();
    // A rejection is reported under the check that found it, by its stable id, and
    // the driver lists every check.
    let rejected: Vec<_> = results
        .iter()
        .filter(|r| r.rule_id.as_deref() == Some("drift/comparison"))
        .collect();
    assert_eq!(rejected.len(), 1);
    let rules = run.tool.driver.rules.as_ref().unwrap();
    for check in tenant_alerting_policy::checks::ALL {
        assert!(rules.iter().any(|r| r.id == check.id), "{}", check.id);
    }
    let index = rejected[0].rule_index.unwrap() as usize;
    assert_eq!(rules[index].id, "drift/comparison");
    let loc = rejected[0].locations.as_ref().unwrap()[0]
        .physical_location
        .as_ref()
        .unwrap();
    assert_eq!(
        loc.artifact_location.as_ref().unwrap().uri.as_deref(),
        Some("examples/gitops/rules/drift-wrong-direction.yaml")
    );
    assert_eq!(loc.region.as_ref().unwrap().start_line, Some(2));
    assert!(results
        .iter()
        .any(|r| r.rule_id.as_deref() == Some("would-change")));
}

#[test]
fn policy_manifest_scope_reports_left_out_namespaces_as_not_reviewed() {
    let rule = "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: r, namespace: user1-test}\nspec: {groups: [{name: g, rules: [{record: x, expr: x}]}]}\n";
    let admission = run(
        &[
            "check",
            "--policy",
            "policies/admissionpolicy.yaml",
            "--format",
            "json",
            "-",
        ],
        Some(&rule.replace("user1-test", "user2-test")),
    );
    let report: Value = serde_json::from_str(&admission.stdout).unwrap();
    assert_eq!(report["objects"][0]["status"], "notReviewed");
    assert_eq!(admission.code, 0);
    let monitoring = run(
        &["check", "--policy", POLICY, "-"],
        Some(&rule.replace("user1-test", "kube-system")),
    );
    assert!(
        monitoring.stdout.contains("not reviewed"),
        "{}",
        monitoring.stdout
    );
    assert!(
        monitoring.stdout.contains("1 not reviewed"),
        "{}",
        monitoring.stdout
    );
}

#[test]
fn tenancy_is_read_from_namespaces_in_the_input_and_cluster_files() {
    let settings = "tests/fixtures/context-aware/requester-owns-user2-prod/settings.json";
    let amc = "apiVersion: monitoring.coreos.com/v1beta1\nkind: AlertmanagerConfig\nmetadata: {name: a, namespace: proj}\nspec:\n  route: {receiver: r}\n  receivers:\n  - name: r\n    webhookConfigs:\n    - url: https://el-ct-listener-alice-toolings.apps.cluster-abc.example.com/\n";
    let missing = run(&["check", "--settings", settings, "-"], Some(amc));
    assert_eq!(missing.code, 1, "{}", missing.stdout);
    assert!(
        missing.stdout.contains("namespaces \"proj\" not found"),
        "{}",
        missing.stdout
    );
    let with_ns = format!("{amc}---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: proj\n  annotations: {{openshift.io/requester: alice}}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: alice-toolings\n  annotations: {{openshift.io/requester: alice}}\n");
    let no_service = run(&["check", "--settings", settings, "-"], Some(&with_ns));
    assert!(
        no_service
            .stdout
            .contains("services \"el-ct-listener\" not found"),
        "{}",
        no_service.stdout
    );
    let dir = tempfile::tempdir().unwrap();
    let cluster = dir.path().join("cluster.yaml");
    std::fs::write(&cluster, "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: el-ct-listener, namespace: alice-toolings}\n  spec: {selector: {eventlistener: ct-listener}}\n").unwrap();
    let ok = run(
        &[
            "check",
            "--settings",
            settings,
            "--cluster",
            cluster.to_str().unwrap(),
            "-",
        ],
        Some(&with_ns),
    );
    assert_eq!(ok.code, 0, "{}", ok.stdout);
}

#[test]
fn bad_input_is_a_located_error_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("latin1.yaml"), b"a: 1\nb: caf\xe9\n").unwrap();
    std::fs::write(
        p.join("dup.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nkind: Secret\n",
    )
    .unwrap();
    std::fs::write(p.join("scalar.yaml"), "just a string\n").unwrap();
    std::fs::write(
        p.join("deep.yaml"),
        format!("a: {}{}\n", "[".repeat(5000), "]".repeat(5000)),
    )
    .unwrap();
    std::fs::create_dir(p.join("loop")).unwrap();
    std::os::unix::fs::symlink(p.join("loop"), p.join("loop/again")).unwrap();
    std::os::unix::fs::symlink(p.join("nowhere"), p.join("dangling.yaml")).unwrap();
    let out = run_in(
        p,
        &[
            "check",
            "--settings",
            &format!("{}/{SETTINGS}", repo_root().display()),
            "--format",
            "json",
            ".",
        ],
        None,
    );
    assert_eq!(out.code, 2);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let messages: Vec<String> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}:{} {}",
                o["file"].as_str().unwrap(),
                o["line"],
                o["message"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let has = |needle: &str| {
        assert!(
            messages.iter().any(|m| m.contains(needle)),
            "{needle} not in {messages:#?}"
        )
    };
    has("./latin1.yaml:2 not UTF-8");
    has("./dup.yaml:3 duplicate key \"kind\" (first at line 2)");
    has("./scalar.yaml:1 the document is not a mapping (found a string)");
    has("./deep.yaml:1 invalid YAML: recursion limit exceeded");
    has("symlink loop");
    has("dangling.yaml");
}

#[test]
fn a_50_mb_input_is_read() {
    let mut text = String::with_capacity(52 << 20);
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\ndata:\n  k: '"
        .to_owned();
    let filler = "x".repeat(1 << 20);
    for i in 0..50 {
        text.push_str(&format!("---\n{doc}{i}{filler}'\n"));
    }
    let out = run(&["check", "--settings", SETTINGS, "-"], Some(&text));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("50 objects: 0 unchanged, 0 would change, 0 rejected, 50 skipped, 0 errors"),
        "{}",
        out.stdout
    );
}
