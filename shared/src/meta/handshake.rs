//! The GET verification handshake: when a webhook URL is registered, Meta calls it with
//! `hub.mode=subscribe`, `hub.verify_token=<the token we configured>` and `hub.challenge=<value>`,
//! and expects the challenge echoed back. Anyone can call the URL, so the challenge is echoed only
//! for the right token, and only if it looks like a challenge (it goes back in a response body).

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Longest challenge echoed. Meta's are short decimal numbers; this is generous.
pub const CHALLENGE_LEN_MAX: usize = 256;
/// Longest verify token accepted, configured or received.
pub const VERIFY_TOKEN_LEN_MAX: usize = 256;

/// The verify token configured on Meta's side. `Debug` never prints it.
#[derive(Clone)]
pub struct VerifyToken(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyTokenError {
    #[error("the verify token is empty")]
    Empty,
    #[error("the verify token is longer than {VERIFY_TOKEN_LEN_MAX} bytes")]
    TooLong,
}

impl VerifyToken {
    pub fn new(token: &str) -> Result<Self, VerifyTokenError> {
        if token.is_empty() {
            return Err(VerifyTokenError::Empty);
        }
        if token.len() > VERIFY_TOKEN_LEN_MAX {
            return Err(VerifyTokenError::TooLong);
        }
        Ok(Self(token.to_owned()))
    }

    /// Constant-time comparison. Both sides are hashed first so that the time taken does not even
    /// reveal the configured token's length.
    fn matches(&self, candidate: &str) -> bool {
        let expected = Sha256::digest(self.0.as_bytes());
        let given = Sha256::digest(candidate.as_bytes());
        expected.as_slice().ct_eq(given.as_slice()).into()
    }
}

impl fmt::Debug for VerifyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerifyToken(<redacted>)")
    }
}

/// The three query parameters of the handshake, already URL-decoded (as API Gateway delivers them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandshakeQuery<'a> {
    pub mode: Option<&'a str>,
    pub verify_token: Option<&'a str>,
    pub challenge: Option<&'a str>,
}

impl<'a> HandshakeQuery<'a> {
    /// Picks `hub.mode`, `hub.verify_token` and `hub.challenge` out of decoded query pairs; other
    /// parameters are ignored. A repeated `hub.*` parameter is refused: which one would count?
    pub fn from_pairs<I>(pairs: I) -> Result<Self, HandshakeRefusal>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut query = Self::default();
        for (name, value) in pairs {
            let slot = match name {
                "hub.mode" => &mut query.mode,
                "hub.verify_token" => &mut query.verify_token,
                "hub.challenge" => &mut query.challenge,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(HandshakeRefusal::RepeatedParameter);
            }
        }
        Ok(query)
    }
}

/// Why a handshake is refused (answer 403, and log the reason: it carries no secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeRefusal {
    #[error("hub.mode is missing")]
    MissingMode,
    #[error("hub.mode is not `subscribe`")]
    WrongMode,
    #[error("hub.verify_token is missing")]
    MissingToken,
    #[error("hub.verify_token does not match")]
    WrongToken,
    #[error("hub.challenge is missing or empty")]
    MissingChallenge,
    #[error("hub.challenge is longer than {CHALLENGE_LEN_MAX} bytes")]
    ChallengeTooLong,
    #[error("hub.challenge has a character outside letters, digits and `-._~`")]
    ChallengeBadCharacter,
    #[error("a hub.* parameter is repeated")]
    RepeatedParameter,
}

