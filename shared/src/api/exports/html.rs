//! The monthly statement as JSON and as a printable HTML page (the browser prints it to PDF). The
//! page has no script at all; its one `<style>` element is allowed by its SHA-256 in a strict
//! Content-Security-Policy, and every text is escaped.

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::super::views::AmountView;
use crate::money::Money;
use crate::reporting::monthly::MonthlyStatement;
use crate::wallet::Wallet;

#[derive(Debug, Serialize)]
pub struct ChargeLineView {
    pub category: String,
    pub market: String,
    pub messages: u64,
    pub amount: AmountView,
}

/// `GET /v1/wallet/statements/{month}`.
#[derive(Debug, Serialize)]
pub struct MonthlyView {
    pub account_id: String,
    pub month: String,
    pub time_zone: String,
    pub currency: crate::money::Currency,
    pub opening_balance: AmountView,
    pub credits_bought: AmountView,
    pub credits_granted: AmountView,
    pub credits_auto_recharged: AmountView,
    pub refunds: AmountView,
    pub adjustments: AmountView,
    pub charges: Vec<ChargeLineView>,
    pub charges_total: AmountView,
    pub closing_balance: AmountView,
    /// opening + bought + granted + auto-recharged + refunds + adjustments − charges = closing.
    pub entries: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
}

impl MonthlyView {
    pub fn new(wallet: &Wallet, month: &str, statement: &MonthlyStatement) -> Self {
        let currency = statement.currency;
        Self {
            account_id: wallet.account_id.to_string(),
            month: month.to_owned(),
            time_zone: wallet.reporting_zone.name().to_owned(),
            currency,
            opening_balance: statement.opening.into(),
            credits_bought: statement.purchased.into(),
            credits_granted: statement.granted.into(),
            credits_auto_recharged: statement.auto_recharged.into(),
            refunds: statement.refunds.into(),
            adjustments: statement.adjustments.into(),
            charges: statement
                .charges
                .iter()
                .map(|((category, market), line)| ChargeLineView {
                    category: category.clone(),
                    market: market.clone(),
                    messages: line.messages,
                    amount: Money::new(line.amount, currency)
                        .expect("sums of amounts keep their scale")
                        .into(),
                })
                .collect(),
            charges_total: statement.charges_total.into(),
            closing_balance: statement.closing.into(),
            entries: statement.entries,
            first_seq: statement.first_seq,
            last_seq: statement.last_seq,
        }
    }
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;max-width:48rem;margin:2rem auto;\
padding:0 1rem;color:#111}table{border-collapse:collapse;width:100%;margin:1rem 0}\
th,td{border-bottom:1px solid #ccc;padding:.35rem .5rem;text-align:left}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
tr.total td{font-weight:bold;border-top:2px solid #111}\
@media print{body{margin:0}}";

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page's Content-Security-Policy: nothing but its own style element.
pub fn content_security_policy() -> String {
    let digest = Sha256::digest(STYLE.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest);
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; script-src 'none'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

fn row(label: &str, amount: &AmountView) -> String {
    format!(
        "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
        escape(label),
        escape(&amount.display)
    )
}

fn body(view: &MonthlyView) -> String {
    let mut charges = String::new();
    for line in &view.charges {
        charges.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&line.category),
            escape(&line.market),
            line.messages,
            escape(&line.amount.display)
        ));
    }
    if charges.is_empty() {
        charges.push_str("<tr><td colspan=\"4\">No charges this month.</td></tr>");
    }
    format!(
        "<h1>Statement for {month}</h1>\
         <p>Account {account} &middot; {currency} &middot; days in {zone}</p>\
         <table><caption>Summary</caption><tbody>{opening}{bought}{granted}{recharged}{refunds}\
         {adjustments}<tr><td>Charges</td><td class=\"n\">&minus;{charges_total}</td></tr>\
         <tr class=\"total\"><td>Closing balance</td><td class=\"n\">{closing}</td></tr></tbody>\
         </table>\
         <table><caption>Charges by category and market</caption><thead><tr><th scope=\"col\">\
         Category</th><th scope=\"col\">Market</th><th scope=\"col\" class=\"n\">Messages</th>\
         <th scope=\"col\" class=\"n\">Amount</th></tr></thead><tbody>{charges}</tbody></table>\
         <p>Amounts are rounded to the currency's minor unit for display; the JSON form of this \
         statement carries them exactly.</p>",
        month = escape(&view.month),
        account = escape(&view.account_id),
        currency = escape(view.currency.code()),
        zone = escape(&view.time_zone),
        opening = row("Opening balance", &view.opening_balance),
        bought = row("Credits bought", &view.credits_bought),
        granted = row("Credits granted", &view.credits_granted),
        recharged = row("Credits auto-recharged", &view.credits_auto_recharged),
        refunds = row("Refunds", &view.refunds),
        adjustments = row("Adjustments", &view.adjustments),
        charges_total = escape(&view.charges_total.display),
        closing = escape(&view.closing_balance.display),
    )
}

/// The printable page.
pub fn page(view: &MonthlyView) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Statement {month} &middot; {account}</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>",
        month = escape(&view.month),
        account = escape(&view.account_id),
        body = body(view),
    );
    let mut response = html.into_response();
    let policy = HeaderValue::from_str(&content_security_policy())
        .expect("the policy is ASCII: keywords and a base64 digest");
    crate::web::page::page_headers(response.headers_mut(), "text/html; charset=utf-8", policy);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_the_policy_allows_only_the_style() {
        assert_eq!(escape("<script>&\"'"), "&lt;script&gt;&amp;&quot;&#39;");
        let policy = content_security_policy();
        assert!(policy.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(policy.contains("script-src 'none'"));
        assert!(!policy.contains("unsafe"));
    }
}
