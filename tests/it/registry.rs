//! The policy as Kubewarden users get it: through an OCI registry, signed and verified.
//!
//! A real registry (Debian's `docker-registry`, the CNCF distribution registry) runs on
//! 127.0.0.1 for each test (tests/it/common/registry.rs). The annotated policy is pushed
//! with `kwctl push` to the path it has on ghcr.io, then:
//!
//! - `kwctl pull`, `kwctl digest` and `kwctl inspect registry://…` show the metadata and
//!   the digest that were pushed, and the module pulled is the module pushed;
//! - `kwctl run registry://…` answers every bundled request as `kwctl run file://…` does;
//! - `kwctl scaffold manifest registry://…` gives what `policies/` holds, but for the
//!   registry in the module reference;
//! - policy-server loads `module: registry://127.0.0.1:PORT/…` (plain HTTP, declared in a
//!   sources file) and answers AdmissionReviews for the seed objects;
//! - signed the way `cosign sign --key` signs (tools/sign), `kwctl verify` accepts the
//!   signature with the signer's public key and rejects it with another; policy-server,
//!   told to require that key, serves the signed module and refuses to start with an
//!   unsigned one, one signed by another key, and a tag moved to another module;
//! - the README's commands for verifying the real (keyless) releases are accepted by
//!   kwctl and policy-server as written, and a key signature does not satisfy them.
//!
//! Offline: no transparency log and no Sigstore trust root from TUF. kwctl and
//! policy-server get `--sigstore-trust-config` with an offline trust root (no Rekor, no
//! CT log, a placeholder CA nobody holds the key of), so only keyed signatures verify;
//! the README says what that leaves out.

use std::path::{Path, PathBuf};

use crate::common::kubewarden::{annotated_floor, annotated_policy, kwctl, policy_server, verdict};
use crate::common::registry::{
    file_digest, run_policy_sign, scratch, Kwctl, PolicyServer, Registry, Started,
};
use crate::common::*;
use serde_json::{json, Value};

