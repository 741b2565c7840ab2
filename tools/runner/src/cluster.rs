//! The cluster a policy sees through Kubewarden's `kubernetes/get_resource` host
//! capability, made of fixtures: objects, or the exchanges of a kwctl session file
//! (`kwctl run --replay-host-capabilities-interactions`), so one file drives both hosts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;

/// What `get_resource` is asked for: the SDK's `GetResourceRequest`, less its options.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct ResourceKey {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

impl std::fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{} {ns}/{}", self.api_version, self.kind, self.name),
            None => write!(f, "{}/{} {}", self.api_version, self.kind, self.name),
        }
    }
}

/// Cluster objects by key, each an object or the error the host answers with. A key
/// not in it is answered "not found", as policy-server answers a missing object.
#[derive(Debug, Clone, Default)]
pub struct ClusterFixture {
    answers: BTreeMap<ResourceKey, std::result::Result<Value, String>>,
    /// Every request any instance made, in order.
    calls: Arc<Mutex<Vec<ResourceKey>>>,
}

impl ClusterFixture {
    /// A cluster holding `objects` (each with `apiVersion`, `kind` and `metadata`).
    pub fn with_objects(objects: impl IntoIterator<Item = Value>) -> Result<Self> {
        let mut cluster = ClusterFixture::default();
        for object in objects {
            cluster = cluster.with_object(object)?;
        }
        Ok(cluster)
    }

    pub fn with_object(mut self, object: Value) -> Result<Self> {
        let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
        let key = ResourceKey {
            api_version: text("/apiVersion")
                .context("object without apiVersion")?
                .to_owned(),
            kind: text("/kind").context("object without kind")?.to_owned(),
            name: text("/metadata/name")
                .context("object without metadata.name")?
                .to_owned(),
            namespace: text("/metadata/namespace").map(str::to_owned),
        };
        self.answers.insert(key, Ok(object));
        Ok(self)
    }

    /// Every read of `key` fails with `message` (access not granted, API server down).
    pub fn with_error(mut self, key: ResourceKey, message: &str) -> Self {
        self.answers.insert(key, Err(message.to_owned()));
        self
    }

    /// The exchanges of a kwctl session file. Only `KubernetesGetResource` is read.
    pub fn from_session(yaml: &str) -> Result<Self> {
        #[derive(Deserialize)]
        struct Exchange {
            request: String,
            response: Response,
        }
        #[derive(Deserialize)]
        #[serde(tag = "type")]
        enum Response {
            Success { payload: String },
            Error { message: String },
        }
        let exchanges: Vec<Exchange> =
            serde_yaml::from_str(yaml).context("not a kwctl session file")?;
        let mut cluster = ClusterFixture::default();
        for exchange in exchanges {
            let request: serde_yaml::Value = serde_yaml::from_str(&exchange.request)?;
            let serde_yaml::Value::Tagged(tagged) = request else {
                bail!("session request is not tagged: {}", exchange.request);
            };
            if tagged.tag != "KubernetesGetResource" {
                bail!("session request {} is not supported", tagged.tag);
            }
            let key: ResourceKey = serde_yaml::from_value(tagged.value)?;
            let answer = match exchange.response {
                Response::Success { payload } => Ok(serde_json::from_str(&payload)?),
                Response::Error { message } => Err(message),
            };
            cluster.answers.insert(key, answer);
        }
        Ok(cluster)
    }

    /// The requests made so far by instances in this cluster.
    pub fn calls(&self) -> Vec<ResourceKey> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The host's answer to one waPC host call.
    pub(crate) fn answer(
        &self,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>> {
        if (binding, namespace, operation) != ("kubewarden", "kubernetes", "get_resource") {
            bail!("host capability {binding}/{namespace}/{operation} is not provided by this host");
        }
        let key: ResourceKey = serde_json::from_slice(payload)
            .map_err(|e| anyhow!("malformed get_resource request: {e}"))?;
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(key.clone());
        }
        match self.answers.get(&key) {
            Some(Ok(object)) => Ok(serde_json::to_vec(object)?),
            Some(Err(message)) => Err(anyhow!("{message}")),
            None => Err(anyhow!("{key} not found")),
        }
    }
}
