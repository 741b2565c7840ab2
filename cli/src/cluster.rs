//! The cluster the policy reads, offline: Namespace and Service objects found in the input
//! or in `--cluster FILE` (objects, a `kind: List`, or a kwctl session file).

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tenant_alerting_policy::cluster::{Cluster, NamespaceMeta, ServiceSpec};

use crate::yaml;

/// Objects by `(kind, namespace, name)`; each an object or the error a read gets.
#[derive(Debug, Default, Clone)]
pub struct OfflineCluster {
    answers: BTreeMap<(String, String, String), Result<Value, String>>,
}

impl OfflineCluster {
    /// Records `object` if it is a core Namespace or Service (anything else is ignored).
    pub fn add_object(&mut self, object: &Value) {
        let text = |p: &str| {
            object
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let kind = text("/kind");
        if text("/apiVersion") != "v1" || !matches!(kind, "Namespace" | "Service") {
            return;
        }
        let namespace = if kind == "Namespace" {
            ""
        } else {
            text("/metadata/namespace")
        };
        self.answers.insert(
            (
                kind.to_owned(),
                namespace.to_owned(),
                text("/metadata/name").to_owned(),
            ),
            Ok(object.clone()),
        );
    }

    /// The labels a Namespace has, as a `namespaceSelector` sees them (the API server adds
    /// `kubernetes.io/metadata.name`).
    pub fn namespace_labels(&self, name: &str) -> BTreeMap<String, String> {
        let mut labels = match self.get("Namespace", "", name) {
            Ok(ns) => ns
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
            Err(_) => BTreeMap::new(),
        };
        labels.insert("kubernetes.io/metadata.name".into(), name.into());
        labels
    }

    /// Adds what `--cluster FILE` holds: a kwctl session file, or objects.
    pub fn add_file(&mut self, text: &str) -> Result<()> {
        for doc in yaml::parse_stream(text) {
            let doc = doc.map_err(|e| anyhow::anyhow!("line {}: {}", e.line, e.message))?;
            let Some(root) = doc.root else { continue };
            let value = root.value();
            match &value {
                Value::Array(items) if items.iter().any(|i| i.get("type").is_some()) => {
                    for item in items {
                        self.add_exchange(item)?;
                    }
                }
                Value::Array(items) => items.iter().for_each(|o| self.add_object(o)),
                Value::Object(_) if value.get("kind").and_then(Value::as_str) == Some("List") => {
                    if let Some(items) = value.get("items").and_then(Value::as_array) {
                        items.iter().for_each(|o| self.add_object(o));
                    }
                }
                Value::Object(_) => self.add_object(&value),
                _ => bail!("line {}: neither objects nor a kwctl session", doc.line),
            }
        }
        Ok(())
    }

    /// One exchange of a kwctl session file (`--record-host-capabilities-interactions`).
    fn add_exchange(&mut self, exchange: &Value) -> Result<()> {
        let request = exchange
            .get("request")
            .and_then(Value::as_str)
            .context("a session exchange without a request")?;
        let request = yaml::parse_stream(request)
            .into_iter()
            .next()
            .and_then(|d| d.ok())
            .and_then(|d| d.root)
            .map(|r| r.value())
            .context("a session request that is not YAML")?;
        let field = |k: &str| request.get(k).and_then(Value::as_str).unwrap_or_default();
        if !matches!(field("kind"), "Namespace" | "Service") {
            return Ok(());
        }
        let key = (
            field("kind").to_owned(),
            field("namespace").to_owned(),
            field("name").to_owned(),
        );
        let response = exchange
            .get("response")
            .context("an exchange without a response")?;
        let answer = match response.get("type").and_then(Value::as_str) {
            Some("Success") => {
                let payload = response
                    .get("payload")
                    .and_then(Value::as_str)
                    .unwrap_or("null");
                Ok(serde_json::from_str(payload).context("a session payload that is not JSON")?)
            }
            _ => Err(response
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_owned()),
        };
        self.answers.insert(key, answer);
        Ok(())
    }

    fn get(&self, kind: &str, namespace: &str, name: &str) -> Result<&Value, String> {
        match self
            .answers
            .get(&(kind.to_owned(), namespace.to_owned(), name.to_owned()))
        {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(e.clone()),
            // The API server's own words for a missing object.
            None => Err(format!(
                "{}s {name:?} not found (no such {kind} in the input or --cluster)",
                kind.to_lowercase()
            )),
        }
    }
}

impl Cluster for OfflineCluster {
    fn namespace(&self, name: &str) -> Result<NamespaceMeta, String> {
        let object = self.get("Namespace", "", name)?;
        serde_json::from_value(object.get("metadata").cloned().unwrap_or(Value::Null))
            .or_else(|_| Ok(NamespaceMeta::default()))
    }

    fn service(&self, namespace: &str, name: &str) -> Result<ServiceSpec, String> {
        let object = self.get("Service", namespace, name)?;
        match object.get("spec") {
            Some(spec) => serde_json::from_value(spec.clone())
                .map_err(|e| format!("Service {namespace}/{name} cannot be read: {e}")),
            None => Ok(ServiceSpec::default()),
        }
    }
}
