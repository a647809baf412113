//! What the controller sends to the API server, checked at the HTTP layer with a mocked
//! server (tower-test) answering real JSON: only verbs upstream v0.12.1's RBAC grants.

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};
use tower_test::mock::{self, Handle};

use crate::k8s::secret;
use crate::k8s::service::SvcView;
use crate::run::{Written, put_status};

type Mock = Handle<Request<Body>, Response<Body>>;

fn client() -> (kube::Client, Mock) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(service, "default"), handle)
}

/// Takes the next request: (method, path with query, JSON body).
async fn next(
    handle: &mut Mock,
) -> (
    Method,
    String,
    Value,
    tower_test::mock::SendResponse<Response<Body>>,
) {
    let (req, send) = handle.next_request().await.expect("a request");
    let method = req.method().clone();
    let uri = req.uri().to_string();
    let bytes = req.into_body().collect_bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    (method, uri, body, send)
}

fn respond(send: tower_test::mock::SendResponse<Response<Body>>, status: StatusCode, body: Value) {
    let bytes = serde_json::to_vec(&body).expect("json");
    send.send_response(
        Response::builder()
            .status(status)
            .body(Body::from(bytes))
            .expect("response"),
    );
}

fn view() -> SvcView {
    SvcView::from_service(
        &serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop", "uid": "u1", "resourceVersion": "42",
                         "labels": {"app": "web"}, "finalizers": ["example.com/keep"]},
            "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.10"]},
            "status": {"conditions": [{"type": "Custom", "status": "True", "reason": "R", "message": "", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
        }))
        .expect("service"),
    )
}

#[tokio::test]
async fn status_is_a_put_of_the_stored_object_to_the_status_subresource() {
    let (client, mut handle) = client();
    let server = tokio::spawn(async move {
        let (method, uri, body, send) = next(&mut handle).await;
        assert_eq!(method, Method::PUT);
        assert_eq!(uri, "/api/v1/namespaces/shop/services/web/status?");
        assert_eq!(body["metadata"]["resourceVersion"], "42");
        assert_eq!(body["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(body["metadata"]["finalizers"], json!(["example.com/keep"]));
        assert_eq!(
            body["status"]["loadBalancer"]["ingress"],
            json!([{"ip": "192.0.2.10"}])
        );
        assert_eq!(
            body["status"]["conditions"][0]["type"], "Custom",
            "conditions must survive the PUT"
        );
        let mut echo = body.clone();
        echo["metadata"]["resourceVersion"] = json!("43");
        respond(send, StatusCode::OK, echo);
    });
    let written = put_status(&client, &view(), &["192.0.2.10".to_owned()]).await;
    server.await.expect("server");
    let Written::Stored(svc) = written else {
        panic!("not stored")
    };
    assert_eq!(svc.metadata.resource_version.as_deref(), Some("43"));
}

#[tokio::test]
async fn a_conflict_reads_the_service_again_for_a_new_decision() {
    let (client, mut handle) = client();
    let server = tokio::spawn(async move {
        let (_, _, _, send) = next(&mut handle).await;
        respond(
            send,
            StatusCode::CONFLICT,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409,
                   "message": "Operation cannot be fulfilled on services \"web\": the object has been modified"}),
        );
        let (method, uri, _, send) = next(&mut handle).await;
        assert_eq!(
            (method, uri.as_str()),
            (Method::GET, "/api/v1/namespaces/shop/services/web")
        );
        respond(
            send,
            StatusCode::OK,
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "web", "namespace": "shop", "uid": "u1", "resourceVersion": "50",
                                "labels": {"app": "web", "new": "label"}},
                   "spec": {"type": "LoadBalancer"}}),
        );
    });
    let written = put_status(&client, &view(), &[]).await;
    server.await.expect("server");
    let Written::Conflict(Some(fresh)) = written else {
        panic!("a conflict with the current object expected")
    };
    assert_eq!(fresh.metadata.resource_version.as_deref(), Some("50"));
}

#[tokio::test]
async fn events_are_core_v1() {
    let (client, mut handle) = client();
    let about = kube_shell::k8s_event::Regarding {
        kind: "Service",
        namespace: "shop".into(),
        name: "web".into(),
        uid: Some("u1".into()),
    };
    let sink = kube_shell::EventSink::spawn(client, "metallb-controller");
    sink.post(
        about,
        kube_shell::k8s_event::EventType::Normal,
        "IPAllocated",
        "Assigned IP [\"192.0.2.10\"]",
    );
    let (method, uri, body, send) = next(&mut handle).await;
    assert_eq!(method, Method::POST);
    assert_eq!(uri, "/api/v1/namespaces/shop/events?");
    assert_eq!(body["reason"], "IPAllocated");
    assert_eq!(body["involvedObject"]["uid"], "u1");
    assert_eq!(body["source"]["component"], "metallb-controller");
    respond(send, StatusCode::CREATED, body);
}

#[tokio::test]
async fn memberlist_secret_is_listed_by_name_then_created_owned_by_the_deployment() {
    let (client, mut handle) = client();
    let server = tokio::spawn(async move {
        let (method, uri, _, send) = next(&mut handle).await;
        assert_eq!(method, Method::GET);
        assert_eq!(
            uri,
            "/api/v1/namespaces/metallb-system/secrets?&fieldSelector=metadata.name%3Dmemberlist"
        );
        respond(
            send,
            StatusCode::OK,
            json!({"apiVersion": "v1", "kind": "SecretList", "metadata": {}, "items": []}),
        );

        let (method, uri, _, send) = next(&mut handle).await;
        assert_eq!(
            (method, uri.as_str()),
            (
                Method::GET,
                "/apis/apps/v1/namespaces/metallb-system/deployments/controller"
            )
        );
        respond(
            send,
            StatusCode::OK,
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "controller", "namespace": "metallb-system", "uid": "dep-uid"}}),
        );

        let (method, uri, body, send) = next(&mut handle).await;
        assert_eq!(
            (method, uri.as_str()),
            (Method::POST, "/api/v1/namespaces/metallb-system/secrets?")
        );
        assert_eq!(body["metadata"]["name"], "memberlist");
        assert_eq!(body["metadata"]["ownerReferences"][0]["uid"], "dep-uid");
        let key = body["data"]["secretkey"].as_str().expect("secretkey");
        // base64 of the 22-character key.
        assert_eq!(key.len(), 32);
        respond(send, StatusCode::CREATED, body);
    });
    assert!(
        secret::ensure(&client, "metallb-system", "memberlist", "controller")
            .await
            .expect("created")
    );
    server.await.expect("server");
}

#[tokio::test]
async fn an_existing_memberlist_secret_is_left_alone() {
    let (client, mut handle) = client();
    let server = tokio::spawn(async move {
        let (_, _, _, send) = next(&mut handle).await;
        respond(
            send,
            StatusCode::OK,
            json!({"apiVersion": "v1", "kind": "SecretList", "metadata": {}, "items": [{"metadata": {"name": "memberlist"}, "data": {"secretkey": "eA=="}}]}),
        );
        // No further request may arrive.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(200), handle.next_request())
                .await
                .is_err()
        );
    });
    assert!(
        !secret::ensure(&client, "metallb-system", "memberlist", "controller")
            .await
            .expect("ok")
    );
    server.await.expect("server");
}