const WASM_LAYER: &str = "application/vnd.wasm.content.layer.v1+wasm";
const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The ghcr.io reference metadata.yml publishes (`io.kubewarden.policy.ociUrl`).
fn published_oci_url() -> String {
    let metadata: Value =
        serde_yaml::from_str(&std::fs::read_to_string(repo_root().join("metadata.yml")).unwrap())
            .unwrap();
    metadata["annotations"]["io.kubewarden.policy.ociUrl"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The repository path on ghcr.io (`<owner>/policies/tenant-alerting-policy`), used
/// unchanged in the local registry so references differ only in the registry.
fn repository() -> String {
    let url = published_oci_url();
    url.split_once('/').unwrap().1.to_owned()
}

/// One test's registry, kwctl home and files.
struct Setup {
    dir: PathBuf,
    registry: Registry,
    kwctl: Kwctl,
    sources: String,
    trust: String,
    annotated: PathBuf,
}

/// A test that passed leaves nothing behind; one that failed keeps its directory (the
/// registry's, kwctl's and policy-server's files and logs).
impl Drop for Setup {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Setup {
    fn new(name: &str) -> Setup {
        let dir = scratch(name);
        let registry = Registry::start(&dir.join("registry"));
        let kwctl = Kwctl::new(&dir);
        let sources = registry.sources_file().display().to_string();
        let trust = dir.join("offline-trust-config.json");
        run_policy_sign(&["trust-config", trust.to_str().unwrap()]);
        let annotated = annotated_policy(&kwctl.bin).to_owned();
        Setup {
            dir,
            registry,
            kwctl,
            sources,
            trust: trust.display().to_string(),
            annotated,
        }
    }

    /// `registry://127.0.0.1:PORT/<repository><suffix>:v<version>`
    fn uri(&self, suffix: &str) -> String {
        self.registry
            .uri(&format!("{}{suffix}:v{}", repository(), version()))
    }

    /// `kwctl push`es `module` to `uri`; the manifest digest kwctl reports.
    fn push(&self, module: &Path, uri: &str) -> String {
        let out = self.kwctl.ok(&[
            "push",
            "--sources-path",
            &self.sources,
            "-o",
            "json",
            module.to_str().unwrap(),
            uri,
        ]);
        let pushed: Value = serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("kwctl push -o json: {e}: {out}"));
        let immutable = pushed["immutable_ref"].as_str().unwrap();
        let (name, digest) = immutable.split_once('@').unwrap();
        assert_eq!(
            format!("registry://{name}"),
            uri.rsplit_once(':').unwrap().0,
            "{immutable}"
        );
        digest.to_owned()
    }

    /// Signs `uri` with `key` (tools/sign, as `cosign sign --key` does); what it signed.
    fn sign(&self, key: &Path, uri: &str) -> Value {
        let out = run_policy_sign(&["sign", "--key", key.to_str().unwrap(), uri]);
        serde_json::from_str(out.trim()).unwrap()
    }

    /// A key pair in the test's directory: (`<name>.key`, `<name>.pub`).
    fn key_pair(&self, name: &str) -> (PathBuf, PathBuf) {
        let prefix = self.dir.join(name);
        run_policy_sign(&["generate-key-pair", prefix.to_str().unwrap()]);
        (prefix.with_extension("key"), prefix.with_extension("pub"))
    }

    /// policy-server with `policies` from this registry, plus `extra` flags.
    fn policy_server(&self, name: &str, policies: &Value, extra: &[&str]) -> Started {
        let mut args = vec![
            "--sources-path",
            self.sources.as_str(),
            "--sigstore-trust-config",
            self.trust.as_str(),
        ];
        args.extend_from_slice(extra);
        PolicyServer::start(&policy_server(), &self.dir.join(name), policies, &args)
    }
}

/// The policy at `module` with the workshop settings, as policy-server's policies.yml.
fn policies(module: &str) -> Value {
    json!({"tenant-alerting": {"module": module, "settings": workshop_settings(), "allowedToMutate": true}})
}

fn seeds() -> Vec<Value> {
    vec![
        request("seed-prometheusrule"),
        request("seed-alertmanagerconfig"),
    ]
}

/// Every seed object answered as the runner answers it.
fn assert_answers_the_seeds(server: &PolicyServer) {
    let settings = workshop_settings();
    for seed in seeds() {
        let answer = server.review("tenant-alerting", &seed);
        assert_eq!(answer["uid"], seed["uid"]);
        let runner = serde_json::to_value(validate(&seed, &settings)).unwrap();
        assert_eq!(verdict(&answer), verdict(&runner), "{}", seed["kind"]);
        assert_eq!(answer["allowed"], true, "{answer}");
    }
}

/// The files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn push_pull_digest_and_inspect_agree_on_the_module_metadata_and_digest() {
    let s = Setup::new("round-trip");
    let uri = s.uri("");
    let pushed = s.push(&s.annotated, &uri);

    // What the registry holds: one Wasm layer, the annotated module byte for byte, and
    // the metadata as manifest annotations.
    let (manifest, digest) = s
        .registry
        .manifest(&repository(), &format!("v{}", version()));
    assert_eq!(digest, pushed, "the registry's digest is not kwctl push's");
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(layers[0]["mediaType"], WASM_LAYER);
    let module_digest = file_digest(&s.annotated);
    assert_eq!(layers[0]["digest"], json!(module_digest));
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v1+json"
    );
    let annotations = &manifest["annotations"];
    assert_eq!(annotations["io.kubewarden.policy.version"], version());
    assert_eq!(
        annotations["io.kubewarden.policy.ociUrl"],
        json!(published_oci_url())
    );
    assert_eq!(
        annotations["org.opencontainers.image.source"],
        annotations["io.kubewarden.policy.source"]
    );

    // kwctl digest: the same manifest digest.
    let out = s.kwctl.ok(&["digest", "--sources-path", &s.sources, &uri]);
    assert_eq!(out.trim(), format!("{uri}@{pushed}"));

    // kwctl pull into the (test's own) store: the module pushed, listed under its URI.
    s.kwctl.ok(&["pull", "--sources-path", &s.sources, &uri]);
    let stored = s
        .kwctl
        .store()
        .join("registry")
        .join(uri.strip_prefix("registry://").unwrap());
    assert_eq!(file_digest(&stored), module_digest, "{}", stored.display());
    let listed = s.kwctl.ok(&["policies"]);
    let line = listed
        .lines()
        .find(|l| l.contains(&uri))
        .unwrap_or_else(|| panic!("{uri} not in kwctl policies:\n{listed}"));
    let hex = module_digest.strip_prefix("sha256:").unwrap();
    assert!(line.contains(&hex[..12]), "{line}");

    // And pulled to a file of our choosing: the same bytes.
    let pulled = s.dir.join("pulled.wasm");
    s.kwctl.ok(&[
        "pull",
        "--sources-path",
        &s.sources,
        "-o",
        pulled.to_str().unwrap(),
        &uri,
    ]);
    assert_eq!(file_digest(&pulled), module_digest);

    // kwctl inspect from the registry, from the store (by SHA prefix) and from the
    // local file: the same metadata.
    let local = s.kwctl.ok(&[
        "inspect",
        "-o",
        "yaml",
        &format!("file://{}", s.annotated.display()),
    ]);
    let local: Value = serde_yaml::from_str(&local).unwrap();
    assert_eq!(
        local["annotations"]["io.kubewarden.policy.version"],
        version()
    );
    for reference in [uri.as_str(), &hex[..12]] {
        let (ok, out, err) = s.kwctl.run(&[
            "inspect",
            "--sources-path",
            &s.sources,
            "-o",
            "yaml",
            reference,
        ]);
        assert!(ok, "kwctl inspect {reference}: {err}");
        let inspected: Value = serde_yaml::from_str(&out).unwrap();
        assert_eq!(inspected, local, "kwctl inspect {reference}");
    }
    let text = s.kwctl.ok(&["inspect", "--sources-path", &s.sources, &uri]);
    assert!(text.contains("tenant-alerting-policy") && text.contains("kubewarden-wapc"));
}

