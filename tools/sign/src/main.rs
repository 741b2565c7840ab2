//! `policy-sign`: signs an artifact in a local OCI registry the way `cosign sign --key`
//! does, for the tests (tests/it/registry.rs) that show kwctl and policy-server verifying
//! the policy with no network and no cosign binary.
//!
//! What it writes is cosign's "simple signing" signature (the format sigstore-rs, and so
//! Kubewarden's policy-fetcher, reads from the `.sig` tag):
//!
//! - the payload: `{"critical":{"identity":{"docker-reference":"<registry>/<repository>"},
//!   "image":{"docker-manifest-digest":"sha256:…"},"type":"cosign container image
//!   signature"},"optional":<annotations or null>}`, serialised as cosign does (keys in
//!   order, no spaces);
//! - signed with ECDSA P-256 over SHA-256, the signature ASN.1 DER, base64 (standard);
//! - an OCI image manifest tagged `sha256-<hex of the signed manifest digest>.sig` in the
//!   same repository, one layer per signature: the payload, media type
//!   `application/vnd.dev.cosign.simplesigning.v1+json`, annotated
//!   `dev.cosignproject.cosign/signature: <base64 signature>`. Signing again appends a
//!   layer, as cosign does.
//!
//! Keys: `generate-key-pair` writes `<prefix>.key` (PKCS#8 PEM, unencrypted: the form
//! `cosign import-key-pair` takes; cosign's own `cosign.key` is the same key encrypted)
//! and `<prefix>.pub` (SubjectPublicKeyInfo PEM, exactly what `cosign.pub` holds and what
//! `kwctl verify --verification-key` and a `pubKey` verification config take).
//!
//! No transparency log entry, no certificate: this is `cosign sign --key … --tlog-upload=false`.
//! Plain HTTP to a loopback registry only; it is a test tool, not a release tool (releases
//! are signed keylessly by cosign in .github/workflows/release.yml).
//!
//! Offline, kwctl cannot fetch Sigstore's trust root (TUF) and refuses to verify anything
//! without one; `trust-config` writes the Sigstore ClientTrustConfig (JSON, what kwctl and
//! policy-server take with `--sigstore-trust-config`) of an offline deployment: no
//! transparency log, no CT log, no timestamp authority, and as the only certificate
//! authority a self-signed CA made on the spot whose private key is never written. No
//! certificate can chain to it, so keyless signatures cannot verify against this root and
//! keyed signatures are checked against their public key alone.
//!
//! Usage:
//!   policy-sign generate-key-pair PREFIX
//!   policy-sign sign --key PREFIX.key [-a KEY=VALUE]... [registry://]127.0.0.1:PORT/REPOSITORY:TAG
//!   policy-sign trust-config OUT.json
//!
//! `sign` prints one JSON line: the signed digest, the `.sig` reference and the payload.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const SIGNATURE_TYPE: &str = "cosign container image signature";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

fn main() {
    if let Err(e) = run(std::env::args().skip(1).collect()) {
        eprintln!("policy-sign: {e:#}");
        std::process::exit(1);
    }
}

fn usage() -> anyhow::Error {
    anyhow!(
        "usage: policy-sign generate-key-pair PREFIX\n       policy-sign trust-config OUT.json\n       policy-sign sign --key KEY [-a KEY=VALUE]... [registry://]HOST:PORT/REPOSITORY:TAG"
    )
}

