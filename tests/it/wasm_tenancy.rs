//! Tenancy from the cluster, through the release .wasm: the tenant from the Namespace's
//! annotation or label, the listener Service check, failing closed on every read that
//! does not succeed, and every address Alertmanager would contact judged as a
//! destination. The runner answers the policy's `kubernetes/get_resource` host calls
//! from fixtures; `tests/it/kwctl.rs` replays the same sessions through kwctl.

use crate::common::*;
use policy_runner::{ClusterFixture, ResourceKey};
use serde_json::{json, Value};

const DOMAIN: &str = "apps.cluster-abc.example.com";

fn listener(user: &str) -> String {
    format!("https://el-ct-listener-{user}-toolings.{DOMAIN}/")
}

fn by_annotation() -> Value {
    json!({
        "clusterDomain": DOMAIN,
        "tenantFrom": "namespaceAnnotation",
        "tenantKey": "openshift.io/requester",
        "listenerService": {"namespace": "{user}-toolings", "name": "el-ct-listener"},
    })
}

fn by_label() -> Value {
    json!({"clusterDomain": DOMAIN, "tenantFrom": "namespaceLabel", "tenantKey": "tenant"})
}

fn namespace(name: &str, annotations: Value, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": name, "annotations": annotations, "labels": labels}})
}

fn requested_by(name: &str, user: &str) -> Value {
    namespace(name, json!({"openshift.io/requester": user}), json!({}))
}

fn service(ns: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "el-ct-listener", "namespace": ns},
           "spec": {"ports": [{"port": 8080}], "selector": {"eventlistener": "ct-listener"}}})
}

fn cluster(objects: impl IntoIterator<Item = Value>) -> ClusterFixture {
    ClusterFixture::with_objects(objects).unwrap()
}

fn key(kind: &str, name: &str, namespace: Option<&str>) -> ResourceKey {
    ResourceKey {
        api_version: "v1".to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
        namespace: namespace.map(str::to_owned),
    }
}

