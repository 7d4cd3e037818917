//! Typed configuration, read once at cold start: a function with bad configuration fails to start
//! instead of failing its first request.

use std::env;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        reason: &'static str,
    },
}

/// Settings every function shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The single DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
}

const TABLE_NAME_LEN_MAX: usize = 255;

impl StoreConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let valid = (3..=TABLE_NAME_LEN_MAX).contains(&table_name.len())
            && table_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid {
            return Err(ConfigError::Invalid {
                name: "TABLE_NAME",
                reason: "3-255 letters, digits, '_', '-' or '.'",
            });
        }
        Ok(Self { table_name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_name_is_required_and_checked() {
        assert!(matches!(
            StoreConfig::from_lookup(|_| None),
            Err(ConfigError::Missing("TABLE_NAME"))
        ));
        assert!(StoreConfig::from_lookup(|_| Some("a b".into())).is_err());
        let config = StoreConfig::from_lookup(|_| Some("imcredits-prod".into())).unwrap();
        assert_eq!(config.table_name, "imcredits-prod");
    }
}