fn run(args: Vec<String>) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("generate-key-pair") => {
            let [_, prefix] = args.as_slice() else {
                return Err(usage());
            };
            generate_key_pair(prefix)
        }
        Some("trust-config") => {
            let [_, out] = args.as_slice() else {
                return Err(usage());
            };
            std::fs::write(out, serde_json::to_vec_pretty(&offline_trust_config()?)?)
                .with_context(|| format!("write {out}"))
        }
        Some("sign") => {
            let mut key = None;
            let mut annotations = BTreeMap::new();
            let mut reference = None;
            let mut rest = args[1..].iter();
            while let Some(arg) = rest.next() {
                match arg.as_str() {
                    "--key" | "-k" => key = rest.next().cloned(),
                    "-a" | "--annotation" => {
                        let pair = rest.next().ok_or_else(usage)?;
                        let (k, v) = pair
                            .split_once('=')
                            .ok_or_else(|| anyhow!("annotation {pair:?} is not KEY=VALUE"))?;
                        annotations.insert(k.to_owned(), v.to_owned());
                    }
                    other if reference.is_none() && !other.starts_with('-') => {
                        reference = Some(other.to_owned())
                    }
                    _ => return Err(usage()),
                }
            }
            let (Some(key), Some(reference)) = (key, reference) else {
                return Err(usage());
            };
            let signed = sign(Path::new(&key), &reference, &annotations)?;
            println!("{signed}");
            Ok(())
        }
        _ => Err(usage()),
    }
}

fn generate_key_pair(prefix: &str) -> Result<()> {
    let key = SigningKey::random(&mut rand_core::OsRng);
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow!("encode the private key: {e}"))?;
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| anyhow!("encode the public key: {e}"))?;
    let private_path = format!("{prefix}.key");
    write_private(Path::new(&private_path), private.as_bytes())?;
    std::fs::write(format!("{prefix}.pub"), public)
        .with_context(|| format!("write {prefix}.pub"))?;
    eprintln!("policy-sign: wrote {prefix}.key and {prefix}.pub");
    Ok(())
}

/// The ClientTrustConfig of an offline deployment (see the module's documentation).
fn offline_trust_config() -> Result<Value> {
    use std::str::FromStr;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    use x509_cert::der::Encode;
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::SubjectPublicKeyInfoOwned;
    use x509_cert::time::Validity;

    // Dropped at the end of this function: nothing can ever be issued under this CA.
    let ca_key = SigningKey::random(&mut rand_core::OsRng);
    let subject =
        Name::from_str("CN=offline placeholder CA (no key),O=tenant-alerting-policy tests")
            .map_err(|e| anyhow!("CA name: {e}"))?;
    let spki = SubjectPublicKeyInfoOwned::from_key(*ca_key.verifying_key())
        .map_err(|e| anyhow!("CA key: {e}"))?;
    let validity = Validity::from_now(Duration::from_secs(24 * 3600))
        .map_err(|e| anyhow!("CA validity: {e}"))?;
    let certificate = CertificateBuilder::new(
        Profile::Root,
        SerialNumber::from(1u32),
        validity,
        subject,
        spki,
        &ca_key,
    )
    .map_err(|e| anyhow!("CA certificate: {e}"))?
    .build::<p256::ecdsa::DerSignature>()
    .map_err(|e| anyhow!("CA certificate: {e}"))?;
    let der = certificate
        .to_der()
        .map_err(|e| anyhow!("CA certificate: {e}"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [],
            "ctlogs": [],
            "timestampAuthorities": [],
            "certificateAuthorities": [{
                "subject": {
                    "organization": "tenant-alerting-policy tests",
                    "commonName": "offline placeholder CA (no key)",
                },
                "uri": "https://offline.invalid",
                "certChain": {"certificates": [{"rawBytes": b64.encode(der)}]},
                "validFor": {"start": "2020-01-01T00:00:00Z"},
            }],
        },
    }))
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("write {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))
}

/// `HOST:PORT/REPOSITORY:TAG` (or `@sha256:…`), `registry://` optional.
struct Reference {
    host: String,
    repository: String,
    reference: String,
}

