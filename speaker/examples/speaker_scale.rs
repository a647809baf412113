//! Bench entry point: the speaker's real loop (`speaker::run::Speaker::run`, its kube-rs
//! watchers, the decision pass, the Layer 2 announcer on this host's interfaces, `/status`
//! and `/metrics`) with N LoadBalancer services, fed by an in-process API server mock
//! (tower-test) that serves real list JSON and parks every watch. Used by
//! `scripts/bench/speaker.sh` to measure the speaker's RSS and CPU at scale; not part of the
//! speaker's interface.
//!
//! `speaker_scale [--services N] [--metrics-addr ADDR]`
//!
//! The services get 10.99.0.0 + i, in a Layer 2 pool; each has one ready endpoint on this
//! node, which is the only ready speaker (memberlist off), so it owns every IP. Prints
//! `ready announced=N` once `/status` shows all N announcing, and the Layer 2 counters on
//! exit (SIGTERM, through the speaker's own stop path).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use speaker::l2::{Layer2, Layer2Config};
use speaker::run::{Metrics, Settings, Speaker, layer2_stats};
use speaker::status::Board;
use tower_test::mock::{self, Handle, SendResponse};

const NODE: &str = "node1";
const NAMESPACE: &str = "metallb-system";
const LABELS: &str = "app=metallb,component=speaker";

#[derive(Parser)]
struct Args {
    /// How many LoadBalancer services (one IP each).
    #[arg(long, default_value_t = 1000)]
    services: u32,
    /// Where `/metrics` and `/status` listen.
    #[arg(long, default_value = "127.0.0.1:7472")]
    metrics_addr: SocketAddr,
    /// Serve the same API mock over plain HTTP on ADDR instead of running the speaker, so the
    /// release `speaker` binary itself can be measured against it (`--kubeconfig` naming
    /// `http://ADDR`).
    #[arg(long)]
    serve_api: Option<SocketAddr>,
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

/// The API server's side: lists paged from [`item`], watches parked (never answered, as a
/// quiet cluster), Event POSTs echoed with 201. Anything else is a 403, as RBAC would.
async fn serve(mut handle: Handle<Request<Body>, Response<Body>>, services: u32) {
    let mut parked: Vec<SendResponse<Response<Body>>> = Vec::new();
    while let Some((req, send)) = handle.next_request().await {
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or_default().to_owned();
        let resource = path.rsplit('/').next().unwrap_or_default().to_owned();
        let reply = |status: StatusCode, body: Vec<u8>| {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            response
        };
        match *req.method() {
            Method::GET if query.contains("watch=true") => parked.push(send),
            Method::GET => match page(&resource, &query, services) {
                Some(body) => send.send_response(reply(StatusCode::OK, body)),
                None => send.send_response(reply(StatusCode::FORBIDDEN, b"{}".to_vec())),
            },
            Method::POST if resource == "events" => {
                let body = req.into_body().collect_bytes().await.unwrap_or_default();
                send.send_response(reply(StatusCode::CREATED, body.to_vec()));
            }
            _ => send.send_response(reply(StatusCode::FORBIDDEN, b"{}".to_vec())),
        }
    }
}

/// [`serve`]'s answers over HTTP, for a speaker in another process.
async fn serve_http(addr: SocketAddr, services: u32) -> anyhow::Result<()> {
    use axum::body::Body as AxumBody;
    let app =
        axum::Router::new().fallback(move |req: Request<AxumBody>| async move {
            let path = req.uri().path().to_owned();
            let query = req.uri().query().unwrap_or_default().to_owned();
            let resource = path.rsplit('/').next().unwrap_or_default().to_owned();
            let reply = |status: StatusCode, body: AxumBody| {
                let mut response = Response::new(body);
                *response.status_mut() = status;
                response
            };
            match *req.method() {
                // A watch that stays open and quiet, as on a cluster where nothing changes.
                Method::GET if query.contains("watch=true") => reply(
                    StatusCode::OK,
                    AxumBody::from_stream(futures::stream::pending::<
                        Result<Vec<u8>, std::io::Error>,
                    >()),
                ),
                Method::GET => match page(&resource, &query, services) {
                    Some(body) => reply(StatusCode::OK, AxumBody::from(body)),
                    None => reply(StatusCode::FORBIDDEN, AxumBody::from("{}")),
                },
                Method::POST if resource == "events" => reply(StatusCode::CREATED, req.into_body()),
                _ => reply(StatusCode::FORBIDDEN, AxumBody::from("{}")),
            }
        });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("serving api on {addr}");
    axum::serve(listener, app).await?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    speaker::tune_allocator();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(Args::parse()))
}

async fn run(args: Args) -> anyhow::Result<()> {
    if let Some(addr) = args.serve_api {
        return serve_http(addr, args.services).await;
    }
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    tokio::spawn(serve(handle, args.services));
    let client = kube::Client::new(service, "default");

    let exposition = common::metrics::Exposition::default();
    let registry = &exposition.registry;
    let metrics = Metrics {
        k8s: common::metrics::K8sClient::new(registry)?,
        announced: common::metrics::Announced::new(&exposition, NODE),
    };
    let layer2_metrics = common::metrics::Layer2::new(&exposition);
    let bgp = speaker::bgp::BgpSpeaker::new(NODE, common::metrics::Bgp::new(registry)?);
    let board = Board::new(NODE);
    let http = (exposition.clone(), board.clone());
    let addr = args.metrics_addr;
    tokio::spawn(async move {
        if let Err(e) = speaker::http::serve(addr, http.0, http.1).await {
            eprintln!("metrics endpoint failed: {e}");
        }
    });
    let layer2 = Layer2::start(
        Layer2Config {
            garp_interval: None,
        },
        layer2_stats(layer2_metrics.clone()),
    )
    .await
    .context("starting the Layer 2 announcer")?;
    let settings = Settings {
        node: NODE.into(),
        namespace: NAMESPACE.into(),
        config_name: "config".into(),
        disable_epslices: false,
        speaker_labels: LABELS.into(),
        memberlist_port: 7946,
    };
    let want = args.services as usize;
    let watch = board.clone();
    tokio::spawn(async move {
        loop {
            let announced = watch
                .snapshot()
                .services
                .values()
                .filter(|r| r.decision == common::speaker::status::Decision::Announcing)
                .count();
            if announced >= want {
                println!("ready announced={announced}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    Speaker::new(settings, client, metrics, layer2, None, bgp)
        .with_status(board)
        .run()
        .await?;
    use common::metrics::Layer2Counter as C;
    println!(
        "requests_received={} responses_sent={} gratuitous_sent={}",
        layer2_metrics.total(C::RequestsReceived),
        layer2_metrics.total(C::ResponsesSent),
        layer2_metrics.total(C::GratuitousSent),
    );
    Ok(())
}
