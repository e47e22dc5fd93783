//! Bearer tokens and tenants.
//!
//! With no tokens configured every request is accepted as tenant
//! `default`. With tokens, a request must carry `Authorization: Bearer
//! <token>` for a configured token, and its records are stamped with that
//! token's tenant.

use std::collections::HashMap;

pub use log_core::DEFAULT_TENANT;

use crate::error::IngestError;

#[derive(Debug, Clone, Default)]
pub struct Auth {
    tokens: HashMap<String, String>,
}

impl Auth {
    /// `tokens` maps each accepted token to its tenant.
    pub fn new(tokens: HashMap<String, String>) -> Auth {
        Auth { tokens }
    }

    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The tenant of a request, from its `Authorization` header value.
    pub fn tenant(&self, authorization: Option<&str>) -> Result<&str, IngestError> {
        if self.tokens.is_empty() {
            return Ok(DEFAULT_TENANT);
        }
        let header = authorization.ok_or_else(|| {
            IngestError::Unauthenticated(
                "missing bearer token (Authorization: Bearer <token>)".into(),
            )
        })?;
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| {
                IngestError::Unauthenticated("authorization is not a bearer token".into())
            })?;
        self.tokens
            .get(token)
            .map(String::as_str)
            .ok_or_else(|| IngestError::Unauthenticated("unknown bearer token".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_map_to_tenants() {
        let auth = Auth::new(HashMap::from([("s3cret".to_owned(), "acme".to_owned())]));
        assert_eq!(auth.tenant(Some("Bearer s3cret")).unwrap(), "acme");
        assert_eq!(auth.tenant(Some("bearer s3cret")).unwrap(), "acme");
        assert!(matches!(
            auth.tenant(None),
            Err(IngestError::Unauthenticated(_))
        ));
        assert!(matches!(
            auth.tenant(Some("Bearer nope")),
            Err(IngestError::Unauthenticated(_))
        ));
        assert!(matches!(
            auth.tenant(Some("Basic s3cret")),
            Err(IngestError::Unauthenticated(_))
        ));
        assert_eq!(Auth::default().tenant(None).unwrap(), DEFAULT_TENANT);
    }
}