/// kwctl's AdmissionResponse for the request at `request_path`.
fn kwctl_answer(s: &Setup, module: &str, request_path: &Path) -> Value {
    let settings = workshop_settings().to_string();
    let out = s.kwctl.ok(&[
        "run",
        "--sources-path",
        &s.sources,
        "--sigstore-trust-config",
        &s.trust,
        "--settings-json",
        &settings,
        "--request-path",
        request_path.to_str().unwrap(),
        module,
    ]);
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON answer from kwctl: {out}"));
    serde_json::from_str(line).unwrap()
}

#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn kwctl_run_from_the_registry_answers_every_bundled_request_as_from_the_file() {
    let s = Setup::new("run");
    let uri = s.uri("");
    s.push(&s.annotated, &uri);
    // Pulled once first, so that the parallel runs below only read the store.
    s.kwctl.ok(&["pull", "--sources-path", &s.sources, &uri]);
    let file = format!("file://{}", s.annotated.display());
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repo_root().join("tests/fixtures/requests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let mut compared = 0;
    for path in &paths {
        // Both at once: each kwctl run is one process on one core.
        let (from_registry, from_file) = std::thread::scope(|scope| {
            let registry = scope.spawn(|| kwctl_answer(&s, &uri, path));
            let local = scope.spawn(|| kwctl_answer(&s, &file, path));
            (registry.join().unwrap(), local.join().unwrap())
        });
        assert_eq!(
            from_registry["uid"],
            read_json(path)["uid"],
            "{}",
            path.display()
        );
        assert_eq!(from_registry, from_file, "{}", path.display());
        compared += 1;
    }
    assert!(compared >= 19, "only {compared} requests compared");
}

