//! Signed-in callers remembered for a moment, so a busy client does not cost
//! a token lookup per request. Signing out, revoking a key or changing a user
//! forgets them here at once; another process notices within [`REMEMBER_FOR`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::extract::Caller;

/// How stale a remembered caller may be; the bound on how long a token
/// revoked by another process keeps working here.
pub const REMEMBER_FOR: Duration = Duration::from_secs(2);

/// Remembered callers at most; beyond, the oldest half is dropped.
const CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct Sessions {
    callers: Mutex<HashMap<String, (Caller, Instant)>>,
}

impl Sessions {
    pub fn get(&self, token_hash: &str) -> Option<Caller> {
        let callers = self.callers.lock().ok()?;
        let (caller, at) = callers.get(token_hash)?;
        (at.elapsed() < REMEMBER_FOR).then(|| caller.clone())
    }

    pub fn remember(&self, caller: &Caller) {
        if let Ok(mut callers) = self.callers.lock() {
            if callers.len() >= CAPACITY {
                callers.retain(|_, (_, at)| at.elapsed() < REMEMBER_FOR);
            }
            if callers.len() < CAPACITY {
                callers.insert(caller.token_hash.clone(), (caller.clone(), Instant::now()));
            }
        }
    }

    pub fn forget_token(&self, token_hash: &str) {
        if let Ok(mut callers) = self.callers.lock() {
            callers.remove(token_hash);
        }
    }

    /// Forgets every token of a user or API key (whose id is `user_id`).
    pub fn forget_user(&self, user_id: Uuid) {
        if let Ok(mut callers) = self.callers.lock() {
            callers.retain(|_, (caller, _)| caller.user_id != user_id);
        }
    }
}