/// A challenge echoes only URL-unreserved characters: it is written back into a response body, so
/// nothing in it may be markup or a header break.
fn challenge_byte_allowed(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Answers the handshake: `Ok(challenge)`, to be sent back as the `200` body, or why not. The token
/// is checked before the challenge, so a caller without the token learns nothing else.
pub fn answer_handshake<'q>(
    expected: &VerifyToken,
    query: &HandshakeQuery<'q>,
) -> Result<&'q str, HandshakeRefusal> {
    match query.mode {
        None => return Err(HandshakeRefusal::MissingMode),
        Some("subscribe") => {}
        Some(_) => return Err(HandshakeRefusal::WrongMode),
    }
    let token = query.verify_token.ok_or(HandshakeRefusal::MissingToken)?;
    if token.len() > VERIFY_TOKEN_LEN_MAX || !expected.matches(token) {
        return Err(HandshakeRefusal::WrongToken);
    }
    let challenge = query
        .challenge
        .filter(|challenge| !challenge.is_empty())
        .ok_or(HandshakeRefusal::MissingChallenge)?;
    if challenge.len() > CHALLENGE_LEN_MAX {
        return Err(HandshakeRefusal::ChallengeTooLong);
    }
    if !challenge.bytes().all(challenge_byte_allowed) {
        return Err(HandshakeRefusal::ChallengeBadCharacter);
    }
    Ok(challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> VerifyToken {
        VerifyToken::new("meatball-42").unwrap()
    }

    fn query<'a>(mode: &'a str, token: &'a str, challenge: &'a str) -> HandshakeQuery<'a> {
        HandshakeQuery {
            mode: Some(mode),
            verify_token: Some(token),
            challenge: Some(challenge),
        }
    }

    #[test]
    fn the_right_token_gets_its_challenge_back() {
        assert_eq!(
            answer_handshake(&token(), &query("subscribe", "meatball-42", "1158201444")),
            Ok("1158201444")
        );
        let allowed = "Az09-._~";
        assert_eq!(
            answer_handshake(&token(), &query("subscribe", "meatball-42", allowed)),
            Ok(allowed)
        );
    }

    #[test]
    fn everything_else_is_refused_with_its_reason() {
        let refused = |q: HandshakeQuery<'_>| answer_handshake(&token(), &q).unwrap_err();
        assert_eq!(
            refused(query("subscribe", "meatball-43", "1")),
            HandshakeRefusal::WrongToken
        );
        assert_eq!(
            refused(query("subscribe", "meatball-4", "1")),
            HandshakeRefusal::WrongToken
        );
        assert_eq!(
            refused(query("subscribe", "", "1")),
            HandshakeRefusal::WrongToken
        );
        assert_eq!(
            refused(query("Subscribe", "meatball-42", "1")),
            HandshakeRefusal::WrongMode
        );
        assert_eq!(
            refused(query("unsubscribe", "meatball-42", "1")),
            HandshakeRefusal::WrongMode
        );
        assert_eq!(
            refused(HandshakeQuery::default()),
            HandshakeRefusal::MissingMode
        );
        assert_eq!(
            refused(HandshakeQuery {
                verify_token: None,
                ..query("subscribe", "", "1")
            }),
            HandshakeRefusal::MissingToken
        );
        assert_eq!(
            refused(HandshakeQuery {
                challenge: None,
                ..query("subscribe", "meatball-42", "")
            }),
            HandshakeRefusal::MissingChallenge
        );
        assert_eq!(
            refused(query("subscribe", "meatball-42", "")),
            HandshakeRefusal::MissingChallenge
        );
        let long = "1".repeat(CHALLENGE_LEN_MAX + 1);
        assert_eq!(
            refused(query("subscribe", "meatball-42", &long)),
            HandshakeRefusal::ChallengeTooLong
        );
        assert!(answer_handshake(&token(), &query("subscribe", "meatball-42", &long[1..])).is_ok());
        for bad in ["<script>", "a b", "1\r\nSet-Cookie:x", "é", "a/b"] {
            assert_eq!(
                refused(query("subscribe", "meatball-42", bad)),
                HandshakeRefusal::ChallengeBadCharacter,
                "{bad:?}"
            );
        }
        // A wrong token hides whether the challenge would have been acceptable.
        assert_eq!(
            refused(query("subscribe", "nope", "<script>")),
            HandshakeRefusal::WrongToken
        );
    }

    #[test]
    fn query_pairs_are_picked_and_repeats_refused() {
        let pairs = [
            ("hub.mode", "subscribe"),
            ("other", "x"),
            ("hub.challenge", "77"),
            ("hub.verify_token", "meatball-42"),
        ];
        let parsed = HandshakeQuery::from_pairs(pairs).unwrap();
        assert_eq!(parsed, query("subscribe", "meatball-42", "77"));
        assert_eq!(answer_handshake(&token(), &parsed), Ok("77"));
        let repeated = [
            ("hub.verify_token", "wrong"),
            ("hub.verify_token", "meatball-42"),
        ];
        assert_eq!(
            HandshakeQuery::from_pairs(repeated),
            Err(HandshakeRefusal::RepeatedParameter)
        );
    }

    #[test]
    fn the_token_never_shows_and_is_bounded() {
        assert_eq!(format!("{:?}", token()), "VerifyToken(<redacted>)");
        assert_eq!(VerifyToken::new("").unwrap_err(), VerifyTokenError::Empty);
        assert_eq!(
            VerifyToken::new(&"t".repeat(VERIFY_TOKEN_LEN_MAX + 1)).unwrap_err(),
            VerifyTokenError::TooLong
        );
    }
}
