//! Everything a Kubewarden user installs from is checked: metadata.yml, the Artifact Hub
//! package, the manifests in policies/ (their settings validated by the .wasm itself),
//! the workflows, and the README's settings table. Versions agree with Cargo.toml.

use std::collections::BTreeSet;

use crate::common::*;
use serde_json::{json, Value};

fn yaml(path: &str) -> Value {
    let text =
        std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

fn oci_url() -> String {
    yaml("metadata.yml")["annotations"]["io.kubewarden.policy.ociUrl"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn expected_rules() -> Value {
    json!([
        {"apiGroups": ["monitoring.coreos.com"], "apiVersions": ["v1"], "resources": ["prometheusrules"], "operations": ["CREATE", "UPDATE"]},
        {"apiGroups": ["monitoring.coreos.com"], "apiVersions": ["v1alpha1", "v1beta1"], "resources": ["alertmanagerconfigs"], "operations": ["CREATE", "UPDATE"]},
    ])
}

/// Every setting the policy understands, from its own defaults.
fn setting_names() -> BTreeSet<String> {
    let defaults =
        serde_json::to_value(tenant_alerting_policy::settings::Settings::default()).unwrap();
    defaults.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn metadata_is_complete_and_true() {
    let m = yaml("metadata.yml");
    assert_eq!(m["rules"], expected_rules());
    assert_eq!(m["mutating"], true);
    assert_eq!(m["backgroundAudit"], true);
    assert_eq!(m["executionMode"], "kubewarden-wapc");
    // It reads the request's Namespace (tenantFrom) and the listener's Service
    // (listenerService), through get_resource only.
    assert_eq!(
        m["contextAwareResources"],
        json!([{"apiVersion": "v1", "kind": "Namespace"}, {"apiVersion": "v1", "kind": "Service"}])
    );
    assert_eq!(m["hostCapabilities"], json!(["kubernetes/get_resource"]));
    let a = &m["annotations"];
    for key in [
        "title",
        "version",
        "description",
        "author",
        "url",
        "source",
        "license",
        "ociUrl",
        "category",
        "severity",
    ] {
        let value = a[format!("io.kubewarden.policy.{key}")]
            .as_str()
            .unwrap_or_default();
        assert!(
            !value.trim().is_empty(),
            "io.kubewarden.policy.{key} is missing"
        );
    }
    assert_eq!(a["io.kubewarden.policy.version"], version());
    assert_eq!(a["io.kubewarden.policy.license"], "Apache-2.0");
}

#[test]
fn artifacthub_package_agrees_with_metadata_and_cargo() {
    let p = yaml("artifacthub-pkg.yml");
    for key in [
        "version",
        "name",
        "displayName",
        "createdAt",
        "description",
        "license",
        "homeURL",
        "containersImages",
        "keywords",
        "links",
        "install",
    ] {
        assert!(!p[key].is_null(), "artifacthub-pkg.yml lacks {key}");
    }
    assert_eq!(p["version"], version());
    assert_eq!(p["name"], "tenant-alerting-policy");
    assert_eq!(
        p["containersImages"][0]["image"],
        json!(format!("{}:v{}", oci_url(), version()))
    );
    assert!(p["links"].as_array().unwrap().iter().any(|l| l["url"]
        .as_str()
        .unwrap()
        .contains(&format!("/v{}/", version()))));
    assert!(p["install"]
        .as_str()
        .unwrap()
        .contains(&format!("{}:v{}", oci_url(), version())));
    let a = &p["annotations"];
    assert_eq!(a["kubewarden/mutation"], "true");
    assert_eq!(
        a["kubewarden/resources"],
        "PrometheusRule, AlertmanagerConfig"
    );
    let rules: Value = serde_yaml::from_str(a["kubewarden/rules"].as_str().unwrap()).unwrap();
    assert_eq!(rules, expected_rules());
    let questions: Value =
        serde_yaml::from_str(a["kubewarden/questions-ui"].as_str().unwrap()).unwrap();
    let known = setting_names();
    let mut asked = BTreeSet::new();
    for q in questions["questions"].as_array().unwrap() {
        let variable = q["variable"].as_str().unwrap();
        // `a.b` asks for field b of setting a.
        let setting = variable.split('.').next().unwrap_or_default();
        assert!(
            known.contains(setting),
            "questions-ui asks for unknown setting {variable}"
        );
        assert!(
            q["label"].is_string() && q["type"].is_string(),
            "{variable}"
        );
        asked.insert(variable.to_owned());
    }
    assert!(
        asked.contains("clusterDomain"),
        "the one required setting must be asked"
    );
}

#[test]
fn manifests_use_kubewarden_fields_and_settings_the_wasm_accepts() {
    let policy_spec: BTreeSet<&str> = [
        "policyServer",
        "module",
        "mode",
        "settings",
        "rules",
        "failurePolicy",
        "mutating",
        "backgroundAudit",
        "matchPolicy",
        "matchConditions",
        "objectSelector",
        "sideEffects",
        "timeoutSeconds",
        "timeoutEvalSeconds",
        "message",
    ]
    .into();
    let cluster_only: BTreeSet<&str> = ["namespaceSelector", "contextAwareResources"].into();
    let module = format!("registry://{}:v{}", oci_url(), version());
    let mut kinds = BTreeSet::new();
    for entry in std::fs::read_dir(repo_root().join("policies")).unwrap() {
        let path = entry.unwrap().path();
        let name = format!("policies/{}", path.file_name().unwrap().to_string_lossy());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with('#'),
            "{name} should open with comments saying when to use it"
        );
        let m = yaml(&name);
        assert_eq!(m["apiVersion"], "policies.kubewarden.io/v1", "{name}");
        let kind = m["kind"].as_str().unwrap();
        kinds.insert(kind.to_owned());
        let spec = m["spec"].as_object().unwrap();
        for key in spec.keys() {
            let allowed = policy_spec.contains(key.as_str())
                || (kind == "ClusterAdmissionPolicy" && cluster_only.contains(key.as_str()));
            assert!(allowed, "{name}: spec.{key} is not a {kind} field");
        }
        match kind {
            "ClusterAdmissionPolicy" => assert!(m["metadata"]["namespace"].is_null(), "{name}"),
            "AdmissionPolicy" => assert!(m["metadata"]["namespace"].is_string(), "{name}"),
            other => panic!("{name}: unexpected kind {other}"),
        }
        assert!(
            matches!(spec["mode"].as_str(), Some("protect" | "monitor")),
            "{name}"
        );
        assert_eq!(spec["mutating"], true, "{name}: the policy mutates");
        assert_eq!(spec["module"], json!(module), "{name}");
        assert_eq!(spec["rules"], expected_rules(), "{name}");
        // What a manifest grants is what the policy declares it reads, no more, and only
        // when its settings read the cluster.
        let reads_cluster = spec["settings"]["tenantFrom"]
            .as_str()
            .is_some_and(|t| t != "namespaceName")
            || !spec["settings"]["listenerService"].is_null();
        assert!(
            !(reads_cluster && kind == "AdmissionPolicy"),
            "{name}: a namespaced AdmissionPolicy cannot read the cluster"
        );
        if reads_cluster {
            assert_eq!(
                m["spec"]["contextAwareResources"],
                yaml("metadata.yml")["contextAwareResources"],
                "{name}: grants other than what the settings read"
            );
        } else {
            assert!(
                m["spec"]["contextAwareResources"].is_null(),
                "{name}: grants reads it never makes"
            );
        }
        let verdict = instance().validate_settings(&spec["settings"]).unwrap();
        assert!(
            verdict.valid,
            "{name}: settings rejected by the .wasm: {:?}",
            verdict.message
        );
        assert!(
            std::fs::read_to_string(repo_root().join("README.md"))
                .unwrap()
                .contains(&name),
            "README does not mention {name}"
        );
    }
    assert!(kinds.contains("ClusterAdmissionPolicy") && kinds.contains("AdmissionPolicy"));
}

/// The platform's own namespaces, which cluster-wide manifests may leave out.
const PLATFORM_NAMESPACES: [&str; 8] = [
    "openshift-monitoring",
    "openshift-user-workload-monitoring",
    "monitoring",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "kubewarden",
    "cattle-monitoring-system",
];

#[test]
fn cluster_wide_manifests_send_every_tenant_namespace_to_the_policy() {
    for name in [
        "policies/clusteradmissionpolicy.yaml",
        "policies/clusteradmissionpolicy-monitor.yaml",
        "policies/clusteradmissionpolicy-openshift-requester.yaml",
    ] {
        let spec = &yaml(name)["spec"];
        // Narrowing by request (CEL) or object would leave tenant namespaces unreviewed
        // (a tenant's `-toolings` or a project it creates).
        for key in ["matchConditions", "objectSelector"] {
            assert!(spec[key].is_null(), "{name}: spec.{key} narrows the policy");
        }
        let selector = &spec["namespaceSelector"];
        assert!(
            selector["matchLabels"].is_null(),
            "{name}: matchLabels would leave out namespaces without the label"
        );
        for expression in selector["matchExpressions"].as_array().unwrap() {
            assert_eq!(expression["key"], "kubernetes.io/metadata.name", "{name}");
            assert_eq!(expression["operator"], "NotIn", "{name}");
            for excluded in expression["values"].as_array().unwrap() {
                let excluded = excluded.as_str().unwrap();
                assert!(
                    PLATFORM_NAMESPACES.contains(&excluded),
                    "{name}: excludes {excluded:?}, which is not a platform namespace"
                );
            }
        }
    }
}

#[test]
fn workflows_run_the_test_command_and_publish_where_the_readme_says() {
    let ci = std::fs::read_to_string(repo_root().join(".github/workflows/ci.yml")).unwrap();
    yaml(".github/workflows/ci.yml");
    assert!(ci.contains("run: make test"));
    let release =
        std::fs::read_to_string(repo_root().join(".github/workflows/release.yml")).unwrap();
    yaml(".github/workflows/release.yml");
    for part in ["make test", "make annotated-policy.wasm", "kwctl push", "ghcr.io/${{ github.repository_owner }}/policies/tenant-alerting-policy:${{ github.ref_name }}", "gh release"] {
        assert!(release.contains(part), "release.yml lacks {part}");
    }
    assert!(std::fs::read_to_string(repo_root().join(".ci/run"))
        .unwrap()
        .contains("make test"));
}

#[test]
fn readme_documents_every_setting() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    for name in setting_names() {
        assert!(
            readme.contains(&format!("| `{name}` |")),
            "README's settings table lacks {name}"
        );
    }
}

#[test]
fn the_module_under_test_speaks_wapc_and_the_shipped_one_is_preinitialised() {
    let path = policy_runner::default_policy_wasm();
    let exports = policy_runner::module_exports(&path).unwrap();
    for name in ["wapc_init", "__guest_call"] {
        assert!(
            exports.iter().any(|e| e == name),
            "{} lacks {name}",
            path.display()
        );
    }
    if std::env::var_os("POLICY_WASM").is_some() {
        // make test points POLICY_WASM at policy.wasm, which tools/preinit produced.
        assert!(
            !exports.iter().any(|e| e == "wizer.initialize"),
            "{} still exports its init hook: not pre-initialised",
            path.display()
        );
    }
}

/// The release workflow is Kubewarden's own: on a `v*` tag it tests everything, annotates,
/// pushes, signs the pushed digest keylessly with cosign (GitHub's OIDC token, so it needs
/// `id-token: write` and holds no key), verifies that signature as the README tells a
/// cluster admin to, and attaches the .wasm and an SPDX SBOM, each with its Sigstore
/// bundle, to the GitHub release. In that order, with no permission beyond those three.
#[test]
fn release_workflow_tests_pushes_signs_keylessly_and_attaches_an_sbom() {
    let text = std::fs::read_to_string(repo_root().join(".github/workflows/release.yml")).unwrap();
    let w = yaml(".github/workflows/release.yml");
    assert_eq!(w["on"]["push"]["tags"], json!(["v*"]));
    assert_eq!(w["permissions"], json!({}), "nothing granted workflow-wide");
    let jobs = w["jobs"].as_object().unwrap();
    assert_eq!(jobs.len(), 1);
    let job = jobs.values().next().unwrap();
    assert_eq!(
        job["permissions"],
        json!({"contents": "write", "packages": "write", "id-token": "write"})
    );
    assert_eq!(
        job["env"]["OCI_REF"],
        "ghcr.io/${{ github.repository_owner }}/policies/tenant-alerting-policy:${{ github.ref_name }}"
    );
    // The identity Fulcio certifies for this workflow at the tag.
    assert_eq!(
        job["env"]["RELEASE_IDENTITY"],
        "https://github.com/${{ github.repository }}/.github/workflows/release.yml@${{ github.ref }}"
    );
    let steps = job["steps"].as_array().unwrap();
    let find = |what: &str, matches: &dyn Fn(&Value) -> bool| -> usize {
        let found: Vec<usize> = (0..steps.len()).filter(|&i| matches(&steps[i])).collect();
        assert_eq!(
            found.len(),
            1,
            "release.yml: one step {what}, found {found:?}"
        );
        found[0]
    };
    let uses = |prefix: &'static str| {
        move |s: &Value| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix))
    };
    let runs =
        |part: &'static str| move |s: &Value| s["run"].as_str().is_some_and(|r| r.contains(part));
    let checkout = find("checking out", &uses("actions/checkout@"));
    let kwctl = find(
        "installing kwctl",
        &uses("kubewarden/github-actions/kwctl-installer@"),
    );
    let policy_server = find("installing policy-server", &runs("/policy-server\""));
    let cosign = find("installing cosign", &uses("sigstore/cosign-installer@"));
    let test = find("running make test", &|s| s["run"] == "make test");
    let annotate = find("annotating", &runs("make annotated-policy.wasm"));
    let push = find("pushing", &runs("kwctl push -o json annotated-policy.wasm"));
    let sign = find("signing the digest", &runs("cosign sign --yes"));
    let verify = find(
        "verifying",
        &runs("kwctl verify --cert-email \"$RELEASE_IDENTITY\""),
    );
    let sbom = find("making the SBOM", &uses("anchore/sbom-action@"));
    let sign_files = find(
        "signing the release files",
        &runs("cosign sign-blob --yes --bundle"),
    );
    let release = find("creating the release", &runs("gh release create"));
    for (before, after, what) in [
        (checkout, kwctl, "checkout before the tools"),
        (kwctl, test, "kwctl before the tests"),
        (policy_server, test, "policy-server before the tests"),
        (cosign, sign, "cosign before signing"),
        (test, annotate, "the tests before anything is published"),
        (annotate, push, "annotate, then push"),
        (push, sign, "push, then sign the pushed digest"),
        (sign, verify, "sign, then verify"),
        (sbom, sign_files, "the SBOM before it is signed"),
        (verify, release, "verified before the release is made"),
        (
            sign_files,
            release,
            "the files signed before they are attached",
        ),
    ] {
        assert!(before < after, "release.yml: {what}");
    }
    // Keyless, on the digest kwctl pushed, in the `.sig` format kwctl 1.36 reads.
    let sign_run = steps[sign]["run"].as_str().unwrap();
    for part in [
        "${{ steps.push.outputs.immutable_ref }}",
        "--new-bundle-format=false",
        "--use-signing-config=false",
    ] {
        assert!(sign_run.contains(part), "cosign sign lacks {part}");
    }
    assert_eq!(steps[push]["id"], "push");
    assert!(steps[push]["run"]
        .as_str()
        .unwrap()
        .contains("immutable_ref=$immutable_ref\" >> \"$GITHUB_OUTPUT\""));
    assert!(
        !text.contains("--key") && !text.contains("COSIGN_PRIVATE_KEY"),
        "release.yml signs with a key"
    );
    for secret in text.match_indices("secrets.") {
        assert!(
            text[secret.0..].starts_with("secrets.GITHUB_TOKEN"),
            "release.yml uses a secret other than GITHUB_TOKEN"
        );
    }
    let verify_run = steps[verify]["run"].as_str().unwrap();
    assert!(verify_run.contains("--cert-oidc-issuer https://token.actions.githubusercontent.com"));
    // SPDX, attached with the module and both Sigstore bundles.
    assert_eq!(steps[sbom]["with"]["format"], "spdx-json");
    let sbom_file = steps[sbom]["with"]["output-file"].as_str().unwrap();
    assert!(sbom_file.contains("sbom") && sbom_file.ends_with(".spdx.json"));
    let release_run = steps[release]["run"].as_str().unwrap();
    for file in [
        "policy.wasm ".to_owned(),
        "policy.wasm.sigstore.json".to_owned(),
        format!("{sbom_file} "),
        format!("{sbom_file}.sigstore.json"),
    ] {
        assert!(release_run.contains(&file), "the release lacks {file}");
    }
    // The README's verify command names this workflow, at the current version's tag.
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let identity = format!(
        "{}/.github/workflows/release.yml@refs/tags/v{}",
        yaml("metadata.yml")["annotations"]["io.kubewarden.policy.source"]
            .as_str()
            .unwrap(),
        version()
    );
    assert!(
        readme.contains(&format!("--cert-email {identity}")),
        "README lacks kwctl verify --cert-email {identity}"
    );
}

