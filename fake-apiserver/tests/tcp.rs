//! The TCP path: a kube client built from the generated kubeconfig, the control API, the
//! binary. Real sockets, so real time; nothing here waits on a clock.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use fake_apiserver::FakeApi;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

async fn client_for(fake: &FakeApi, url: &str) -> kube::Client {
    let kc = Kubeconfig::from_yaml(&fake.kubeconfig_yaml(url)).expect("test input");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("test input");
    kube::Client::try_from(config).expect("test input")
}

fn svc(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": "default"}, "spec": {"type": "LoadBalancer"}})
}

async fn control(client: &kube::Client, method: &str, path: &str) -> Value {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .body(Vec::new())
        .expect("test input");
    serde_json::from_str(&client.request_text(req).await.expect("test input")).expect("test input")
}

#[tokio::test]
async fn lists_and_watches_over_tcp_and_obeys_the_control_api() {
    let fake = FakeApi::new();
    fake.upsert(svc("a"));
    let addr = fake
        .serve("127.0.0.1:0".parse().expect("test input"))
        .await
        .expect("test input");
    let client = client_for(&fake, &format!("http://{addr}")).await;
    let api: Api<Service> = Api::all(client.clone());

    let list = api.list(&ListParams::default()).await.expect("test input");
    assert_eq!(list.items.len(), 1);
    let rv = list.metadata.resource_version.expect("test input");
    let mut w = api
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("test input")
        .boxed();
    fake.upsert(svc("b"));
    let ev = tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .expect("test input");
    assert!(
        matches!(ev, Some(Ok(WatchEvent::Added(s))) if s.metadata.name.as_deref() == Some("b"))
    );

    // Down: API requests fail at the transport and the open watch is cut; /_fake/ still works.
    assert_eq!(control(&client, "POST", "/_fake/down").await["ok"], true);
    let err = api
        .list(&ListParams::default())
        .await
        .expect_err("test input");
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "no HTTP answer while down: {err:?}"
    );
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(item) = w.next().await {
            if item.is_err() {
                return true;
            }
        }
        true
    });
    assert!(end.await.expect("test input"));
    assert_eq!(control(&client, "GET", "/_fake/stats").await["down"], true);
    control(&client, "POST", "/_fake/up").await;
    assert_eq!(
        api.list(&ListParams::default())
            .await
            .expect("test input")
            .items
            .len(),
        2
    );

    let stats = control(&client, "GET", "/_fake/stats").await;
    assert_eq!(
        stats["requests"]["list services"], 2,
        "the one sent while down never arrived"
    );
    assert_eq!(stats["requests"]["watch services"], 1);
    assert_eq!(stats["objects"]["services"], 2);
    assert_eq!(stats["resourceVersion"], fake.resource_version());
}

#[test]
fn binary_preloads_objects_writes_a_kubeconfig_and_serves() {
    let dir = std::env::temp_dir().join(format!("fake-apiserver-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("test input");
    let objects = dir.join("objects.ndjson");
    let mut f = std::fs::File::create(&objects).expect("test input");
    for i in 0..500 {
        writeln!(f, "{}", svc(&format!("s{i}"))).expect("test input");
    }
    drop(f);
    let kubeconfig = dir.join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-apiserver"))
        .args(["--addr", "127.0.0.1:0", "--objects"])
        .arg(&objects)
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .spawn()
        .expect("test input");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("test input"))
        .read_line(&mut line)
        .expect("test input");
    assert!(
        line.trim().parse::<std::net::SocketAddr>().is_ok(),
        "{line:?}"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test input");
    let result = rt.block_on(async {
        let kc = Kubeconfig::read_from(&kubeconfig).expect("test input");
        let config =
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
        let client = kube::Client::try_from(config)?;
        let api: Api<Service> = Api::namespaced(client.clone(), "default");
        let page = api.list(&ListParams::default().limit(200)).await?;
        let req = http::Request::post("/_fake/objects")
            .body(svc("extra").to_string().into_bytes())
            .expect("test input");
        client.request_text(req).await?;
        let req = http::Request::delete("/_fake/objects/services/default/s0")
            .body(Vec::new())
            .expect("test input");
        client.request_text(req).await?;
        let all = api.list(&ListParams::default()).await?;
        Ok::<_, kube::Error>((
            page.items.len(),
            page.metadata.remaining_item_count,
            all.items.len(),
        ))
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(result.expect("test input"), (200, Some(300), 500));
}
