//! Each PrometheusRule and AlertmanagerConfig becomes the AdmissionRequest the API server
//! sends for `kubectl apply` of a new object, and the policy crate judges it, linked in.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use kubewarden_policy_sdk::request::KubernetesAdmissionRequest;
use kubewarden_policy_sdk::settings::Validatable;
use serde_json::{json, Value};
use tenant_alerting_policy::admission;
use tenant_alerting_policy::settings::Settings;
use tenant_alerting_policy::verdict::Verdict;

use crate::cluster::OfflineCluster;
use crate::fix;
use crate::input::{self, Source};
use crate::yaml::{self, Kind, Node};

/// The policy's version (the policy crate's `Cargo.toml`).
pub const POLICY_VERSION: &str = env!("POLICY_VERSION");

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Unchanged,
    Changed,
    Rejected,
    Skipped,
    NotReviewed,
    Error,
}

/// One object (or one document or file that could not be read) and what became of it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub file: String,
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helm_source: Option<String>,
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub status: Status,
    pub allowed: Option<bool>,
    pub message: Option<String>,
    pub warnings: Vec<String>,
    pub patch: Option<Value>,
    /// Lines of the values each patch operation changes, in patch order.
    #[serde(skip)]
    pub change_lines: Vec<usize>,
    #[serde(skip)]
    pub diff: Option<String>,
    /// Why the change is not (or cannot be) written back into this file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix_note: Option<String>,
    pub fixed: bool,
}

impl Record {
    fn new(file: &str, line: usize, status: Status) -> Record {
        Record {
            file: file.to_owned(),
            line,
            helm_source: None,
            api_version: String::new(),
            kind: String::new(),
            namespace: String::new(),
            name: String::new(),
            status,
            allowed: None,
            message: None,
            warnings: Vec::new(),
            patch: None,
            change_lines: Vec::new(),
            diff: None,
            fix_note: None,
            fixed: false,
        }
    }

    pub fn error(file: &str, line: usize, message: String) -> Record {
        let mut r = Record::new(file, line, Status::Error);
        r.message = Some(message);
        r
    }
}

/// Which namespaces and objects a Kubewarden policy manifest sends to the policy.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub manifest_kind: String,
    /// An AdmissionPolicy's own namespace: the only one it reviews.
    pub own_namespace: Option<String>,
    pub namespace_selector: Option<Value>,
    pub object_selector: Option<Value>,
    pub rules: Option<Value>,
}

impl Scope {
    /// Why `namespace`/`object` is not sent to the policy, if it is not.
    fn excludes(
        &self,
        cluster: &OfflineCluster,
        namespace: &str,
        object: &Value,
        resource: (&str, &str, &str),
    ) -> Option<String> {
        if let Some(own) = &self.own_namespace {
            if own != namespace {
                return Some(format!(
                    "the AdmissionPolicy in {own:?} reviews only its own namespace, not {namespace:?}"
                ));
            }
        }
        if let Some(rules) = self.rules.as_ref().and_then(Value::as_array) {
            let matches = |list: &Value, want: &str| {
                list.as_array().is_some_and(|l| {
                    l.iter()
                        .any(|v| v.as_str() == Some(want) || v.as_str() == Some("*"))
                })
            };
            let (group, version, plural) = resource;
            let hit = rules.iter().any(|r| {
                matches(&r["apiGroups"], group)
                    && matches(&r["apiVersions"], version)
                    && matches(&r["resources"], plural)
                    && matches(&r["operations"], "CREATE")
            });
            if !hit {
                return Some(format!(
                    "the policy's rules do not send CREATE of {group}/{version} {plural} to it"
                ));
            }
        }
        if let Some(selector) = &self.namespace_selector {
            let labels = cluster.namespace_labels(namespace);
            if !selects(selector, &labels) {
                return Some(format!(
                    "namespace {namespace:?} is outside the policy's namespaceSelector"
                ));
            }
        }
        if let Some(selector) = &self.object_selector {
            let labels = object
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            if !selects(selector, &labels) {
                return Some("the object is outside the policy's objectSelector".into());
            }
        }
        None
    }
}

/// A Kubernetes label selector (`matchLabels`, `matchExpressions`) on `labels`.
pub fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let match_labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let have = labels.get(key).map(String::as_str);
            match e
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default()
            {
                "In" => have.is_some_and(|h| values.contains(&h)),
                "NotIn" => have.is_none_or(|h| !values.contains(&h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            }
        });
    match_labels && expressions
}

