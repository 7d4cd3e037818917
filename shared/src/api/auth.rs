//! Who is calling. Under API Gateway the JWT authorizer has already verified the token, and its
//! claims arrive in the request context; on a laptop the local runner verifies an HS256 token
//! signed with a local secret itself. Either way a handler sees one [`Caller`].

use std::collections::HashMap;
use std::fmt;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::request::RequestContext;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::error::ApiError;
use crate::ids::AccountId;

pub const ACCOUNT_CLAIM_DEFAULT: &str = "account_id";
pub const OPERATOR_SCOPE_DEFAULT: &str = "imcredits/operator";
/// Issuer and audience of tokens the local runner mints; nothing else accepts them.
pub const LOCAL_ISSUER: &str = "imcredits-local";
pub const LOCAL_AUDIENCE: &str = "imcredits";
const LOCAL_SECRET_LEN_MIN: usize = 32;
const TOKEN_LEN_MAX: usize = 4096;
/// Clock skew allowed on `exp`, `nbf` and `iat`: a token is not used before it is valid, give or
/// take a minute between the issuer's clock and ours.
pub const CLOCK_LEEWAY_SECS: i64 = 60;

/// `nbf` and `iat` (seconds since 1970), when present, must not lie ahead of `now` by more than
/// the leeway: a token from the future was minted wrongly or is being replayed early.
fn check_not_before(
    nbf: Option<i64>,
    iat: Option<i64>,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let latest = now.unix_timestamp() + CLOCK_LEEWAY_SECS;
    for (claim, value) in [("nbf", nbf), ("iat", iat)] {
        if value.is_some_and(|value| value > latest) {
            return Err(ApiError::unauthorized(format!(
                "the bearer token is not valid yet: its {claim} lies in the future"
            )));
        }
    }
    Ok(())
}

/// The token of an `Authorization` header value: the scheme `Bearer` in any case (RFC 9110
/// §11.1), one or more spaces, then the token.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

#[derive(Clone)]
pub enum AuthMode {
    /// Claims come from API Gateway's JWT authorizer (request context), already verified.
    ApiGateway,
    /// Bearer tokens are verified here against a local HS256 secret.
    LocalJwt(LocalJwtKey),
}

#[derive(Clone)]
pub struct AuthConfig {
    /// The claim that names the caller's account.
    pub account_claim: String,
    /// The scope that grants operator routes.
    pub operator_scope: String,
    pub mode: AuthMode,
}

impl AuthConfig {
    pub fn api_gateway(account_claim: &str, operator_scope: &str) -> Self {
        Self {
            account_claim: account_claim.to_owned(),
            operator_scope: operator_scope.to_owned(),
            mode: AuthMode::ApiGateway,
        }
    }

    pub fn local(key: LocalJwtKey) -> Self {
        Self {
            account_claim: ACCOUNT_CLAIM_DEFAULT.to_owned(),
            operator_scope: OPERATOR_SCOPE_DEFAULT.to_owned(),
            mode: AuthMode::LocalJwt(key),
        }
    }
}

/// The local runner's signing secret. Its Debug never shows it.
#[derive(Clone)]
pub struct LocalJwtKey {
    secret: Vec<u8>,
}

