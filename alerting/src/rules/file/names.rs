//! Names a rule file may use: metric names for recording rules, label
//! and annotation names, tenant ids.

/// Longest tenant id, as Mimir and Loki allow.
const MAX_TENANT_LEN: usize = 150;

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub fn check_label_name(name: &str) -> Result<(), String> {
    if is_label_name(name) {
        Ok(())
    } else {
        Err(format!("invalid label name {name:?}"))
    }
}

/// 1 to 150 of letters, digits and `!-_.*'()`, not `.` or `..`, as Mimir
/// and Loki accept tenant ids.
pub fn check_tenant(tenant: &str) -> Result<(), String> {
    let valid = !tenant.is_empty()
        && tenant.len() <= MAX_TENANT_LEN
        && tenant != "."
        && tenant != ".."
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!-_.*'()".contains(c));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid tenant {tenant:?}: 1 to {MAX_TENANT_LEN} letters, digits or !-_.*'()"
        ))
    }
}
