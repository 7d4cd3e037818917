//! The idempotent answer of a request that writes once: a replay of the same request answers as
//! the first time did, with `idempotent-replayed: true`; the same reference under a different
//! request is a 409.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use time::OffsetDateTime;

use super::error::ApiError;
use super::operator::RateCardView;
use super::{ApiStore, AppState};
use crate::ids::AccountId;
use crate::ledger::{EntryOutcome, LedgerEntry, NewEntry};
use crate::payments::purchase::PurchaseKey;
use crate::ports::store::Saved;
use crate::pricing::RateCard;
use crate::wallet::Wallet;

/// The headers of an answer: `idempotent-replayed: true` when it repeats an earlier one.
pub fn replay_headers(replayed: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    headers
}

/// The answer to a request under an `Idempotency-Key` already used: the replay's headers when
/// the stored fingerprint is this request's, else a 409 asking for a new key for a new `what`.
pub fn replayed_or_conflict(
    stored_sha256: &str,
    request_sha256: &str,
    what: &str,
) -> Result<HeaderMap, ApiError> {
    if stored_sha256 != request_sha256 {
        return Err(ApiError::conflict(format!(
            "this {} was used for a different {what} request; send a new key for a new {what}",
            PurchaseKey::HEADER
        )));
    }
    Ok(replay_headers(true))
}

/// Posts the one entry a request makes, the request's fingerprint in its `request_sha256`
/// metadata. A replay answers the entry first posted; a different request under the same entry
/// id is a 409 saying `conflict`. The entry, the wallet after it, and the answer's headers.
pub async fn post_one<S: ApiStore>(
    app: &AppState<S>,
    account: &AccountId,
    entry: NewEntry,
    now: OffsetDateTime,
    request_sha256: &str,
    conflict: impl FnOnce() -> String,
) -> Result<(LedgerEntry, Wallet, HeaderMap), ApiError> {
    let receipt = app.store.post_entries(account, &[entry], now).await?;
    let outcome = receipt
        .outcomes
        .into_iter()
        .next()
        .expect("one outcome per requested entry");
    if let EntryOutcome::AlreadyPosted(original) = &outcome
        && original.metadata.get("request_sha256") != Some(request_sha256)
    {
        return Err(ApiError::conflict(conflict()));
    }
    let headers = replay_headers(matches!(outcome, EntryOutcome::AlreadyPosted(_)));
    Ok((outcome.entry().clone(), receipt.wallet, headers))
}

/// Saves a rate-card version (immutable: the same card again is a replay) and answers it.
pub async fn save_rate_card<S: ApiStore>(
    app: &AppState<S>,
    card: &RateCard,
) -> Result<(StatusCode, HeaderMap, Json<RateCardView>), ApiError> {
    let saved = app.store.save_rate_card(card, app.clock.now()).await?;
    Ok((
        StatusCode::CREATED,
        replay_headers(saved == Saved::AlreadySaved),
        Json(RateCardView::from(card)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_fingerprint_is_a_replay_and_another_a_conflict() {
        let replay = replayed_or_conflict("abc", "abc", "hold").unwrap();
        assert_eq!(replay["idempotent-replayed"], "true");
        let conflict = replayed_or_conflict("abc", "abd", "hold").unwrap_err();
        let message = format!("{conflict:?}");
        assert!(message.contains("a different hold request"), "{message}");
        assert!(message.contains(PurchaseKey::HEADER), "{message}");
    }
}
