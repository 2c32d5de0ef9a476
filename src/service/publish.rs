//! Publishing definitions: validated, versioned per organisation, idempotent.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Service, ServiceError, ServiceResult};
use crate::engine::{Diagnostic, parse_workflow};
use crate::storage::{DefinitionRow, StoreError};

/// What publishing did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Published {
    pub workflow: String,
    pub version: i64,
    /// `false` when exactly this text was already the newest version.
    pub created: bool,
}

fn content_hash(text: &str) -> String {
    crate::storage::hex(&Sha256::digest(text.as_bytes()))
}

impl Service {
    /// Validates `yaml` and publishes it as a new version for `org`. Publishing
    /// the newest text again changes nothing; a changed text must bump `version`.
    pub async fn publish(
        &self,
        org: Uuid,
        file: &str,
        yaml: &str,
        actor: &str,
    ) -> ServiceResult<Published> {
        let (definition, diagnostics) = self.catalog.compile(file, yaml);
        let Some(definition) = definition else {
            return Err(ServiceError::Invalid(diagnostics));
        };
        let hash = content_hash(yaml);
        let version = i64::from(definition.version);
        match self.store.definition(org, &definition.id, None).await {
            Ok(latest) if latest.content_hash == hash => {
                return Ok(Published {
                    workflow: latest.workflow,
                    version: latest.version,
                    created: false,
                });
            }
            Ok(latest) if version <= latest.version => {
                let (parsed, _) = parse_workflow(file, yaml);
                let pos = parsed
                    .map(|p| p.map.value(&crate::yaml_path!("version")))
                    .unwrap_or_default();
                return Err(ServiceError::Invalid(vec![Diagnostic::error(
                    file,
                    crate::engine::Pos::new(pos.line, pos.column),
                    format!(
                        "version {version} of `{}` is already published with other content; bump `version` to {}",
                        definition.id,
                        latest.version + 1
                    ),
                )]));
            }
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(error) => return Err(error.into()),
        }
        let row = DefinitionRow {
            workflow: definition.id.clone(),
            version,
            title: definition.title.clone(),
            source: yaml.to_owned(),
            content_hash: hash,
            published_by: actor.to_owned(),
            published_at: self.now(),
        };
        self.store.insert_definition(org, &row).await?;
        if let Ok(mut latest) = self.latest.write() {
            latest.remove(&(org, definition.id.clone()));
        }
        let key = (org, definition.id.clone(), version);
        if let Ok(mut compiled) = self.compiled.write() {
            compiled.insert(key, Arc::new(definition));
        }
        Ok(Published {
            workflow: row.workflow,
            version,
            created: true,
        })
    }

    /// Publishes every workflow file of the catalog's home that changed, for every organisation.
    pub async fn sync_files(&self, sources: &crate::engine::Sources) -> Vec<String> {
        let mut report = Vec::new();
        let orgs = match self.store.orgs().await {
            Ok(orgs) => orgs,
            Err(error) => return vec![format!("cannot list organisations: {error}")],
        };
        for org in orgs {
            for file in &sources.workflows {
                match self
                    .publish(org.id, &file.path, &file.text, "system:files")
                    .await
                {
                    Ok(published) if published.created => report.push(format!(
                        "{}: published {} version {} for {}",
                        file.path, published.workflow, published.version, org.name
                    )),
                    Ok(_) => {}
                    Err(ServiceError::Invalid(problems)) => {
                        report.extend(
                            problems.iter().map(|problem| {
                                format!("{problem} (not published for {})", org.name)
                            }),
                        );
                    }
                    Err(error) => report.push(format!(
                        "{}: not published for {}: {error}",
                        file.path, org.name
                    )),
                }
            }
        }
        report
    }
}