#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn kwctl_scaffolds_from_the_registry_what_policies_holds_but_the_registry() {
    let s = Setup::new("scaffold");
    let uri = s.uri("");
    s.push(&s.annotated, &uri);
    let published = format!("registry://{}:v{}", published_oci_url(), version());
    let mut compared = 0;
    for entry in std::fs::read_dir(repo_root().join("policies")).unwrap() {
        let path = entry.unwrap().path();
        let bundled: Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let kind = bundled["kind"].as_str().unwrap();
        let settings = bundled["spec"]["settings"].to_string();
        let mut args = vec![
            "scaffold",
            "manifest",
            "--sources-path",
            &s.sources,
            "--sigstore-trust-config",
            &s.trust,
            "--type",
            kind,
            "--settings-json",
            &settings,
        ];
        // Context-aware access is granted only where the bundled manifest grants it.
        if !bundled["spec"]["contextAwareResources"].is_null() {
            args.push("--allow-context-aware");
        }
        args.push(&uri);
        let out = s.kwctl.ok(&args);
        let scaffolded: Value = serde_yaml::from_str(&out).unwrap();
        assert_eq!(scaffolded["apiVersion"], bundled["apiVersion"]);
        assert_eq!(scaffolded["kind"], bundled["kind"]);
        let spec = scaffolded["spec"].as_object().unwrap();
        for (field, value) in spec {
            if field == "module" {
                continue;
            }
            assert_eq!(
                value,
                &bundled["spec"][field],
                "{}: spec.{field}",
                path.display()
            );
        }
        for field in ["rules", "mutating", "settings"] {
            assert!(spec.contains_key(field), "kwctl scaffolded no spec.{field}");
        }
        // The module reference: the local registry where policies/ names ghcr.io, the
        // same repository and tag.
        assert_eq!(spec["module"], json!(uri));
        assert_eq!(bundled["spec"]["module"], json!(published));
        assert_eq!(
            uri.replacen(&s.registry.host(), "ghcr.io", 1),
            published,
            "{}",
            path.display()
        );
        compared += 1;
    }
    assert!(compared >= 4, "only {compared} manifests compared");
}

#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn policy_server_loads_the_module_from_the_registry_and_answers_the_seeds() {
    let s = Setup::new("policy-server");
    let uri = s.uri("");
    s.push(&s.annotated, &uri);
    let server = s.policy_server("serve", &policies(&uri), &[]).serving();
    assert_answers_the_seeds(&server);
    // What it downloaded is the module pushed.
    let downloaded = files_under(&s.dir.join("serve/downloads"));
    assert_eq!(downloaded.len(), 1, "{downloaded:?}");
    assert_eq!(file_digest(&downloaded[0]), file_digest(&s.annotated));
    assert!(
        downloaded[0]
            .to_string_lossy()
            .contains(&format!("registry/{}/", s.registry.host())),
        "{}",
        downloaded[0].display()
    );
}

/// policy-server's verification config requiring a signature by `public_key`.
fn require_key(dir: &Path, public_key: &Path) -> String {
    let key = std::fs::read_to_string(public_key).unwrap();
    let config = json!({
        "apiVersion": "v1",
        "allOf": [{"kind": "pubKey", "owner": "release-key", "key": key}],
    });
    let path = dir.join("verification.yml");
    std::fs::write(&path, serde_yaml::to_string(&config).unwrap()).unwrap();
    path.display().to_string()
}

