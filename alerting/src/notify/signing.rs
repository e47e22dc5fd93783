//! Standard Webhooks signing (<https://www.standardwebhooks.com>).
//!
//! Every webhook attempt carries `webhook-id` (the notification's id, the
//! same on every attempt, so receivers can drop duplicates) and
//! `webhook-timestamp` (the attempt's time in integer unix seconds). With
//! a secret it also carries `webhook-signature: v1,<base64 signature>`,
//! the HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the secret's
//! decoded bytes. Secrets are written `whsec_<base64>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use sha2::Sha256;

use crate::error::{AlertingError, Result};

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// The specification's recommended key sizes: shorter keys are weak,
/// longer ones add nothing to HMAC-SHA256.
pub const MIN_KEY: usize = 24;
pub const MAX_KEY: usize = 64;

/// The key bytes of a `whsec_<base64>` secret.
pub fn decode_secret(secret: &str) -> std::result::Result<Vec<u8>, String> {
    let encoded = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| format!("must start with {SECRET_PREFIX:?}"))?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|e| format!("the part after {SECRET_PREFIX:?} is not base64: {e}"))?;
    if !(MIN_KEY..=MAX_KEY).contains(&key.len()) {
        return Err(format!(
            "key is {} bytes, it must be {MIN_KEY} to {MAX_KEY}",
            key.len()
        ));
    }
    Ok(key)
}

/// Checks a configured secret; errors name `path`.
pub fn validate_secret(secret: &str, path: &str) -> Result<()> {
    decode_secret(secret)
        .map(drop)
        .map_err(|message| AlertingError::invalid(path, message))
}

/// The base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under `key`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(format!(".{timestamp}.").as_bytes());
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Adds the Standard Webhooks headers for one attempt at `now_ms`.
pub fn add_headers(
    headers: &mut HeaderMap,
    secret: Option<&str>,
    id: &str,
    now_ms: i64,
    body: &[u8],
) -> std::result::Result<(), String> {
    let timestamp = now_ms.div_euclid(1000);
    let id_value = HeaderValue::from_str(id)
        .map_err(|_| format!("notification id {id:?} is not a valid header value"))?;
    headers.insert("webhook-id", id_value);
    headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
    if let Some(secret) = secret {
        let key = decode_secret(secret).map_err(|e| format!("signing_secret: {e}"))?;
        let signature = format!("v1,{}", sign(&key, id, timestamp, body));
        // base64 and "v1," are visible ASCII, always a valid value.
        let value = HeaderValue::from_str(&signature)
            .map_err(|_| "signature is not a valid header value".to_owned())?;
        headers.insert("webhook-signature", value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_must_be_whsec_base64_of_a_sensible_size() {
        let key = STANDARD.encode([7u8; 32]);
        assert_eq!(
            decode_secret(&format!("whsec_{key}")).unwrap(),
            vec![7u8; 32]
        );
        assert!(decode_secret(&key).unwrap_err().contains("whsec_"));
        assert!(decode_secret("whsec_!!!").unwrap_err().contains("base64"));
        let short = STANDARD.encode([1u8; 8]);
        assert!(
            decode_secret(&format!("whsec_{short}"))
                .unwrap_err()
                .contains("8 bytes")
        );
    }

    #[test]
    fn signature_matches_the_specification_example() {
        // The example of the Standard Webhooks specification.
        let key = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
