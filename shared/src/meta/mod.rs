//! Meta's WhatsApp webhook: pure code, no AWS, no HTTP framework.
//!
//! - [`signature`]: `X-Hub-Signature-256`, HMAC-SHA256 of the raw body, constant-time;
//! - [`handshake`]: the `hub.challenge` GET verification.

pub mod handshake;
pub mod signature;

pub use handshake::{HandshakeQuery, HandshakeRefusal, VerifyToken, answer_handshake};
pub use signature::{AppSecret, SIGNATURE_HEADER, SignatureError, verify_signature};