fn parse_reference(text: &str) -> Result<Reference> {
    let text = text.strip_prefix("registry://").unwrap_or(text);
    let (host, rest) = text
        .split_once('/')
        .ok_or_else(|| anyhow!("{text:?}: no repository"))?;
    let host_only = host.rsplit_once(':').map_or(host, |(h, _)| h);
    if !matches!(host_only, "127.0.0.1" | "localhost" | "[::1]") {
        bail!("{host}: policy-sign talks plain HTTP to a loopback registry only");
    }
    let (repository, reference) = match rest.split_once('@') {
        Some((repository, digest)) => (repository, digest),
        None => match rest.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, tag),
            _ => (rest, "latest"),
        },
    };
    Ok(Reference {
        host: host.to_owned(),
        repository: repository.to_owned(),
        reference: reference.to_owned(),
    })
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The simple-signing payload cosign signs, byte for byte as cosign serialises it (Go's
/// encoding/json: struct fields in declaration order, which is also alphabetical here;
/// map keys sorted; `optional` null without annotations).
fn payload(
    docker_reference: &str,
    digest: &str,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let optional = if annotations.is_empty() {
        Value::Null
    } else {
        json!(annotations)
    };
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": optional,
    }))
    .expect("JSON of strings")
}

fn sign(key_path: &Path, reference: &str, annotations: &BTreeMap<String, String>) -> Result<Value> {
    let pem = std::fs::read_to_string(key_path)
        .with_context(|| format!("read {}", key_path.display()))?;
    let key = SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| anyhow!("{}: not a PKCS#8 P-256 key: {e}", key_path.display()))?;
    let target = parse_reference(reference)?;
    let registry = Registry {
        host: target.host.clone(),
        repository: target.repository.clone(),
    };

    // The digest of the manifest the reference names now: what the signature is bound to.
    let (status, headers, body) = registry.request(
        "GET",
        &format!("manifests/{}", target.reference),
        &[("Accept", MANIFEST_ACCEPT)],
        &[],
    )?;
    if status != 200 {
        bail!(
            "{reference}: HTTP {status} fetching the manifest: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let digest = sha256_digest(&body);
    if let Some(announced) = header(&headers, "docker-content-digest") {
        if announced != digest {
            bail!("the registry announces {announced} for a manifest whose digest is {digest}");
        }
    }

    let docker_reference = format!("{}/{}", target.host, target.repository);
    let payload = payload(&docker_reference, &digest, annotations);
    let signature: Signature = key.sign(&payload);
    let signature_b64 =
        base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes());

    // Signing again appends to the signatures already there, as cosign does.
    let tag = format!("{}.sig", digest.replace(':', "-"));
    let mut layers: Vec<Value> = Vec::new();
    let (status, _, existing) = registry.request(
        "GET",
        &format!("manifests/{tag}"),
        &[("Accept", OCI_MANIFEST)],
        &[],
    )?;
    if status == 200 {
        let existing: Value =
            serde_json::from_slice(&existing).context("the existing .sig manifest")?;
        layers.extend(existing["layers"].as_array().cloned().unwrap_or_default());
    }
    let layer_digest = sha256_digest(&payload);
    layers.retain(|l| {
        !(l["digest"] == json!(layer_digest)
            && l["annotations"][SIGNATURE_ANNOTATION] == json!(signature_b64))
    });
    registry.upload_blob(&payload, &layer_digest)?;
    layers.push(json!({
        "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
        "size": payload.len(),
        "digest": layer_digest,
        "annotations": {SIGNATURE_ANNOTATION: signature_b64},
    }));

    // The image config cosign writes for its signature image: empty but for the layers.
    let diff_ids: Vec<&Value> = layers.iter().map(|l| &l["digest"]).collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": diff_ids.iter().map(|_| json!({"created": "0001-01-01T00:00:00Z"})).collect::<Vec<_>>(),
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    }))?;
    let config_digest = sha256_digest(&config);
    registry.upload_blob(&config, &config_digest)?;

    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": config.len(), "digest": config_digest},
        "layers": layers,
    }))?;
    let (status, _, body) = registry.request(
        "PUT",
        &format!("manifests/{tag}"),
        &[("Content-Type", OCI_MANIFEST)],
        &manifest,
    )?;
    if status != 201 {
        bail!(
            "HTTP {status} pushing {tag}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(json!({
        "signed": format!("{docker_reference}@{digest}"),
        "signature": format!("{docker_reference}:{tag}"),
        "signatures": layers.len(),
        "payload": serde_json::from_slice::<Value>(&payload)?,
    }))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// One repository of a registry over plain HTTP (the distribution API, v2).