impl fmt::Debug for LocalJwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalJwtKey(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the local signing secret must be at least {LOCAL_SECRET_LEN_MIN} bytes")]
    TooShort,
    #[error("the system could not provide random bytes: {0}")]
    Random(String),
    #[error("could not sign the token: {0}")]
    Sign(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct LocalClaims {
    sub: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(flatten)]
    other: HashMap<String, serde_json::Value>,
}

impl LocalJwtKey {
    pub fn new(secret: Vec<u8>) -> Result<Self, KeyError> {
        if secret.len() < LOCAL_SECRET_LEN_MIN {
            return Err(KeyError::TooShort);
        }
        Ok(Self { secret })
    }

    pub fn generate() -> Result<Self, KeyError> {
        let mut secret = vec![0u8; LOCAL_SECRET_LEN_MIN];
        getrandom::fill(&mut secret).map_err(|error| KeyError::Random(error.to_string()))?;
        Self::new(secret)
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// A token for `account` (and the operator scope when `operator`), valid for `lifetime`.
    pub fn mint(
        &self,
        config: &AuthConfig,
        account: Option<&AccountId>,
        operator: bool,
        now: OffsetDateTime,
        lifetime: time::Duration,
    ) -> Result<String, KeyError> {
        let mut other = HashMap::new();
        if let Some(account) = account {
            other.insert(config.account_claim.clone(), account.as_str().into());
        }
        let claims = LocalClaims {
            sub: account.map_or_else(|| "operator".to_owned(), |a| a.as_str().to_owned()),
            iss: LOCAL_ISSUER.to_owned(),
            aud: LOCAL_AUDIENCE.to_owned(),
            iat: now.unix_timestamp(),
            exp: (now + lifetime).unix_timestamp(),
            nbf: None,
            scope: operator.then(|| config.operator_scope.clone()),
            other,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .map_err(|error| KeyError::Sign(error.to_string()))
    }

    fn verify(&self, token: &str) -> Result<LocalClaims, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[LOCAL_ISSUER]);
        validation.set_audience(&[LOCAL_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = CLOCK_LEEWAY_SECS.unsigned_abs();
        let claims = jsonwebtoken::decode::<LocalClaims>(
            token,
            &DecodingKey::from_secret(&self.secret),
            &validation,
        )
        .map(|data| data.claims)
        .map_err(|error| {
            ApiError::unauthorized(format!("the bearer token is not valid: {error}"))
        })?;
        check_not_before(claims.nbf, Some(claims.iat), OffsetDateTime::now_utc())?;
        Ok(claims)
    }
}

/// The caller of a request: whose wallet it may touch, and whether it may use operator routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    account: Option<AccountId>,
    operator: bool,
}

impl Caller {
    pub fn new(account: Option<AccountId>, operator: bool) -> Self {
        Self { account, operator }
    }

    /// The caller's own account: account routes act on this one and no other.
    pub fn account(&self) -> Result<&AccountId, ApiError> {
        self.account
            .as_ref()
            .ok_or_else(|| ApiError::forbidden("the token names no account"))
    }

    pub fn require_operator(&self) -> Result<(), ApiError> {
        if self.operator {
            Ok(())
        } else {
            Err(ApiError::forbidden("this route needs the operator scope"))
        }
    }

    fn from_claims(
        config: &AuthConfig,
        account_claim: Option<&str>,
        scopes: impl Iterator<Item = impl AsRef<str>>,
    ) -> Result<Self, ApiError> {
        let account = account_claim
            .map(|value| {
                AccountId::parse(value).map_err(|_| {
                    ApiError::forbidden(format!(
                        "the token's {} claim is not a valid account id",
                        config.account_claim
                    ))
                })
            })
            .transpose()?;
        let operator = scopes
            .into_iter()
            .any(|scope| scope.as_ref() == config.operator_scope);
        Ok(Self { account, operator })
    }
}

/// An account route's caller: the account its token names. Extracted before the body is read, so
/// an unauthorised request is refused before it is validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCaller(pub AccountId);

impl<S> FromRequestParts<S> for AccountCaller
where
    S: Send + Sync,
    AuthConfig: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Self(caller.account()?.clone()))
    }
}

/// An operator route's caller: a token with the operator scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorCaller;

impl<S> FromRequestParts<S> for OperatorCaller
where
    S: Send + Sync,
    AuthConfig: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Caller::from_request_parts(parts, state)
            .await?
            .require_operator()?;
        Ok(Self)
    }
}

fn api_gateway_caller(config: &AuthConfig, parts: &Parts) -> Result<Caller, ApiError> {
    let Some(RequestContext::ApiGatewayV2(context)) = parts.extensions.get::<RequestContext>()
    else {
        return Err(ApiError::unauthorized(
            "no authorizer context on the request",
        ));
    };
    let jwt = context
        .authorizer
        .as_ref()
        .and_then(|authorizer| authorizer.jwt.as_ref())
        .ok_or_else(|| ApiError::unauthorized("the request carries no verified token"))?;
    // API Gateway checks these too; checking again costs nothing and holds behind any authorizer.
    let claim_secs = |name: &str| -> Result<Option<i64>, ApiError> {
        jwt.claims
            .get(name)
            .map(|value| {
                value.parse::<i64>().map_err(|_| {
                    ApiError::unauthorized(format!("the token's {name} claim is not a number"))
                })
            })
            .transpose()
    };
    check_not_before(
        claim_secs("nbf")?,
        claim_secs("iat")?,
        OffsetDateTime::now_utc(),
    )?;
    let from_list = jwt.scopes.iter().flatten().map(String::as_str);
    // API Gateway lists scopes from the `scope`/`scp` claim; read the claim too where it is not.
    let from_claim = jwt
        .claims
        .get("scope")
        .into_iter()
        .flat_map(|scope| scope.split_whitespace());
    Caller::from_claims(
        config,
        jwt.claims.get(&config.account_claim).map(String::as_str),
        from_list.chain(from_claim),
    )
}

