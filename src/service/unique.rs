//! `unique:` in a definition: a value such as an invoice number that no two
//! cases of the workflow in an organisation share. Checked before the case is
//! written; two requests racing with the same new value can both pass, so a
//! definition needing a hard guarantee should also number cases by rule.

use serde_json::Value;
use uuid::Uuid;

use super::{Service, ServiceError, ServiceResult};
use crate::engine::{Definition, data_path};

impl Service {
    pub(super) async fn check_unique(
        &self,
        org: Uuid,
        definition: &Definition,
        case: Option<Uuid>,
        before: Option<&Value>,
        after: &Value,
    ) -> ServiceResult<()> {
        for path in &definition.unique {
            let Some(value) = data_path::get(after, path).filter(|v| !v.is_null()) else {
                continue;
            };
            if before.and_then(|data| data_path::get(data, path)) == Some(value) {
                continue;
            }
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            if self
                .store()
                .value_taken(org, &definition.id, path, &text, case)
                .await?
            {
                return Err(ServiceError::Conflict(format!(
                    "`{path}` {text} is already used by another {} case",
                    definition.id
                )));
            }
        }
        Ok(())
    }
}
