//! The memberlist Secret (docs/memberlist.md#the-secret): created at start-up when
//! `--ml-secret-name` is set and no Secret of that name exists, owned by the controller's
//! Deployment so it goes away with it. Uses only the verbs upstream's Role grants: `list` of
//! that name, `get` of the Deployment, `create` of Secrets.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Api;
use kube::api::{ListParams, PostParams};

/// The key speakers read through `METALLB_ML_SECRET_KEY`.
pub const SECRET_KEY: &str = "secretkey";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("listing secret {name}: {source}")]
    List { name: String, source: kube::Error },
    #[error("getting deployment {name}: {source}")]
    Deployment { name: String, source: kube::Error },
    #[error("creating secret {name}: {source}")]
    Create { name: String, source: kube::Error },
    #[error("no randomness for the memberlist key: {0}")]
    Random(String),
}

/// 16 random bytes as unpadded standard base64 (22 characters), as upstream generates.
pub fn new_secret_value() -> Result<String, SecretError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| SecretError::Random(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes))
}

/// The Secret object to create.
pub fn secret_object(name: &str, namespace: &str, owner: &Deployment, value: &str) -> Secret {
    let owner_ref = OwnerReference {
        api_version: "apps/v1".to_owned(),
        kind: "Deployment".to_owned(),
        name: owner.metadata.name.clone().unwrap_or_default(),
        uid: owner.metadata.uid.clone().unwrap_or_default(),
        ..Default::default()
    };
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            owner_references: Some(vec![owner_ref]),
            ..Default::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(
            SECRET_KEY.to_owned(),
            ByteString(value.as_bytes().to_vec()),
        )])),
        ..Default::default()
    }
}

/// Creates the Secret unless one of that name exists (whatever its content). Returns whether
/// it was created.
pub async fn ensure(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    deployment: &str,
) -> Result<bool, SecretError> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let existing = secrets
        .list(&ListParams::default().fields(&format!("metadata.name={name}")))
        .await
        .map_err(|source| SecretError::List {
            name: name.to_owned(),
            source,
        })?;
    if !existing.items.is_empty() {
        return Ok(false);
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let owner = deployments
        .get(deployment)
        .await
        .map_err(|source| SecretError::Deployment {
            name: deployment.to_owned(),
            source,
        })?;
    let secret = secret_object(name, namespace, &owner, &new_secret_value()?);
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .map_err(|source| SecretError::Create {
            name: name.to_owned(),
            source,
        })?;
    Ok(true)
}

/// [`ensure`] until it has an answer: created, already there, or forbidden. The controller
/// never exits over the Secret: v0.9's RBAC has no Secret rights (the operator creates it by
/// hand), and a transient API error at start-up only delays the creation.
pub async fn keep_ensuring(
    client: kube::Client,
    namespace: String,
    name: String,
    deployment: String,
    forbidden: kube_shell::Forbidden,
) {
    let mut delay = std::time::Duration::from_secs(1);
    let mut logged = false;
    loop {
        match ensure(&client, &namespace, &name, &deployment).await {
            Ok(true) => {
                tracing::info!(op = "createSecret", secret = %name, "created memberlist secret");
                return;
            }
            Ok(false) => return,
            Err(e) => {
                if let Some(denied) = e.denied() {
                    forbidden.report(
                        &denied,
                        "the memberlist Secret is not managed: speakers use the one the operator created",
                    );
                    return;
                }
                if !logged {
                    tracing::warn!(op = "createSecret", secret = %name, error = %e, "cannot ensure the memberlist secret yet, retrying with back-off");
                    logged = true;
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(std::time::Duration::from_secs(60));
    }
}

impl SecretError {
    /// The RBAC denial behind this error, if it is one.
    pub fn denied(&self) -> Option<kube_shell::Denied> {
        match self {
            SecretError::List { source, .. } => kube_shell::Denied::of(source, "list", "secrets"),
            SecretError::Deployment { source, .. } => {
                kube_shell::Denied::of(source, "get", "deployments.apps")
            }
            SecretError::Create { source, .. } => {
                kube_shell::Denied::of(source, "create", "secrets")
            }
            SecretError::Random(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_value_is_22_base64_characters_and_random() {
        let a = new_secret_value().expect("random");
        let b = new_secret_value().expect("random");
        assert_eq!(a.len(), 22);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn secret_is_owned_by_the_deployment() {
        let owner: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "controller", "namespace": "metallb-system", "uid": "d-uid"}
        }))
        .expect("deployment");
        let s = secret_object("memberlist", "metallb-system", &owner, "abc");
        let json = serde_json::to_value(&s).expect("json");
        assert_eq!(json["metadata"]["ownerReferences"][0]["kind"], "Deployment");
        assert_eq!(json["metadata"]["ownerReferences"][0]["uid"], "d-uid");
        assert_eq!(json["data"]["secretkey"], "YWJj");
        assert_eq!(json["type"], "Opaque");
    }
}