#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn signatures_are_checked_by_kwctl_verify_and_policy_server_refuses_what_fails() {
    let s = Setup::new("signatures");
    let (key, public) = s.key_pair("release");
    let (other_key, other_public) = s.key_pair("other");

    // Signed by the release key.
    let signed = s.uri("");
    let digest = s.push(&s.annotated, &signed);
    let signature = s.sign(&key, &signed);
    let host_repository = format!("{}/{}", s.registry.host(), repository());
    assert_eq!(
        signature["payload"],
        json!({"critical": {"identity": {"docker-reference": host_repository},
                            "image": {"docker-manifest-digest": digest},
                            "type": "cosign container image signature"},
               "optional": null})
    );
    // Where cosign puts it: the `.sig` tag of the digest, one simple-signing layer
    // carrying the signature as an annotation.
    let (sig_manifest, _) = s
        .registry
        .manifest(&repository(), &format!("{}.sig", digest.replace(':', "-")));
    let layers = sig_manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{sig_manifest}");
    assert_eq!(layers[0]["mediaType"], SIMPLE_SIGNING);
    assert!(layers[0]["annotations"]["dev.cosignproject.cosign/signature"].is_string());

    // The same module unsigned, signed by another key, and a signed tag moved to
    // another module (the floor policy) after signing: each in its own repository, since
    // a signature belongs to a digest in a repository.
    let unsigned = s.uri("-unsigned");
    s.push(&s.annotated, &unsigned);
    let other = s.uri("-other-key");
    s.push(&s.annotated, &other);
    s.sign(&other_key, &other);
    let moved = s.uri("-moved");
    s.push(&s.annotated, &moved);
    s.sign(&key, &moved);
    let floor = annotated_floor(&kwctl()).to_owned();
    let moved_digest = s.push(&floor, &moved);
    assert_ne!(moved_digest, digest);

    // kwctl verify: only the signed module with the release key passes.
    let verify = |uri: &str, public: &Path| {
        s.kwctl.run(&[
            "verify",
            "--sources-path",
            &s.sources,
            "--sigstore-trust-config",
            &s.trust,
            "--verification-key",
            public.to_str().unwrap(),
            uri,
        ])
    };
    let (ok, _, err) = verify(&signed, &public);
    assert!(ok, "kwctl verify rejected the signed module: {err}");
    for (uri, public, expected) in [
        (
            &signed,
            &other_public,
            "Image verification failed: missing signatures",
        ),
        (&unsigned, &public, "no signatures found for image"),
        (
            &other,
            &public,
            "Image verification failed: missing signatures",
        ),
        (&moved, &public, "no signatures found for image"),
    ] {
        let (ok, out, err) = verify(uri, public);
        assert!(
            !ok,
            "kwctl verify accepted {uri} with {}: {out}",
            public.display()
        );
        assert!(err.contains(expected), "{uri}: {expected:?} not in: {err}");
    }
    // kwctl pull with the key: the signed module lands in the store, the other does not.
    s.kwctl.ok(&[
        "pull",
        "--sources-path",
        &s.sources,
        "--sigstore-trust-config",
        &s.trust,
        "--verification-key",
        public.to_str().unwrap(),
        &signed,
    ]);
    let (ok, _, err) = s.kwctl.run(&[
        "pull",
        "--sources-path",
        &s.sources,
        "--sigstore-trust-config",
        &s.trust,
        "--verification-key",
        public.to_str().unwrap(),
        &other,
    ]);
    assert!(!ok && err.contains("missing signatures"), "{err}");
    let stored = files_under(&s.kwctl.store());
    assert_eq!(stored.len(), 1, "{stored:?}");

    // policy-server requiring the release key: serves the signed module...
    let verification = require_key(&s.dir, &public);
    let extra = ["--verification-path", verification.as_str()];
    let server = s
        .policy_server("verified", &policies(&signed), &extra)
        .serving();
    assert_answers_the_seeds(&server);
    let log = server.log_text();
    for status in ["verified-signatures", "verified-local-checksum"] {
        assert!(log.contains(status), "{status:?} not in the log:\n{log}");
    }
    drop(server);

    // ...and refuses to start with the others, downloading nothing.
    for (name, uri, expected) in [
        ("unsigned", &unsigned, "no signatures found for image"),
        (
            "other-key",
            &other,
            "Image verification failed: missing signatures",
        ),
        ("moved", &moved, "no signatures found for image"),
    ] {
        let (status, log) = s.policy_server(name, &policies(uri), &extra).refused();
        assert!(!status.success(), "{name}: {status}");
        assert!(
            log.contains("Policy 'tenant-alerting' cannot be verified") && log.contains(expected),
            "{name}: {expected:?} not in the log:\n{log}"
        );
        if name == "other-key" {
            // The unmet constraint is named: the release key.
            assert!(log.contains("owner: release-key"), "{log}");
        }
        let downloaded = files_under(&s.dir.join(name).join("downloads"));
        assert!(downloaded.is_empty(), "{name}: downloaded {downloaded:?}");
        eprintln!("{name}: policy-server exited ({status}): {expected}");
    }
}