/// What the checks run with.
pub struct Config {
    pub settings_value: Value,
    pub settings: Settings,
    pub namespace: Option<String>,
    pub scope: Option<Scope>,
    pub fix: bool,
}

/// Settings from `--settings FILE` (JSON or YAML, as `kwctl run --settings-path`).
pub fn settings_from_file(text: &str) -> Result<Value> {
    let value = single_value(text)?;
    Ok(if value.is_null() { json!({}) } else { value })
}

/// `spec.settings` and the scope of a ClusterAdmissionPolicy or AdmissionPolicy manifest.
pub fn policy_from_manifest(text: &str) -> Result<(Value, Scope)> {
    let manifest = single_value(text)?;
    let kind = manifest
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !matches!(kind, "ClusterAdmissionPolicy" | "AdmissionPolicy") {
        bail!("not a Kubewarden ClusterAdmissionPolicy or AdmissionPolicy (kind {kind:?})");
    }
    let spec = manifest.get("spec").cloned().unwrap_or(Value::Null);
    let scope = Scope {
        manifest_kind: kind.to_owned(),
        own_namespace: (kind == "AdmissionPolicy").then(|| {
            manifest
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_owned()
        }),
        namespace_selector: spec
            .get("namespaceSelector")
            .cloned()
            .filter(|v| !v.is_null()),
        object_selector: spec.get("objectSelector").cloned().filter(|v| !v.is_null()),
        rules: spec.get("rules").cloned(),
    };
    let settings = spec.get("settings").cloned().unwrap_or(json!({}));
    Ok((settings, scope))
}

fn single_value(text: &str) -> Result<Value> {
    let mut values = Vec::new();
    for doc in yaml::parse_stream(text) {
        let doc = doc.map_err(|e| anyhow::anyhow!("line {}: {}", e.line, e.message))?;
        if let Some(root) = doc.root {
            values.push(root.value());
        }
    }
    match values.len() {
        0 => Ok(Value::Null),
        1 => Ok(values.remove(0)),
        n => bail!("{n} documents where one was expected"),
    }
}

/// Settings as the policy's `validate_settings` judges them.
pub fn parse_settings(value: &Value) -> Result<Settings> {
    let settings: Settings = serde_json::from_value(value.clone())
        .map_err(|e| anyhow::anyhow!("settings do not parse: {e}"))?;
    settings
        .validate()
        .map_err(|e| anyhow::anyhow!("settings are invalid: {e}"))?;
    Ok(settings)
}

/// Reads every source once for the Namespace and Service objects it holds.
pub fn gather_cluster(
    sources: &[Source],
    stdin: &mut Option<String>,
    cluster: &mut OfflineCluster,
) {
    for source in sources {
        let Ok(text) = input::read(source, stdin) else {
            continue;
        };
        for doc in yaml::parse_stream(&text).into_iter().flatten() {
            let Some(root) = doc.root else { continue };
            for (node, _) in objects_of(&root, String::new()) {
                if let Kind::Map(_) = node.kind {
                    cluster.add_object(&node.value());
                }
            }
        }
    }
}

/// The objects of one document: itself, or the items of a `kind: List`, with the JSON
/// pointer prefix of each.
fn objects_of(root: &Node, prefix: String) -> Vec<(&Node, String)> {
    let is_list = root.child("kind").is_some_and(
        |k| matches!(&k.kind, Kind::Scalar(Value::String(s)) if s == "List" || s.ends_with("List")),
    ) && root.child("items").is_some();
    if is_list {
        if let Some(Node {
            kind: Kind::Seq(items),
            ..
        }) = root.child("items")
        {
            return items
                .iter()
                .enumerate()
                .map(|(i, n)| (n, format!("{prefix}/items/{i}")))
                .collect();
        }
    }
    vec![(root, prefix)]
}

/// The outcome of one file: its records, and its fixed text when `--fix` changed it.
pub struct FileResult {
    pub records: Vec<Record>,
    pub fixed_text: Option<String>,
}

