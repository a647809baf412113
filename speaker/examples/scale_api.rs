//! Bench fixture: the Kubernetes API as a quiet cluster with N LoadBalancer services presents
//! it to a speaker, over plain HTTP, for `scripts/bench/speaker.sh` to run the release
//! `speaker` binary against (its `--kubeconfig` names `http://ADDR`). Lists are real list JSON
//! paged by `limit`/`continue` and generated per request, so this process holds no copy of the
//! cluster; watches stay open and quiet; Event POSTs are accepted (201); anything else is a
//! 403, as the speaker's RBAC would answer it. Not part of the speaker's interface.
//!
//! `scale_api [--services N] [--addr ADDR]`
//!
//! The services get 10.99.0.0 + i, in a Layer 2 pool; each has one ready endpoint on node1,
//! which runs the only Ready speaker pod (memberlist off), so node1 owns every IP.

use std::net::{Ipv4Addr, SocketAddr};

use axum::body::Body;
use clap::Parser;
use http::{Method, Request, Response, StatusCode};

const NODE: &str = "node1";
const NAMESPACE: &str = "metallb-system";

#[derive(Parser)]
struct Args {
    /// How many LoadBalancer services (one IP each).
    #[arg(long, default_value_t = 1000)]
    services: u32,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:6080")]
    addr: SocketAddr,
}

fn ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 99, 0, 0)) + i)
}

/// One object of `resource` as the API server's JSON (`None` past the end of the list).
fn item(resource: &str, i: u32, services: u32) -> Option<String> {
    let (ns, ip) = (i % 20, ip(i));
    let (hi, lo) = (i / 256, i % 256);
    Some(match resource {
        "services" if i < services => format!(
            r#"{{"apiVersion":"v1","kind":"Service","metadata":{{"name":"svc-{i}","namespace":"ns-{ns}","uid":"uid-{i}","resourceVersion":"7"}},"spec":{{"type":"LoadBalancer","clusterIP":"10.96.{hi}.{lo}","ports":[{{"name":"http","port":80,"protocol":"TCP","targetPort":8080}}],"selector":{{"app":"app-{i}"}},"externalTrafficPolicy":"Cluster"}},"status":{{"loadBalancer":{{"ingress":[{{"ip":"{ip}"}}]}}}}}}"#
        ),
        "endpointslices" if i < services => format!(
            r#"{{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{{"name":"svc-{i}-abcde","namespace":"ns-{ns}","labels":{{"kubernetes.io/service-name":"svc-{i}"}}}},"addressType":"IPv4","endpoints":[{{"addresses":["10.244.{hi}.{lo}"],"conditions":{{"ready":true,"serving":true,"terminating":false}},"nodeName":"{NODE}"}}],"ports":[{{"name":"http","port":8080,"protocol":"TCP"}}]}}"#
        ),
        "configmaps" if i == 0 => format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"config","namespace":"{NAMESPACE}","resourceVersion":"5"}},"data":{{"config":"address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - 10.99.0.0/16\n"}}}}"#
        ),
        "nodes" if i == 0 => format!(
            r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{NODE}","labels":{{"kubernetes.io/hostname":"{NODE}"}}}}}}"#
        ),
        "pods" if i == 0 => format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"speaker-abcde","namespace":"{NAMESPACE}","labels":{{"app":"metallb","component":"speaker"}}}},"spec":{{"nodeName":"{NODE}","containers":[{{"name":"speaker","image":"speaker"}}]}},"status":{{"phase":"Running","podIP":"192.168.78.11","conditions":[{{"type":"Ready","status":"True"}}]}}}}"#
        ),
        _ => return None,
    })
}

/// The value of `name` in a query string (no percent-decoding: the values used are plain).
fn param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// One page of a list, as a real API server pages it: `limit` items from the `continue`
/// token on, with a `continue` token while more remain. Generated per request, so the mock
/// holds no copy of the cluster and the RSS is the speaker's own.
fn page(resource: &str, query: &str, services: u32) -> Option<Vec<u8>> {
    let kind = match resource {
        "services" => "ServiceList",
        "endpointslices" => "EndpointSliceList",
        "configmaps" => "ConfigMapList",
        "nodes" => "NodeList",
        "pods" => "PodList",
        _ => return None,
    };
    let start: u32 = param(query, "continue")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let limit: u32 = param(query, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(u32::MAX);
    let items: Vec<String> = (start..start.saturating_add(limit))
        .map_while(|i| item(resource, i, services))
        .collect();
    let next = start.saturating_add(limit);
    let more = item(resource, next, services).is_some();
    let cont = if more {
        format!(r#","continue":"{next}""#)
    } else {
        String::new()
    };
    Some(
        format!(
            r#"{{"apiVersion":"v1","kind":"{kind}","metadata":{{"resourceVersion":"100"{cont}}},"items":[{}]}}"#,
            items.join(",")
        )
        .into_bytes(),
    )
}

fn answer(req: Request<Body>, services: u32) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let resource = path.rsplit('/').next().unwrap_or_default().to_owned();
    let reply = |status: StatusCode, body: Body| {
        let mut response = Response::new(body);
        *response.status_mut() = status;
        response
    };
    match *req.method() {
        // A watch that stays open and quiet, as on a cluster where nothing changes.
        Method::GET if query.contains("watch=true") => reply(
            StatusCode::OK,
            Body::from_stream(futures::stream::pending::<Result<Vec<u8>, std::io::Error>>()),
        ),
        Method::GET => match page(&resource, &query, services) {
            Some(body) => reply(StatusCode::OK, Body::from(body)),
            None => reply(StatusCode::FORBIDDEN, Body::from("{}")),
        },
        Method::POST if resource == "events" => reply(StatusCode::CREATED, req.into_body()),
        _ => reply(StatusCode::FORBIDDEN, Body::from("{}")),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let Args { services, addr } = Args::parse();
    let app = axum::Router::new()
        .fallback(move |req: Request<Body>| async move { answer(req, services) });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("serving api on {addr}");
    axum::serve(listener, app).await?;
    Ok(())
}
