//! The API client both binaries start with, chosen as upstream chooses it.
//!
//! Upstream: `--kubeconfig` given → that file; empty → the pod's ServiceAccount (token, CA,
//! namespace under `/var/run/secrets/kubernetes.io/serviceaccount/`, server from
//! `KUBERNETES_SERVICE_HOST`/`_PORT`). Whatever `KUBECONFIG` or `~/.kube/config` say inside a
//! pod must not win over the pod's own identity: the RBAC our images run under is the
//! ServiceAccount's. Outside a pod (a developer's machine) an empty `--kubeconfig` falls back
//! to the usual search (`KUBECONFIG`, `~/.kube/config`).

use kube::config::{KubeConfigOptions, Kubeconfig};

/// Why no client could be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("reading kubeconfig {path}: {source}")]
    Kubeconfig {
        path: String,
        source: kube::config::KubeconfigError,
    },
    #[error("in-cluster configuration (the pod's ServiceAccount): {0}")]
    InCluster(#[from] kube::config::InClusterError),
    #[error("no kubeconfig given and not in a pod: {0}")]
    Infer(#[from] kube::config::InferConfigError),
    #[error("building the client: {0}")]
    Build(#[from] kube::Error),
}

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source<'a> {
    File(&'a str),
    InCluster,
    Search,
}

/// Which source applies: `kubeconfig` (the flag, maybe empty) and whether we run in a pod
/// (`KUBERNETES_SERVICE_HOST` set, as kubelet sets it in every container).
pub fn source(kubeconfig: Option<&str>, in_pod: bool) -> Source<'_> {
    match kubeconfig.filter(|s| !s.is_empty()) {
        Some(path) => Source::File(path),
        None if in_pod => Source::InCluster,
        None => Source::Search,
    }
}

/// The client for `--kubeconfig` (see the module doc for the rules).
pub async fn connect(kubeconfig: Option<&str>) -> Result<kube::Client, ClientError> {
    let in_pod = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some_and(|h| !h.is_empty());
    let config = match source(kubeconfig, in_pod) {
        Source::File(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|source| ClientError::Kubeconfig {
                path: path.to_owned(),
                source,
            })?;
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|source| ClientError::Kubeconfig {
                    path: path.to_owned(),
                    source,
                })?
        }
        Source::InCluster => kube::Config::incluster()?,
        Source::Search => kube::Config::infer().await?,
    };
    Ok(kube::Client::try_from(config)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_a_pod_an_empty_kubeconfig_means_the_service_account() {
        assert_eq!(source(None, true), Source::InCluster);
        assert_eq!(source(Some(""), true), Source::InCluster);
        assert_eq!(source(Some("/etc/kc"), true), Source::File("/etc/kc"));
        assert_eq!(source(None, false), Source::Search);
        assert_eq!(source(Some("/etc/kc"), false), Source::File("/etc/kc"));
    }
}