/// Checks every object of `text` (the contents of `file`).
pub fn check_text(file: &str, text: &str, config: &Config, cluster: &OfflineCluster) -> FileResult {
    let mut records = Vec::new();
    let mut edits: Vec<fix::Edit> = Vec::new();
    for doc in yaml::parse_stream(text) {
        let doc = match doc {
            Ok(doc) => doc,
            Err(e) => {
                records.push(Record::error(file, e.line, e.message));
                continue;
            }
        };
        let Some(root) = &doc.root else { continue };
        if !matches!(root.kind, Kind::Map(_)) {
            let found = crate::yaml::json_kind(&root.value());
            records.push(Record::error(
                file,
                doc.line,
                format!("the document is not a mapping (found {found}): not a Kubernetes object"),
            ));
            continue;
        }
        for (node, _prefix) in objects_of(root, String::new()) {
            let mut record = check_object(file, text, &doc, node, config, cluster);
            if record.status == Status::Changed {
                if let Some(e) = record_edits(text, &doc, node, &mut record) {
                    if config.fix && record.fix_note.is_none() {
                        record.fixed = true;
                        edits.extend(e);
                    }
                }
            }
            records.push(record);
        }
    }
    let fixed_text = (!edits.is_empty()).then(|| fix::apply(text, &edits));
    FileResult {
        records,
        fixed_text,
    }
}

fn check_object(
    file: &str,
    text: &str,
    doc: &yaml::Document,
    node: &Node,
    config: &Config,
    cluster: &OfflineCluster,
) -> Record {
    let object = node.value();
    let mut record = Record::new(file, node.line, Status::Skipped);
    record.helm_source = doc.helm_source.clone();
    let field = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    record.api_version = field("/apiVersion");
    record.kind = field("/kind");
    record.name = field("/metadata/name");
    if !matches!(object, Value::Object(_)) {
        return Record::error(file, node.line, "a list item that is not an object".into());
    }
    let (group, version) = match record.api_version.split_once('/') {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (String::new(), record.api_version.clone()),
    };
    let plural = match record.kind.as_str() {
        "PrometheusRule" => "prometheusrules",
        "AlertmanagerConfig" => "alertmanagerconfigs",
        _ => "",
    };
    let reviewed = group == admission::MONITORING_GROUP
        && matches!(
            (version.as_str(), record.kind.as_str()),
            ("v1", "PrometheusRule") | ("v1alpha1" | "v1beta1", "AlertmanagerConfig")
        );
    if !reviewed {
        record.namespace = field("/metadata/namespace");
        return record;
    }
    let own = field("/metadata/namespace");
    let namespace = match (&own[..], &config.namespace) {
        ("", Some(ns)) => ns.clone(),
        ("", None) => {
            let mut r = Record::error(
                file,
                node.line,
                "no metadata.namespace and no --namespace: which namespace it is applied to decides the verdict".into(),
            );
            r.kind = record.kind;
            r.api_version = record.api_version;
            r.name = record.name;
            return r;
        }
        (own, _) => own.to_owned(),
    };
    record.namespace = namespace.clone();
    if let Some(scope) = &config.scope {
        if let Some(why) = scope.excludes(cluster, &namespace, &object, (&group, &version, plural))
        {
            record.status = Status::NotReviewed;
            record.message = Some(why);
            return record;
        }
    }
    let request = admission_request(&object, &namespace, &group, &version, plural);
    let (verdict, patch) = match review(&request, &config.settings, cluster) {
        Ok(v) => v,
        Err(e) => return Record::error(file, node.line, e),
    };
    match verdict {
        Verdict::Reject { message } => {
            record.status = Status::Rejected;
            record.allowed = Some(false);
            record.message = Some(message);
        }
        Verdict::Accept { warnings } => {
            record.status = Status::Unchanged;
            record.allowed = Some(true);
            record.warnings = warnings;
        }
        Verdict::Mutate { warnings, .. } => {
            record.allowed = Some(true);
            record.warnings = warnings;
            let empty = patch.as_array().is_none_or(Vec::is_empty);
            record.status = if empty {
                Status::Unchanged
            } else {
                Status::Changed
            };
            if !empty {
                record.change_lines = change_lines(node, &patch);
                record.patch = Some(patch);
            }
        }
    }
    let _ = text;
    record
}

/// The line of the value each operation changes (its mapping's line for a new key).
fn change_lines(node: &Node, patch: &Value) -> Vec<usize> {
    patch
        .as_array()
        .into_iter()
        .flatten()
        .map(|op| {
            let steps = fix::pointer_steps(op["path"].as_str().unwrap_or_default());
            let mut n = node;
            for s in &steps {
                match n.child(s) {
                    Some(c) => n = c,
                    None => break,
                }
            }
            n.line
        })
        .collect()
}

/// The AdmissionRequest the API server sends for `kubectl apply` of a new object.
pub fn admission_request(
    object: &Value,
    namespace: &str,
    group: &str,
    version: &str,
    plural: &str,
) -> Value {
    let mut object = object.clone();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("namespace".into(), json!(namespace));
    }
    let kind = object.get("kind").cloned().unwrap_or(Value::Null);
    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": group, "version": version, "resource": plural});
    json!({
        "uid": "00000000-0000-4000-8000-00000000c11e",
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": object.pointer("/metadata/name").cloned().unwrap_or(json!("")),
        "namespace": namespace,
        "operation": "CREATE",
        "userInfo": {"username": "tenant-alerting-policy-check", "groups": ["system:authenticated"]},
        "object": object,
        "oldObject": null,
        "dryRun": false,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-client-side-apply"}
    })
}