struct Registry {
    host: String,
    repository: String,
}

type Response = (u16, Vec<(String, String)>, Vec<u8>);

impl Registry {
    /// `path` relative to `/v2/<repository>/`, or absolute when it starts with `/`.
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response> {
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/v2/{}/{path}", self.repository)
        };
        let address = self.host.replace("localhost", "127.0.0.1");
        let mut stream =
            TcpStream::connect(&address).with_context(|| format!("connect to {address}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.host,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        parse_response(&raw).with_context(|| format!("{method} {path}"))
    }

    /// Uploads a blob (POST then PUT with its digest) unless the registry has it.
    fn upload_blob(&self, data: &[u8], digest: &str) -> Result<()> {
        let (status, _, _) = self.request("HEAD", &format!("blobs/{digest}"), &[], &[])?;
        if status == 200 {
            return Ok(());
        }
        let (status, headers, body) = self.request("POST", "blobs/uploads/", &[], &[])?;
        if status != 202 {
            bail!(
                "HTTP {status} starting an upload: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let location =
            header(&headers, "location").ok_or_else(|| anyhow!("no Location for the upload"))?;
        // Absolute (http://host/v2/…) or a path.
        let location = match location.split_once("://") {
            Some((_, rest)) => &rest[rest.find('/').unwrap_or(rest.len())..],
            None => location,
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let (status, _, body) = self.request(
            "PUT",
            &format!("{location}{separator}digest={digest}"),
            &[("Content-Type", "application/octet-stream")],
            data,
        )?;
        if status != 201 {
            bail!(
                "HTTP {status} uploading {digest}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(())
    }
}

fn parse_response(raw: &[u8]) -> Result<Response> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("no HTTP header in the reply"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("no status in {head:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if header(&headers, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body);
    }
    Ok((status, headers, body))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::VerifyingKey;
    use p256::pkcs8::DecodePublicKey;

    #[test]
    fn the_payload_is_cosigns_simple_signing_json() {
        let none = BTreeMap::new();
        assert_eq!(
            String::from_utf8(payload("127.0.0.1:5000/p/q", "sha256:ab", &none)).unwrap(),
            r#"{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/p/q"},"image":{"docker-manifest-digest":"sha256:ab"},"type":"cosign container image signature"},"optional":null}"#
        );
        let some: BTreeMap<String, String> = [("env".to_owned(), "prod".to_owned())]
            .into_iter()
            .collect();
        assert!(String::from_utf8(payload("r/p", "sha256:ab", &some))
            .unwrap()
            .ends_with(r#""optional":{"env":"prod"}}"#));
    }

    #[test]
    fn keys_round_trip_through_pem_and_signatures_are_der() {
        let key = SigningKey::random(&mut rand_core::OsRng);
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let again = SigningKey::from_pkcs8_pem(&pem).unwrap();
        let public = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        let verifying = VerifyingKey::from_public_key_pem(&public).unwrap();
        let signature: Signature = again.sign(b"payload");
        let der = signature.to_der();
        // ASN.1 SEQUENCE of two INTEGERs.
        assert_eq!(der.as_bytes()[0], 0x30);
        let parsed = Signature::from_der(der.as_bytes()).unwrap();
        verifying.verify(b"payload", &parsed).unwrap();
    }

    #[test]
    fn only_loopback_registries_and_references_parse() {
        let r = parse_reference("registry://127.0.0.1:5000/a/b/c:v1").unwrap();
        assert_eq!(
            (r.host.as_str(), r.repository.as_str(), r.reference.as_str()),
            ("127.0.0.1:5000", "a/b/c", "v1")
        );
        let r = parse_reference("127.0.0.1:5000/a@sha256:00").unwrap();
        assert_eq!(
            (r.repository.as_str(), r.reference.as_str()),
            ("a", "sha256:00")
        );
        assert!(parse_reference("ghcr.io/a/b:v1").is_err());
    }
}