/// A correct v1beta1 AlertmanagerConfig moved to `namespace`, sending to `url`.
fn config_in(namespace: &str, url: Value) -> Value {
    let mut r = request("alertmanagerconfig-v1beta1-correct");
    r["namespace"] = json!(namespace);
    r["object"]["metadata"]["namespace"] = json!(namespace);
    r["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["url"] = url;
    r
}

fn webhook_url(r: &policy_runner::AdmissionResponse) -> Value {
    select(
        r.mutated_object.as_ref().expect("mutated"),
        "$.spec.receivers[0].webhookConfigs[0].url",
    )
    .clone()
}

#[test]
fn default_settings_make_no_host_call() {
    let cluster = cluster([]);
    for name in [
        "seed-alertmanagerconfig",
        "alertmanagerconfig-other-user",
        "alertmanagerconfig-v1alpha1-correct",
        "seed-prometheusrule",
    ] {
        let r = validate_in(&cluster, &request(name), &workshop_settings());
        assert!(r.allowed, "{name}: {:?}", r.status);
    }
    // Nor does cluster tenancy for a PrometheusRule, which is scoped by its namespace.
    let r = validate_in(&cluster, &request("seed-prometheusrule"), &by_annotation());
    assert!(r.allowed, "{:?}", r.status);
    // Nor is anything read for settings that could build no listener anyway.
    let mut no_domain = by_annotation();
    no_domain["clusterDomain"] = json!("");
    let r = validate_in(&cluster, &request("seed-alertmanagerconfig"), &no_domain);
    assert_rejected(&r, "clusterDomain setting is empty");
    assert_eq!(cluster.calls(), []);
}

#[test]
fn the_requester_annotation_decides_whose_listener_it_is() {
    // user1 created an unused `user2-prod`: by name it is user2's, by who asked for it
    // it is user1's, and the annotation is set by OpenShift, not by the user.
    let cluster = cluster([
        requested_by("user2-prod", "user1"),
        requested_by("user1-toolings", "user1"),
        service("user1-toolings"),
    ]);
    let req = config_in("user2-prod", json!(listener("user2")));
    let r = validate_in(&cluster, &req, &by_annotation());
    assert!(r.allowed, "{:?}", r.status);
    assert_eq!(webhook_url(&r), json!(listener("user1")));
    assert!(
        r.warnings[0].contains("is another tenant's EventListener"),
        "{:?}",
        r.warnings
    );
    assert_eq!(
        cluster.calls(),
        [
            key("Namespace", "user2-prod", None),
            key("Namespace", "user1-toolings", None),
            key("Service", "el-ct-listener", Some("user1-toolings")),
        ]
    );
    // Name tenancy would have routed it to user2.
    let r = validate(&req, &workshop_settings());
    assert!(r.allowed && r.patch.is_none());

    // The tenant's own listener, placeholders and a missing URL, as before.
    let own = validate_in(
        &cluster,
        &config_in("user2-prod", json!(listener("user1"))),
        &by_annotation(),
    );
    assert!(own.allowed && own.patch.is_none(), "{:?}", own.status);
    for url in [
        json!("https://el-ct-listener-<USER_NAME>-toolings.<CLUSTER_DOMAIN>/"),
        Value::Null,
    ] {
        let r = validate_in(
            &cluster,
            &config_in("user2-prod", url.clone()),
            &by_annotation(),
        );
        assert_eq!(webhook_url(&r), json!(listener("user1")), "{url}");
    }
    let mut reject = by_annotation();
    reject["onForeignListener"] = json!("reject");
    let r = validate_in(&cluster, &req, &reject);
    assert_rejected(&r, "is another tenant's EventListener; this namespace's alerts go to \"https://el-ct-listener-user1-toolings");
}

#[test]
fn a_label_names_the_tenant_where_the_cluster_uses_one() {
    let cluster = cluster([namespace(
        "models",
        json!({"tenant": "team-b"}),
        json!({"tenant": "team-a"}),
    )]);
    let r = validate_in(
        &cluster,
        &config_in("models", json!(listener("team-a"))),
        &by_label(),
    );
    assert!(r.allowed && r.patch.is_none(), "{:?}", r.status);
    let r = validate_in(
        &cluster,
        &config_in("models", json!(listener("team-b"))),
        &by_label(),
    );
    assert_eq!(webhook_url(&r), json!(listener("team-a")));
    // No listenerService: the Namespace is the only read.
    assert!(cluster.calls().iter().all(|k| k.kind == "Namespace"));
}

#[test]
fn a_tenant_that_cannot_be_a_dns_label_is_refused_with_value_and_key() {
    for value in [
        "kube:admin",
        "alice@corp",
        "alice.smith",
        "corp/alice",
        "Alice",
        &"a".repeat(64),
    ] {
        let cluster = cluster([requested_by("ml", value)]);
        let r = validate_in(
            &cluster,
            &config_in("ml", json!(listener("alice"))),
            &by_annotation(),
        );
        assert_rejected(
            &r,
            &format!("the tenant {value:?} (the annotation \"openshift.io/requester\" of Namespace \"ml\") cannot name an EventListener"),
        );
    }
    let cluster = cluster([namespace("ml", json!({}), json!({"tenant": "Team_A"}))]);
    let r = validate_in(
        &cluster,
        &config_in("ml", json!(listener("a"))),
        &by_label(),
    );
    assert_rejected(
        &r,
        "the tenant \"Team_A\" (the label \"tenant\" of Namespace \"ml\")",
    );
}

#[test]
fn a_missing_key_is_refused_naming_key_and_namespace() {
    let cluster = cluster([namespace(
        "ml",
        json!({"openshift.io/display-name": "ML"}),
        json!({}),
    )]);
    let r = validate_in(
        &cluster,
        &config_in("ml", json!(listener("a"))),
        &by_annotation(),
    );
    assert_rejected(
        &r,
        "Namespace \"ml\" has no annotation \"openshift.io/requester\"",
    );
    let r = validate_in(
        &cluster,
        &config_in("ml", json!(listener("a"))),
        &by_label(),
    );
    assert_rejected(&r, "Namespace \"ml\" has no label \"tenant\"");
}

#[test]
fn every_failed_read_fails_closed_saying_what_could_not_be_read() {
    let req = config_in("ml", json!(listener("alice")));
    // No such Namespace.
    let r = validate_in(&cluster([]), &req, &by_annotation());
    assert_rejected(&r, "cannot read Namespace \"ml\" to find its tenant (the annotation \"openshift.io/requester\"): Host error: Callback evaluation failure: v1/Namespace ml not found");
    // Access not granted, or the API server down.
    let denied = cluster([]).with_error(
        key("Namespace", "ml", None),
        "Policy has not been granted access to Kubernetes v1/Namespace resources",
    );
    let r = validate_in(&denied, &req, &by_annotation());
    assert_rejected(&r, "not been granted access");
    // A host with no host capabilities at all.
    let r = instance()
        .validate(&req, &by_annotation())
        .expect("no trap");
    assert_rejected(&r, "cannot read Namespace \"ml\"");
    // A Namespace the host answers with something that is not one.
    let odd = cluster([]).with_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml", "annotations": "yes"}})).unwrap();
    let r = validate_in(&odd, &req, &by_annotation());
    assert_rejected(&r, "cannot read Namespace \"ml\"");
}

#[test]
fn the_listener_service_must_exist_before_alerts_go_to_it() {
    let req = config_in("ml", json!(listener("alice")));
    let missing = cluster([
        requested_by("ml", "alice"),
        requested_by("alice-toolings", "alice"),
    ]);
    let r = validate_in(&missing, &req, &by_annotation());
    assert_rejected(&r, "the tenant's EventListener Service alice-toolings/el-ct-listener (listenerService) cannot be read: Host error: Callback evaluation failure: v1/Service alice-toolings/el-ct-listener not found; alerts sent to \"https://el-ct-listener-alice-toolings.apps.cluster-abc.example.com/\" would reach no pipeline");
    // Also before pointing a webhook there.
    let r = validate_in(
        &missing,
        &config_in("ml", json!(listener("bob"))),
        &by_annotation(),
    );
    assert_rejected(&r, "Service alice-toolings/el-ct-listener");

    // Read once however many webhooks go there; not at all for other destinations.
    let present = cluster([
        requested_by("ml", "alice"),
        requested_by("alice-toolings", "alice"),
        service("alice-toolings"),
    ]);
    let mut two = req.clone();
    two["object"]["spec"]["receivers"] = json!([
        {"name": "default", "webhookConfigs": [{"url": listener("alice")}]},
        {"name": "spare", "webhookConfigs": [{"url": listener("alice"), "sendResolved": false}]},
    ]);
    let r = validate_in(&present, &two, &by_annotation());
    assert!(r.allowed, "{:?}", r.status);
    let mut allowed = by_annotation();
    allowed["allowedWebhookUrls"] = json!(["https://hooks.example.com/"]);
    let r = validate_in(
        &present,
        &config_in("ml", json!("https://hooks.example.com/drift")),
        &allowed,
    );
    assert!(r.allowed && r.patch.is_none(), "{:?}", r.status);
    let services = present
        .calls()
        .iter()
        .filter(|k| k.kind == "Service")
        .count();
    assert_eq!(services, 1, "{:?}", present.calls());

    // With name tenancy too: the template takes {namespace} as well as {user}.
    let mut by_name = workshop_settings();
    by_name["listenerService"] = json!({"namespace": "{user}-toolings", "name": "el-{namespace}"});
    let c = cluster([]);
    let r = validate_in(&c, &request("alertmanagerconfig-v1beta1-correct"), &by_name);
    assert_rejected(&r, "Service user1-toolings/el-user1-test (listenerService)");
    assert_eq!(
        c.calls(),
        [key("Service", "el-user1-test", Some("user1-toolings"))]
    );
}

/// The attempt: the tenant's own listener, with a token request to another
/// tenant's in-cluster listener, through a proxy.
fn with_http_config(http: Value) -> Value {
    let mut r = request("alertmanagerconfig-v1beta1-correct");
    r["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["httpConfig"] = http;
    r
}

const AT: &str = "receiver \"default\" (spec.receivers[0].webhookConfigs[0].httpConfig";

#[test]
fn every_address_alertmanager_contacts_is_a_destination() {
    let r = validate(
        &with_http_config(json!({"oauth2": {
            "clientId": {"secret": {"name": "oauth", "key": "id"}},
            "clientSecret": {"name": "oauth", "key": "secret"},
            "tokenUrl": "http://el-ct-listener.user2-toolings.svc.cluster.local:8080/",
            "proxyUrl": "http://evil.example.net:3128",
        }})),
        &workshop_settings(),
    );
    assert_rejected(&r, &format!("{AT}.oauth2.tokenUrl): \"http://el-ct-listener.user2-toolings.svc.cluster.local:8080/\" is not this tenant's EventListener"));
    assert_rejected(
        &r,
        &format!("{AT}.oauth2.proxyUrl): a proxy would carry alerts or token requests"),
    );

    // Proxy keys at any depth, in any spelling the CRDs have had.
    for http in [
        json!({"proxyURL": "http://p:3128"}),
        json!({"proxyUrl": "http://p:3128"}),
        json!({"noProxy": "example.com"}),
        json!({"proxyFromEnvironment": true}),
        json!({"proxyConnectHeader": {"X": [{"name": "s", "key": "k"}]}}),
        json!({"oauth2": {"proxyURL": "http://p:3128", "tokenUrl": listener("user1")}}),
        json!({"oauth2": {"tlsConfig": {"proxyUrl": "http://p:3128"}, "tokenUrl": listener("user1")}}),
    ] {
        let r = validate(&with_http_config(http.clone()), &workshop_settings());
        assert_rejected(&r, "a proxy would carry alerts or token requests");
    }

    // A token URL under an allowed prefix passes.
    let mut allowed = workshop_settings();
    allowed["allowedWebhookUrls"] = json!(["https://sso.example.com/token"]);
    let r = validate(
        &with_http_config(json!({"oauth2": {"tokenUrl": "https://sso.example.com/token"}})),
        &allowed,
    );
    assert!(r.allowed, "{:?}", r.status);
    // The tenant's own listener is no token endpoint, and the token client follows its
    // redirects whatever followRedirects says (issue 16, row 2).
    let r = validate(
        &with_http_config(json!({"oauth2": {"tokenUrl": listener("user1")}})),
        &allowed,
    );
    assert_rejected(&r, "is this tenant's own EventListener, which is no token endpoint; Alertmanager's token client follows redirects even with followRedirects: false");
    // ... and one that would be rewritten as a url is refused: a token URL is not ours to move.
    for token_url in [
        listener("user2"),
        "https://sso.example.com/{{ .x }}/token".to_owned(),
    ] {
        let r = validate(
            &with_http_config(json!({"oauth2": {"tokenUrl": token_url}})),
            &allowed,
        );
        assert_rejected(&r, "Alertmanager sends the token request there");
    }
}

#[test]
fn tls_overrides_are_refused_unless_the_admin_allows_them() {
    for (http, field) in [
        (
            json!({"tlsConfig": {"insecureSkipVerify": true}}),
            "tlsConfig.insecureSkipVerify",
        ),
        (
            json!({"tlsConfig": {"serverName": "el-ct-listener-user2-toolings.apps.x"}}),
            "tlsConfig.serverName",
        ),
        (
            json!({"oauth2": {"tokenUrl": "https://sso.example.com/token", "tlsConfig": {"insecureSkipVerify": true}}}),
            "oauth2.tlsConfig.insecureSkipVerify",
        ),
    ] {
        let mut settings = workshop_settings();
        settings["allowedWebhookUrls"] = json!(["https://sso.example.com/token"]);
        let req = with_http_config(http);
        let r = validate(&req, &settings);
        assert_rejected(&r, &format!("{AT}.{field}): "));
        assert_rejected(&r, "allowWebhookTlsOverrides");
        let mut allow = settings.clone();
        allow["allowWebhookTlsOverrides"] = json!(true);
        let r = validate(&req, &allow);
        assert!(r.allowed, "{field}: {:?}", r.status);
    }
    // Saying the default out loud is fine.
    let r = validate(
        &with_http_config(json!({"tlsConfig": {"insecureSkipVerify": false, "serverName": ""}})),
        &workshop_settings(),
    );
    assert!(r.allowed, "{:?}", r.status);
}

#[test]
fn a_template_anywhere_in_the_url_is_a_placeholder() {
    let hidden = format!("{}{{{{ .CommonLabels.x }}}}/..", listener("user1"));
    let mut req = request("alertmanagerconfig-v1beta1-correct");
    req["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["url"] = json!(hidden);
    let r = validate(&req, &workshop_settings());
    assert!(r.allowed, "{:?}", r.status);
    assert_eq!(webhook_url(&r), json!(listener("user1")));
    assert!(
        r.warnings[0].contains("still holds placeholders"),
        "{:?}",
        r.warnings
    );
    let mut reject = workshop_settings();
    reject["onForeignListener"] = json!("reject");
    assert_rejected(&validate(&req, &reject), "still holds placeholders");

    // Dot segments are judged as written, not as a parser would resolve them.
    let mut allowed = workshop_settings();
    allowed["allowedWebhookUrls"] = json!(["https://hooks.example.com/alerts/"]);
    for url in [
        "https://hooks.example.com/alerts/../admin",
        "https://hooks.example.com/other/../alerts/x",
    ] {
        req["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["url"] = json!(url);
        assert_rejected(
            &validate(&req, &allowed),
            "which URL parsers rewrite; write the destination plainly",
        );
    }
}

/// Each `tests/fixtures/context-aware/<case>/` holds a request, settings and the kwctl
/// session that answers the policy's host calls; the runner answers from the same file.
#[test]
fn context_aware_fixtures_get_their_expected_answers() {
    let expected = [
        (
            "listener-externalname",
            false,
            "the tenant's EventListener Service user1-toolings/el-ct-listener (listenerService) is not a listener: it is an ExternalName Service, a DNS alias for \"el-ct-listener.user2-toolings.svc.cluster.local\"",
        ),
        (
            "listener-namespace-of-another-tenant",
            false,
            "the EventListener's namespace \"user2-toolings\" belongs to tenant \"user1\" (the annotation \"openshift.io/requester\"), not to \"user2\"",
        ),
        (
            "namespace-not-readable",
            false,
            "cannot read Namespace \"ml-jukebox\" to find its tenant",
        ),
        (
            "requester-listener-missing",
            false,
            "Service alice-toolings/el-ct-listener (listenerService) cannot be read",
        ),
        (
            "requester-not-a-dns-label",
            false,
            "the tenant \"kube:admin\"",
        ),
        (
            "requester-owns-user2-prod",
            true,
            "is another tenant's EventListener; set to \"https://el-ct-listener-user1-toolings",
        ),
        ("tenant-label", true, ""),
    ];
    let cases = context_aware_cases();
    assert_eq!(cases.len(), expected.len(), "a case without an expectation");
    for ((name, allowed, text), case) in expected.iter().zip(&cases) {
        assert_eq!(case.name, *name);
        let r = validate_in(&case.cluster(), &case.request, &case.settings);
        assert_eq!(r.allowed, *allowed, "{name}: {:?}", r.status);
        let said = format!("{} {}", message(&r), r.warnings.join(" "));
        assert!(said.contains(text), "{name}: {said}");
    }
}

#[test]
fn http_config_is_walked_to_a_bound() {
    let mut deep = json!({"proxyUrl": "http://p:3128"});
    for _ in 0..100 {
        deep = json!({"x": deep});
    }
    let r = validate(&with_http_config(deep), &workshop_settings());
    assert_rejected(&r, "nests deeper than 8 levels");
    // A proxy hidden inside a list is still a proxy.
    let r = validate(
        &with_http_config(json!({"authorization": {"extra": [{"noProxy": "*"}]}})),
        &workshop_settings(),
    );
    assert_rejected(&r, "httpConfig.authorization.extra[0].noProxy): a proxy");
}

#[test]
fn tenancy_settings_are_validated_by_the_wasm_with_messages() {
    for (settings, expected) in [
        (
            json!({"tenantFrom": "namespaceAnnotation"}),
            "tenantKey is required with tenantFrom \"namespaceAnnotation\"",
        ),
        (
            json!({"tenantFrom": "namespaceLabel", "tenantKey": "not a key"}),
            "tenantKey: \"not a key\" is not a Kubernetes annotation or label key",
        ),
        (
            json!({"tenantKey": "tenant"}),
            "tenantKey \"tenant\" is only read with tenantFrom namespaceAnnotation or namespaceLabel",
        ),
        (
            json!({"listenerService": {"namespace": "{user}-toolings", "name": "{tenant}"}}),
            "listenerService.name: \"{tenant}\" uses {tenant}",
        ),
        (json!({"tenantFrom": "owner"}), "unknown variant `owner`"),
        (
            json!({"listenerService": {"name": "el-ct-listener"}}),
            "missing field `namespace`",
        ),
    ] {
        let mut s = settings.clone();
        s["clusterDomain"] = json!(DOMAIN);
        let verdict = instance().validate_settings(&s).unwrap();
        assert!(!verdict.valid, "{settings}");
        let message = verdict.message.unwrap_or_default();
        assert!(message.contains(expected), "{settings}: {message}");
    }
    for ok in [by_annotation(), by_label()] {
        assert!(instance().validate_settings(&ok).unwrap().valid, "{ok}");
    }
}

#[test]
fn a_name_pattern_cannot_capture_a_user_that_names_no_host() {
    let mut settings = workshop_settings();
    settings["tenantPattern"] = json!("(?P<user>.*)test");
    let r = validate(&config_in("team-test", json!(listener("team"))), &settings);
    assert_rejected(
        &r,
        "the tenant \"team-\" (taken from namespace \"team-test\" by tenantPattern) cannot name an EventListener",
    );
}

#[test]
fn a_token_url_that_is_not_a_string_is_refused() {
    let r = validate(
        &with_http_config(json!({"oauth2": {"tokenUrl": 42}})),
        &workshop_settings(),
    );
    assert_rejected(
        &r,
        &format!("{AT}.oauth2.tokenUrl): must be a string, found"),
    );
}
