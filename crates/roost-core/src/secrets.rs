//! Tokens and passwords: how they are made, stored and checked.
//!
//! - A bot token is `<bot_id>:<35 random URL-safe characters>`, as Telegram's. Only the SHA-256 of
//!   the secret part is stored; a presented token is hashed and compared in constant time.
//! - A session token is 32 random bytes, base64url; only its SHA-256 is stored.
//! - Passwords are hashed with Argon2id (the crate's defaults, OWASP's recommendation), on the
//!   blocking pool so a login never stalls the async workers.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use roost_types::limits::BOT_TOKEN_SECRET_LEN;

/// SHA-256 of a secret.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Compares a presented secret's hash with a stored one in constant time.
pub fn secret_matches(presented: &str, stored_hash: &[u8]) -> bool {
    hash_secret(presented).ct_eq(stored_hash).into()
}

/// A new random secret for a bot token: URL-safe letters, digits, `_` and `-`.
pub fn new_bot_secret() -> String {
    let mut rng = rand::rng();
    (0..BOT_TOKEN_SECRET_LEN)
        .map(|i| {
            // Mostly alphanumerics, with '_' and '-' at random places like Telegram's tokens.
            let roll: u8 = rng.random_range(0..64);
            match roll {
                62 if i > 0 => '_',
                63 if i > 0 => '-',
                _ => char::from(rng.sample(Alphanumeric)),
            }
        })
        .collect()
}

/// Splits a bot token into its bot id and secret, if it has the right shape.
pub fn split_bot_token(token: &str) -> Option<(i64, &str)> {
    let (id, secret) = token.split_once(':')?;
    let id: i64 = id.parse().ok().filter(|id| *id > 0)?;
    let well_formed = secret.len() >= BOT_TOKEN_SECRET_LEN
        && secret.len() <= 128
        && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    well_formed.then_some((id, secret))
}

/// A new session token.
pub fn new_session_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A random id in 1..2⁵³ (exact in a JavaScript number), for things whose ids are public but
/// must not be guessable or counted (sessions).
pub fn new_public_id() -> i64 {
    rand::rng().random_range(1..(1_i64 << 53))
}

/// Hashes a password into a PHC string (Argon2id). CPU-heavy: call on the blocking pool.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt_bytes: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt_bytes)?;
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// Checks a password against a PHC string. CPU-heavy: call on the blocking pool.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
        .unwrap_or(false)
}

/// A PHC string to verify against when the user does not exist, so that a login for an unknown
/// name takes as long as one with a wrong password.
pub fn dummy_password_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("roost-dummy-password").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_tokens_round_trip() {
        let secret = new_bot_secret();
        assert_eq!(secret.len(), BOT_TOKEN_SECRET_LEN);
        let token = format!("1000000001:{secret}");
        assert_eq!(split_bot_token(&token), Some((1_000_000_001, secret.as_str())));
        assert!(secret_matches(&secret, &hash_secret(&secret)));
        assert!(!secret_matches("x", &hash_secret(&secret)));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for token in [
            "",
            "abc",
            "1:short",
            "-1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "x:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
        ] {
            assert_eq!(split_bot_token(token), None, "{token}");
        }
    }

    #[test]
    fn passwords() {
        let phc = hash_password("correct horse").unwrap_or_default();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("wrong horse", &phc));
        assert!(!verify_password("x", "not a phc string"));
    }
}