/// Every test file of Kubewarden's engine (`#[ignore]`d with the e2e reason) is run by
/// `make e2e-tests`: all integration tests are modules of one binary (`tests/it/`), so the
/// target runs it with `--ignored` and one module filter (`<file>::`) per such file, and
/// `make test` leaves none of them skipped; the registry they need is installed by `make
/// deps`.
#[test]
fn every_kubewarden_test_file_runs_in_make_e2e_tests() {
    let makefile = std::fs::read_to_string(repo_root().join("Makefile")).unwrap();
    let e2e = makefile
        .lines()
        .skip_while(|l| !l.starts_with("e2e-tests:"))
        .nth(1)
        .unwrap_or_default();
    assert!(e2e.contains("--test it -- --ignored "), "{e2e}");
    let filters: Vec<&str> = e2e
        .split_once("-- --ignored ")
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let mut found = 0;
    for entry in std::fs::read_dir(repo_root().join("tests/it")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy();
        let filter = format!("{name}::");
        if text.contains("#[ignore = \"needs kwctl and policy-server: run by make test\"]") {
            assert!(
                filters.contains(&filter.as_str()),
                "make e2e-tests does not run tests/it/{name}.rs (no `{filter}` filter): {e2e}"
            );
            found += 1;
        } else {
            assert!(
                !filters.contains(&filter.as_str()),
                "make e2e-tests filters on tests/it/{name}.rs, which has no Kubewarden test"
            );
        }
    }
    assert_eq!(
        found,
        filters.len(),
        "a filter of make e2e-tests names no file of tests/it: {filters:?}"
    );
    assert!(found >= 3, "only {found} Kubewarden test files");
    let deps = std::fs::read_to_string(repo_root().join("scripts/install-deps")).unwrap();
    assert!(deps.contains("missing+=(docker-registry)"));
    assert!(deps.contains("prometheus-alertmanager docker-registry; do"));
}

/// With one test binary, a file of `tests/it/` that `main.rs` does not declare would
/// never be compiled, its tests silently gone: each one is a module.
#[test]
fn every_test_file_is_a_module_of_the_test_binary() {
    let dir = repo_root().join("tests/it");
    let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
    let mut modules = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let module = match name.strip_suffix(".rs") {
            Some("main") => continue,
            Some(stem) => stem.to_owned(),
            None if path.join("mod.rs").is_file() => name,
            None => continue,
        };
        assert!(
            main.lines().any(|l| l == format!("mod {module};")),
            "tests/it/main.rs does not declare `mod {module};`: its tests never run"
        );
        modules += 1;
    }
    assert!(modules >= 20, "only {modules} modules in tests/it");
}