fn local_caller(config: &AuthConfig, key: &LocalJwtKey, parts: &Parts) -> Result<Caller, ApiError> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <token>"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(bearer_token)
        .filter(|token| !token.is_empty() && token.len() <= TOKEN_LEN_MAX)
        .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <token>"))?;
    let claims = key.verify(token)?;
    let account = claims
        .other
        .get(&config.account_claim)
        .map(|value| {
            value.as_str().ok_or_else(|| {
                ApiError::forbidden(format!(
                    "the token's {} claim is not text",
                    config.account_claim
                ))
            })
        })
        .transpose()?;
    let scopes = claims
        .scope
        .iter()
        .flat_map(|scope| scope.split_whitespace());
    Caller::from_claims(config, account, scopes)
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    AuthConfig: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let config = AuthConfig::from_ref(state);
        match &config.mode {
            AuthMode::ApiGateway => api_gateway_caller(&config, parts),
            AuthMode::LocalJwt(key) => local_caller(&config, key, parts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{Request, StatusCode};

    fn parts_with(setup: impl FnOnce(&mut Parts)) -> Parts {
        let (mut parts, ()) = Request::new(()).into_parts();
        setup(&mut parts);
        parts
    }

    fn bearer(token: &str) -> Parts {
        parts_with(|parts| {
            parts.headers.insert(
                header::AUTHORIZATION,
                format!("Bearer {token}").parse().unwrap(),
            );
        })
    }

    #[test]
    fn local_tokens_carry_account_and_operator_scope() {
        let key = LocalJwtKey::generate().unwrap();
        let config = AuthConfig::local(key.clone());
        let acme = AccountId::parse("acme").unwrap();
        let now = OffsetDateTime::now_utc();
        let hour = time::Duration::hours(1);

        let token = key.mint(&config, Some(&acme), false, now, hour).unwrap();
        let caller = local_caller(&config, &key, &bearer(&token)).unwrap();
        assert_eq!(caller, Caller::new(Some(acme.clone()), false));
        assert!(caller.require_operator().is_err());

        let token = key.mint(&config, None, true, now, hour).unwrap();
        let caller = local_caller(&config, &key, &bearer(&token)).unwrap();
        assert_eq!(caller, Caller::new(None, true));
        assert_eq!(caller.account().unwrap_err().status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn forged_expired_and_missing_tokens_are_unauthorized() {
        let key = LocalJwtKey::generate().unwrap();
        let other = LocalJwtKey::generate().unwrap();
        let config = AuthConfig::local(key.clone());
        let acme = AccountId::parse("acme").unwrap();
        let now = OffsetDateTime::now_utc();
        let forged = other
            .mint(&config, Some(&acme), true, now, time::Duration::hours(1))
            .unwrap();
        let expired = key
            .mint(
                &config,
                Some(&acme),
                false,
                now - time::Duration::hours(2),
                time::Duration::hours(1),
            )
            .unwrap();
        for parts in [
            bearer(&forged),
            bearer(&expired),
            bearer("x.y.z"),
            parts_with(|_| {}),
        ] {
            let refused = local_caller(&config, &key, &parts).unwrap_err();
            assert_eq!(
                refused.status,
                StatusCode::UNAUTHORIZED,
                "{}",
                refused.message
            );
        }
        assert!(LocalJwtKey::new(vec![0; 31]).is_err());
        assert_eq!(format!("{key:?}"), "LocalJwtKey(..)");
    }

    fn signed(key: &LocalJwtKey, iat: i64, nbf: Option<i64>) -> String {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims = LocalClaims {
            sub: "acme".into(),
            iss: LOCAL_ISSUER.into(),
            aud: LOCAL_AUDIENCE.into(),
            iat,
            exp: now + 3 * 365 * 86_400,
            nbf,
            scope: Some(OPERATOR_SCOPE_DEFAULT.into()),
            other: HashMap::from([(ACCOUNT_CLAIM_DEFAULT.to_owned(), "acme".into())]),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(key.secret()),
        )
        .unwrap()
    }

    #[test]
    fn tokens_from_the_future_are_refused_within_a_small_leeway() {
        let key = LocalJwtKey::generate().unwrap();
        let config = AuthConfig::local(key.clone());
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let year = 365 * 86_400;
        for (iat, nbf, accepted) in [
            (now, None, true),
            (now, Some(now), true),
            // Clocks drift: a few seconds ahead is fine.
            (now + 10, Some(now + 10), true),
            (now + year, None, false),
            (now, Some(now + year), false),
            (now + CLOCK_LEEWAY_SECS + 30, None, false),
            (now, Some(now + CLOCK_LEEWAY_SECS + 30), false),
        ] {
            let answer = local_caller(&config, &key, &bearer(&signed(&key, iat, nbf)));
            assert_eq!(
                answer.is_ok(),
                accepted,
                "iat {iat} nbf {nbf:?}: {answer:?}"
            );
            if let Err(refused) = answer {
                assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
            }
        }
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let key = LocalJwtKey::generate().unwrap();
        let config = AuthConfig::local(key.clone());
        let token = key
            .mint(
                &config,
                None,
                true,
                OffsetDateTime::now_utc(),
                time::Duration::hours(1),
            )
            .unwrap();
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let parts = parts_with(|parts| {
                parts.headers.insert(
                    header::AUTHORIZATION,
                    format!("{scheme} {token}").parse().unwrap(),
                );
            });
            assert!(local_caller(&config, &key, &parts).is_ok(), "{scheme}");
        }
        for value in [
            format!("Basic {token}"),
            format!("Bearer{token}"),
            token.clone(),
        ] {
            let parts = parts_with(|parts| {
                parts
                    .headers
                    .insert(header::AUTHORIZATION, value.parse().unwrap());
            });
            assert!(local_caller(&config, &key, &parts).is_err(), "{value}");
        }
    }

    #[test]
    fn api_gateway_claims_from_the_future_are_refused() {
        let config = AuthConfig::api_gateway("custom:account", "imcredits/operator");
        let future = (OffsetDateTime::now_utc().unix_timestamp() + 86_400).to_string();
        for claim in ["nbf", "iat"] {
            let context: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext =
                serde_json::from_value(serde_json::json!({
                    "http": {"method": "GET", "path": "/v1/wallet", "protocol": "HTTP/1.1",
                             "sourceIp": "192.0.2.1", "userAgent": "test"},
                    "authorizer": {"jwt": {
                        "claims": {"custom:account": "acme", claim: future},
                        "scopes": null
                    }}
                }))
                .unwrap();
            let parts = parts_with(|parts| {
                parts
                    .extensions
                    .insert(RequestContext::ApiGatewayV2(context));
            });
            let refused = api_gateway_caller(&config, &parts).unwrap_err();
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{claim}");
        }
    }

    #[test]
    fn api_gateway_claims_name_the_account_and_scopes() {
        let config = AuthConfig::api_gateway("custom:account", "imcredits/operator");
        let context: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext =
            serde_json::from_value(serde_json::json!({
                "http": {"method": "GET", "path": "/v1/wallet", "protocol": "HTTP/1.1",
                         "sourceIp": "192.0.2.1", "userAgent": "test"},
                "authorizer": {"jwt": {
                    "claims": {"custom:account": "acme", "scope": "openid imcredits/operator"},
                    "scopes": null
                }}
            }))
            .unwrap();
        let parts = parts_with(|parts| {
            parts
                .extensions
                .insert(RequestContext::ApiGatewayV2(context.clone()));
        });
        let caller = api_gateway_caller(&config, &parts).unwrap();
        assert_eq!(
            caller,
            Caller::new(Some(AccountId::parse("acme").unwrap()), true)
        );

        let mut bad = context.clone();
        if let Some(jwt) = bad.authorizer.as_mut().and_then(|a| a.jwt.as_mut()) {
            jwt.claims
                .insert("custom:account".into(), "not an id!".into());
        }
        let parts = parts_with(|parts| {
            parts.extensions.insert(RequestContext::ApiGatewayV2(bad));
        });
        assert_eq!(
            api_gateway_caller(&config, &parts).unwrap_err().status,
            StatusCode::FORBIDDEN
        );
        let bare = parts_with(|_| {});
        assert_eq!(
            api_gateway_caller(&config, &bare).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }
}
