//! Limits on what one request may carry.
//!
//! Two kinds of attribute limit, with different treatment:
//! - An attribute value longer than `max_attribute_value_bytes` is
//!   truncated (at a UTF-8 boundary) and the item kept, as the
//!   OpenTelemetry SDKs' attribute value length limit does; the number of
//!   truncated values is counted in `/metrics`.
//! - An item with more than `max_attributes` attributes is rejected through
//!   OTLP partial success: dropping arbitrary attributes would silently
//!   change what it says.

/// Bounds applied to every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body after decompression. Enforced while
    /// decompressing, so a compression bomb is cut off early.
    pub max_request_bytes: usize,
    /// Most attributes on one log record, data point or span (the SDKs'
    /// default attribute count limit is 128).
    pub max_attributes: usize,
    /// Longest attribute string or bytes value kept whole.
    pub max_attribute_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_bytes: 64 << 20,
            max_attributes: 128,
            max_attribute_value_bytes: 32 << 10,
        }
    }
}
