//! Form fields naming staff (`"x-user"`): a key worker assigned must be an
//! active user of the organisation, with the role the field asks for. The
//! engine knows no users, so this is checked here, before the move is written.

use serde_json::Value;
use uuid::Uuid;

use super::{Service, ServiceError, ServiceResult};
use crate::engine::{Definition, Refusal};
use crate::forms::FieldError;

impl Service {
    pub(super) async fn check_user_fields(
        &self,
        org: Uuid,
        definition: &Definition,
        transition: &str,
        form: &Value,
    ) -> ServiceResult<()> {
        let Some(schema) = definition
            .transitions
            .get(transition)
            .and_then(|t| t.form.as_ref())
        else {
            return Ok(());
        };
        let fields = schema.user_fields();
        if fields.is_empty() {
            return Ok(());
        }
        let users = self.store().users(org).await?;
        let mut errors = Vec::new();
        for (pointer, roles) in fields {
            // Fields inside lists (`*`) are left to rules: one entry per item would be needed.
            let Some(Value::String(email)) = form.pointer(pointer) else {
                continue;
            };
            let known = users.iter().any(|user| {
                user.active
                    && user.email.eq_ignore_ascii_case(email.trim())
                    && (roles.is_empty() || user.roles.iter().any(|role| roles.contains(role)))
            });
            if !known {
                let message = if roles.is_empty() {
                    "is not an active user of this organisation".to_owned()
                } else {
                    format!(
                        "is not an active user of this organisation with the role {}",
                        roles.join(" or ")
                    )
                };
                errors.push(FieldError {
                    path: pointer.clone(),
                    message,
                });
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Refused(Refusal::InvalidForm(errors)))
        }
    }
}