/// The policy's verdict on `request` and the JSONPatch policy-server would send.
pub fn review(
    request: &Value,
    settings: &Settings,
    cluster: &OfflineCluster,
) -> Result<(Verdict, Value), String> {
    let parsed: KubernetesAdmissionRequest = serde_json::from_value(request.clone())
        .map_err(|e| format!("the admission request cannot be built: {e}"))?;
    let verdict = admission::review(parsed, settings, cluster);
    let patch = match &verdict {
        Verdict::Mutate { object, .. } => {
            let original = request.get("object").unwrap_or(&Value::Null);
            serde_json::to_value(json_patch::diff(original, object)).unwrap_or(Value::Null)
        }
        _ => Value::Array(Vec::new()),
    };
    Ok((verdict, patch))
}

/// Computes the in-place edits for a changed object, checks them by reading the result
/// back, and fills the record's diff and fix note. Returns the edits when they hold.
fn record_edits(
    text: &str,
    doc: &yaml::Document,
    node: &Node,
    record: &mut Record,
) -> Option<Vec<fix::Edit>> {
    let patch = record.patch.clone()?;
    let ops: Vec<Value> = patch.as_array().cloned().unwrap_or_default();
    let original = node.value();
    let expected = match apply_patch(&original, &patch) {
        Ok(v) => v,
        Err(e) => {
            record.fix_note = Some(format!("the patch does not apply: {e}"));
            return None;
        }
    };
    let attempt = fix::edits_for(text, node, &ops).and_then(|edits| {
        let fixed = fix::apply(&text[doc.start..doc.end], &shift(&edits, doc.start));
        let reread = yaml::parse_stream(&fixed);
        let same = reread.len() == 1
            && reread[0]
                .as_ref()
                .ok()
                .and_then(|d| d.root.as_ref())
                .and_then(|r| locate_like(r, node, doc))
                .is_some_and(|v| v == expected);
        if same {
            Ok((edits, fixed))
        } else {
            Err("the edited text would not read back as the patched object".to_owned())
        }
    });
    match attempt {
        Ok((edits, fixed)) => {
            let first_line = doc.first_line;
            record.diff = Some(crate::diff::unified_diff(
                &text[doc.start..doc.end],
                &fixed,
                first_line,
            ));
            if let Some(source) = &doc.helm_source {
                record.fix_note = Some(format!(
                    "rendered by Helm from {source}: change the template (or its values); the rendered text cannot be fixed in place"
                ));
            }
            Some(edits)
        }
        Err(why) => {
            record.fix_note = Some(format!("cannot be written back in place: {why}"));
            let mut before = String::new();
            let mut after = String::new();
            fix::render_block(&original, 0, 2, &mut before);
            fix::render_block(&expected, 0, 2, &mut after);
            record.diff = Some(crate::diff::unified_diff(&before, &after, 1));
            None
        }
    }
}

/// Edits at offsets relative to `base`.
fn shift(edits: &[fix::Edit], base: usize) -> Vec<fix::Edit> {
    edits
        .iter()
        .map(|e| fix::Edit {
            start: e.start - base,
            end: e.end - base,
            text: e.text.clone(),
        })
        .collect()
}

/// The value at the same place as `node` in a re-read document (the root, or a List item
/// found by its position among the items).
fn locate_like(root: &Node, node: &Node, doc: &yaml::Document) -> Option<Value> {
    let original = doc.root.as_ref()?;
    if std::ptr::eq(original, node) {
        return Some(root.value());
    }
    if let (
        Some(Node {
            kind: Kind::Seq(old),
            ..
        }),
        Some(Node {
            kind: Kind::Seq(new),
            ..
        }),
    ) = (original.child("items"), root.child("items"))
    {
        let i = old.iter().position(|n| std::ptr::eq(n, node))?;
        return new.get(i).map(Node::value);
    }
    None
}

pub fn apply_patch(original: &Value, patch: &Value) -> Result<Value> {
    let patch: json_patch::Patch =
        serde_json::from_value(patch.clone()).context("not a JSONPatch")?;
    let mut value = original.clone();
    json_patch::patch(&mut value, &patch).context("JSONPatch")?;
    Ok(value)
}
