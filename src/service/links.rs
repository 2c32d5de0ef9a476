//! Loading the cases a definition links to, so rules can read them as `links`.
//!
//! The engine stays pure: it is handed the linked data, read here just before
//! the move is decided. Links are read-only; a move changes a linked case only
//! through a `fire_linked` effect, which the workers carry out as a move of its own.

use serde_json::Value;
use uuid::Uuid;

use super::{Service, ServiceResult};
use crate::engine::{Definition, data_path};
use crate::storage::StoreError;

impl Service {
    /// Link name → the linked case's data, or null when the case holds no id for it, or the
    /// id names no case of the linked workflow in `org`.
    pub async fn linked_data(
        &self,
        org: Uuid,
        definition: &Definition,
        data: &Value,
    ) -> ServiceResult<Value> {
        let mut links = serde_json::Map::new();
        for (name, link) in &definition.links {
            let id = data_path::get(data, &link.field)
                .and_then(Value::as_str)
                .and_then(|text| Uuid::parse_str(text.trim()).ok());
            let linked = match id {
                Some(id) => match self.store().case(org, id).await {
                    Ok(case) if case.workflow == link.workflow => case.data,
                    Ok(_) | Err(StoreError::NotFound) => Value::Null,
                    Err(error) => return Err(error.into()),
                },
                None => Value::Null,
            };
            links.insert(name.clone(), linked);
        }
        Ok(Value::Object(links))
    }
}