/// The README's `kwctl verify` commands (Install and deploy), continuation lines joined.
fn readme_verify_commands(readme: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if !line.trim_start().starts_with("kwctl verify ") {
            continue;
        }
        let mut command = line.trim().to_owned();
        while command.ends_with('\\') {
            command.pop();
            command.push(' ');
            command.push_str(lines.next().unwrap_or_default().trim());
        }
        commands.push(command.split_whitespace().map(str::to_owned).collect());
    }
    commands
}

/// The README's policy-server verification config for the releases: the YAML block
/// with a `githubAction` signature.
fn readme_verification_config(readme: &str) -> String {
    let blocks: Vec<&str> = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .filter(|b| b.contains("kind: githubAction"))
        .collect();
    assert_eq!(
        blocks.len(),
        1,
        "the README should hold one verification config with a githubAction signature"
    );
    blocks[0].to_owned()
}

#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn the_readmes_release_verification_is_accepted_as_written_and_a_key_does_not_satisfy_it() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let published = format!("registry://{}:v{}", published_oci_url(), version());
    let commands = readme_verify_commands(&readme);
    assert!(
        !commands.is_empty(),
        "no `kwctl verify` command in the README"
    );
    let s = Setup::new("readme");
    let uri = s.uri("");
    s.push(&s.annotated, &uri);
    let (key, _) = s.key_pair("release");
    s.sign(&key, &uri);
    // The release workflow's identity: its file in the source repository, at the tag.
    let metadata: Value =
        serde_yaml::from_str(&std::fs::read_to_string(repo_root().join("metadata.yml")).unwrap())
            .unwrap();
    let source = metadata["annotations"]["io.kubewarden.policy.source"]
        .as_str()
        .unwrap();
    let release_identity = format!(
        "{source}/.github/workflows/release.yml@refs/tags/v{}",
        version()
    );
    let mut pinned = false;
    for command in &commands {
        assert_eq!(
            command.last(),
            Some(&published),
            "the README's kwctl verify should name the release: {command:?}"
        );
        pinned |= command
            .windows(2)
            .any(|w| w[0] == "--cert-email" && w[1] == release_identity)
            && command.windows(2).any(|w| {
                w[0] == "--cert-oidc-issuer"
                    && w[1] == "https://token.actions.githubusercontent.com"
            });
        // As written, on the local copy signed with a key (not by the release workflow):
        // kwctl takes every flag and rejects the signature for the identity it lacks.
        let mut args: Vec<&str> = command[2..command.len() - 1]
            .iter()
            .map(String::as_str)
            .collect();
        args.splice(
            0..0,
            [
                "verify",
                "--sources-path",
                &s.sources,
                "--sigstore-trust-config",
                &s.trust,
            ],
        );
        args.push(&uri);
        let (ok, out, err) = s.kwctl.run(&args);
        assert!(!ok, "a key signature satisfied {command:?}: {out}");
        assert!(
            err.contains("Image verification failed: missing signatures")
                && (err.contains("kind: genericIssuer") || err.contains("kind: githubAction")),
            "{command:?}: {err}"
        );
    }
    assert!(
        pinned,
        "no README kwctl verify pins the release workflow ({release_identity}) and GitHub's issuer"
    );

    // The policy-server verification config, as written: policy-server parses it and
    // refuses the key-signed module for want of the release workflow's signature.
    let config = readme_verification_config(&readme);
    let path = s.dir.join("readme-verification.yml");
    std::fs::write(&path, &config).unwrap();
    let (status, log) = s
        .policy_server(
            "readme",
            &policies(&uri),
            &["--verification-path", path.to_str().unwrap()],
        )
        .refused();
    assert!(!status.success());
    assert!(
        log.contains("Image verification failed: missing signatures")
            && log.contains("kind: githubAction"),
        "{log}"
    );
}
