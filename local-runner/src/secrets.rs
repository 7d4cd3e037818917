//! Local secrets, made on first use and kept in the data dir, so that tokens and signed sample
//! webhooks keep working across restarts. They are for this laptop only: no deployed function
//! accepts them.

use std::path::Path;

use anyhow::Context;
use imcredits::api::auth::LocalJwtKey;
use imcredits::meta::{AppSecret, VerifyToken};

const JWT_SECRET_FILE: &str = "jwt-secret";
const META_APP_SECRET_FILE: &str = "meta-app-secret";
const META_VERIFY_TOKEN_FILE: &str = "meta-verify-token";
const SECRET_LEN: usize = 32;

/// The hex text of `file` in `data_dir`, created (0600) with `SECRET_LEN` random bytes if absent.
fn read_or_create(data_dir: &Path, file: &str) -> anyhow::Result<String> {
    crate::engine::private_data_dir(data_dir)?;
    let path = data_dir.join(file);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok(text.trim().to_owned());
    }
    let mut bytes = [0u8; SECRET_LEN];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("random bytes: {error}"))?;
    let text = hex::encode(bytes);
    let mut out = crate::engine::private_file(&path)?;
    std::io::Write::write_all(&mut out, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(text)
}

pub fn jwt_key(data_dir: &Path) -> anyhow::Result<LocalJwtKey> {
    let secret = hex::decode(read_or_create(data_dir, JWT_SECRET_FILE)?)
        .context("the local JWT secret file is not hex")?;
    LocalJwtKey::new(secret).context("the local JWT secret file is too short")
}

/// The app secret the runner's webhook checks signatures with (and `send-webhook` signs with).
pub fn meta_app_secret(data_dir: &Path) -> anyhow::Result<AppSecret> {
    Ok(AppSecret::new(
        read_or_create(data_dir, META_APP_SECRET_FILE)?.as_bytes(),
    )?)
}

pub fn meta_verify_token(data_dir: &Path) -> anyhow::Result<(VerifyToken, String)> {
    let text = read_or_create(data_dir, META_VERIFY_TOKEN_FILE)?;
    Ok((VerifyToken::new(&text)?, text))
}
