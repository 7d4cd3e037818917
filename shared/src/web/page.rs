//! The headers every page we serve carries (the dashboard, the printable statement): its type,
//! its Content-Security-Policy, no MIME sniffing, no referrer.

use axum::http::{HeaderMap, HeaderValue, header};

pub fn page_headers(headers: &mut HeaderMap, content_type: &'static str, policy: HeaderValue) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}
