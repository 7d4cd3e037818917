//! The credits dashboard: one static page and its assets (`shared/web/`), embedded in the binary so
//! the checkout function and the local runner serve the same bytes with no build step and nothing
//! fetched at run time. The page holds no secret: it calls the API with the bearer token the host
//! hands it in the URL fragment, so in AWS these routes have no authorizer (see the template).
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles, images and calls only
//! from this origin; no inline script or style), `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer`. Who may frame the page is [`DashboardConfig`], put on the router
//! by the composition root as an [`Extension`]; without one nobody may frame it.

use axum::extract::{Extension, Path};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// One embedded file: the name it is served under `/dashboard/`, its media type, its bytes.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("../../web/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// The page itself, served at `/`.
pub const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

/// Everything the page loads, served at `/dashboard/{name}`. A test holds this list to the folder.
pub const ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("session.js", JS),
    asset!("dom.js", JS),
    asset!("decimal.js", JS),
    asset!("chart.js", JS),
    asset!("usage-data.js", JS),
    asset!("page-overview.js", JS),
    asset!("page-buy.js", JS),
    asset!("page-recharge.js", JS),
    asset!("page-usage.js", JS),
    asset!("page-statement.js", JS),
    asset!("page-payments.js", JS),
    asset!("page-settings.js", JS),
    asset!("notices.js", JS),
];

/// Who may put the page in a frame (CSP `frame-ancestors`), e.g. the host platform's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardConfig {
    frame_ancestors: String,
}

pub const FRAME_ANCESTORS_VAR: &str = "DASHBOARD_FRAME_ANCESTORS";
const FRAME_ANCESTORS_LEN_MAX: usize = 1024;
const FRAME_ANCESTORS_SOURCES_MAX: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{FRAME_ANCESTORS_VAR}: {0:?} is not a frame source; give 'none', 'self' or up to 16 origins \
     such as https://desk.example.com or https://*.example.com, separated by spaces"
)]
pub struct FrameAncestorsError(pub String);

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            frame_ancestors: "'none'".to_owned(),
        }
    }
}

impl DashboardConfig {
    /// Reads `DASHBOARD_FRAME_ANCESTORS` (absent or empty: `'none'`).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, FrameAncestorsError> {
        match lookup(FRAME_ANCESTORS_VAR) {
            Some(value) if !value.trim().is_empty() => Self::frame_ancestors(&value),
            _ => Ok(Self::default()),
        }
    }

    pub fn from_env() -> Result<Self, FrameAncestorsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Checked source by source, so nothing can end the directive and add another.
    pub fn frame_ancestors(value: &str) -> Result<Self, FrameAncestorsError> {
        let sources: Vec<&str> = value.split_whitespace().collect();
        if value.len() > FRAME_ANCESTORS_LEN_MAX || sources.len() > FRAME_ANCESTORS_SOURCES_MAX {
            return Err(FrameAncestorsError(value.chars().take(64).collect()));
        }
        if let Some(bad) = sources.iter().find(|source| !is_frame_source(source)) {
            return Err(FrameAncestorsError((*bad).to_owned()));
        }
        if sources.len() > 1 && sources.contains(&"'none'") {
            return Err(FrameAncestorsError("'none'".to_owned()));
        }
        Ok(Self {
            frame_ancestors: sources.join(" "),
        })
    }

    /// Puts this configuration on a router whose routes include the dashboard's.
    pub fn apply(self, router: axum::Router) -> axum::Router {
        router.layer(Extension(self))
    }

    pub fn content_security_policy(&self) -> String {
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors {}",
            self.frame_ancestors
        )
    }
}

/// `'self'`, `'none'`, or an http(s) origin whose host may start with `*.`.
fn is_frame_source(source: &str) -> bool {
    if source == "'self'" || source == "'none'" {
        return true;
    }
    let Some(rest) = source
        .strip_prefix("https://")
        .or_else(|| source.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.strip_prefix("*.").unwrap_or(rest);
    !host.is_empty()
        && !host.starts_with(['.', '-', ':'])
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
}

fn serve(asset: &Asset, config: Option<Extension<DashboardConfig>>) -> Response {
    let config = config.map(|Extension(config)| config).unwrap_or_default();
    let mut headers = HeaderMap::new();
    let policy = HeaderValue::from_str(&config.content_security_policy())
        .expect("frame sources were checked to be header-safe");
    crate::web::page::page_headers(&mut headers, asset.content_type, policy);
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    // Small files with no version in their names: revalidate, so a deploy is seen at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    (headers, asset.bytes).into_response()
}

/// `GET /`: the dashboard page.
pub async fn page(config: Option<Extension<DashboardConfig>>) -> Response {
    serve(&INDEX, config)
}

/// `GET /dashboard/{asset}`: a file the page loads, by its exact name.
pub async fn asset(
    Path(name): Path<String>,
    config: Option<Extension<DashboardConfig>>,
) -> Result<Response, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .ok_or_else(|| ApiError::not_found(format!("the dashboard has no file {name:?}")))?;
    Ok(serve(asset, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_web_folder_is_served_and_nothing_else() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/web");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("shared/web exists")
            .map(|entry| {
                entry
                    .expect("readable")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name != "index.html" && name != "VENDOR.md")
            .collect();
        on_disk.sort();
        let mut served: Vec<String> = ASSETS.iter().map(|a| a.name.to_owned()).collect();
        served.sort();
        assert_eq!(on_disk, served);
    }

    #[test]
    fn the_page_has_no_inline_script_or_style_and_loads_only_its_own_files() {
        for asset in std::iter::once(&INDEX).chain(ASSETS) {
            let text = String::from_utf8_lossy(asset.bytes).to_ascii_lowercase();
            if asset.name.ends_with(".html") || asset.name.ends_with(".svg") {
                // A <script> always has a src; no handler attributes, no style attributes.
                for (index, _) in text.match_indices("<script") {
                    let tag =
                        &text[index..text[index..].find('>').map_or(text.len(), |e| index + e)];
                    assert!(tag.contains("src=\"/dashboard/"), "{}: {tag}", asset.name);
                }
                for attribute in [" onclick=", " onload=", " onerror=", " style=", "<style"] {
                    assert!(!text.contains(attribute), "{}: {attribute}", asset.name);
                }
            }
            // No network beyond our own origin: no absolute URL is fetched or loaded.
            for remote in [
                "src=\"http",
                "href=\"http",
                "url(http",
                "import(\"http",
                "from \"http",
            ] {
                assert!(!text.contains(remote), "{}: {remote}", asset.name);
            }
        }
    }

    #[test]
    fn frame_ancestors_are_configurable_and_checked() {
        let default = DashboardConfig::from_lookup(|_| None).unwrap();
        assert!(
            default
                .content_security_policy()
                .ends_with("frame-ancestors 'none'")
        );
        let host = DashboardConfig::from_lookup(|_| {
            Some("https://desk.example.com https://*.zoho.com".to_owned())
        })
        .unwrap();
        assert!(
            host.content_security_policy()
                .ends_with("frame-ancestors https://desk.example.com https://*.zoho.com")
        );
        for bad in [
            "https://a.example; script-src *",
            "javascript:alert(1)",
            "*",
            "https://",
            "'none' https://a.example",
            "'unsafe-inline'",
        ] {
            assert!(DashboardConfig::frame_ancestors(bad).is_err(), "{bad}");
        }
    }
}
