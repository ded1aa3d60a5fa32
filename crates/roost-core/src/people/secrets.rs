//! Tokens and passwords: how they are made, stored and checked.
//!
//! - A bot token is `<bot_id>:<35 random URL-safe characters>`, as Telegram's. Only the SHA-256 of
//!   the secret part is stored; a presented token is hashed and compared in constant time.
//!   So that its owner can be shown it again, the token is also kept sealed (AES-256-GCM) under
//!   the installation's `tokens` key; a copy of the bots table alone reveals no token.
//! - A session token is 32 random bytes, base64url; only its SHA-256 is stored. So are personal
//!   API keys (`roost_…`) and invite codes.
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

/// Koto's form of a bot token: `kbot_<bot id>_<secret>`, the same secret as `<bot id>:<secret>`.
pub const KOTO_TOKEN_PREFIX: &str = "kbot_";

/// A token in Koto's form.
pub fn koto_token(token: &str) -> Option<String> {
    let (id, secret) = split_bot_token(token)?;
    Some(format!("{KOTO_TOKEN_PREFIX}{id}_{secret}"))
}

/// Quanta's form of a bot token (its `api_key`): `bot_<bot id>_<secret>`.
pub const QUANTA_TOKEN_PREFIX: &str = "bot_";

/// A token in Quanta's form.
pub fn quanta_token(token: &str) -> Option<String> {
    let (id, secret) = split_bot_token(token)?;
    Some(format!("{QUANTA_TOKEN_PREFIX}{id}_{secret}"))
}

/// Splits a bot token — `<bot id>:<secret>`, Koto's `kbot_<bot id>_<secret>` or Quanta's
/// `bot_<bot id>_<secret>` — into its bot id and secret, if it has the right shape.
pub fn split_bot_token(token: &str) -> Option<(i64, &str)> {
    let prefixed = token.strip_prefix(KOTO_TOKEN_PREFIX).or_else(|| token.strip_prefix(QUANTA_TOKEN_PREFIX));
    let (id, secret) = match prefixed {
        Some(rest) => rest.split_once('_')?,
        None => token.split_once(':')?,
    };
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

/// The working memory of Argon2 runs (19 MiB with the default parameters).
///
/// Reserved at 32 MiB at least, so that the allocator maps it apart and gives it back whole when
/// it is dropped. The argon2 crate's own 19 MiB allocation, made and freed for every sign-in, left
/// glibc's heap holding ~10 MiB more after each one: glibc's mmap threshold rises to the size of
/// the last mapped block freed (up to 32 MiB), so later blocks came from the heap and fragmented
/// it, and a few hundred sign-ins held hundreds of MiB. Only the pages Argon2 touches count.
#[derive(Default)]
pub struct HashMemory(Vec<argon2::Block>);

/// glibc's largest mmap threshold (`DEFAULT_MMAP_THRESHOLD_MAX` on 64-bit): an allocation of at
/// least this much is always mapped on its own.
const MAPPED_APART: usize = 32 * 1024 * 1024;

impl HashMemory {
    fn blocks(&mut self, count: usize) -> &mut [argon2::Block] {
        if self.0.len() < count {
            let floor = MAPPED_APART / std::mem::size_of::<argon2::Block>();
            self.0.reserve_exact(count.max(floor) - self.0.len());
            self.0.resize(count, argon2::Block::default());
        }
        &mut self.0[..count]
    }
}

/// [`hash_password`] in `memory`: the same PHC string, without allocating the working memory.
pub fn hash_password_in(
    password: &str,
    memory: &mut HashMemory,
) -> Result<String, argon2::password_hash::Error> {
    use argon2::password_hash::{Output, ParamsString};
    let salt_bytes: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt_bytes)?;
    let argon = Argon2::default();
    let params = argon.params().clone();
    let output =
        Output::init_with(params.output_len().unwrap_or(argon2::Params::DEFAULT_OUTPUT_LEN), |out| {
            argon.hash_password_into_with_memory(
                password.as_bytes(),
                &salt_bytes,
                out,
                memory.blocks(params.block_count()),
            )?;
            Ok(())
        })?;
    let hash = PasswordHash {
        algorithm: argon2::Algorithm::default().ident(),
        version: Some(argon2::Version::default().into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// [`verify_password`] in `memory`.
pub fn verify_password_in(password: &str, phc: &str, memory: &mut HashMemory) -> bool {
    let mut check = || -> Option<bool> {
        let hash = PasswordHash::new(phc).ok()?;
        let expected = hash.hash?;
        let algorithm = argon2::Algorithm::try_from(hash.algorithm).ok()?;
        let version = match hash.version {
            Some(v) => argon2::Version::try_from(v).ok()?,
            None => argon2::Version::default(),
        };
        let params = argon2::Params::try_from(&hash).ok()?;
        let mut salt = [0u8; 64];
        let salt = hash.salt?.decode_b64(&mut salt).ok()?;
        let mut out = vec![0u8; expected.len()];
        let blocks = memory.blocks(params.block_count());
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
            .ok()?;
        Some(out.ct_eq(expected.as_bytes()).into())
    };
    check().unwrap_or(false)
}

/// A new personal API key: `roost_` and 32 random bytes, base64url (the prefix lets secret
/// scanners recognise a leaked one). Only its SHA-256 is stored.
pub fn new_api_key() -> String {
    format!("roost_{}", new_session_token())
}

/// A new invite code: 16 random bytes, base64url. Only its SHA-256 is stored.
pub fn new_invite_code() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Seals a bot token under `key` (AES-256-GCM; a random 96-bit nonce, then the ciphertext), so
/// that its owner can be shown it again while the database holds no token in the clear.
pub fn seal_token(key: &[u8; 32], token: &str) -> Vec<u8> {
    use aes_gcm::aead::{Aead, KeyInit};
    let cipher = aes_gcm::Aes256Gcm::new(key.into());
    let nonce: [u8; 12] = rand::rng().random();
    match cipher.encrypt(&nonce.into(), token.as_bytes()) {
        Ok(sealed) => [nonce.as_slice(), &sealed].concat(),
        // Encryption fails only for inputs of gigabytes; a token is never one.
        Err(_) => Vec::new(),
    }
}

/// Opens a token sealed by [`seal_token`]; `None` if it was sealed under another key or altered.
pub fn open_token(key: &[u8; 32], sealed: &[u8]) -> Option<String> {
    use aes_gcm::aead::{Aead, KeyInit};
    let (nonce, ciphertext) = sealed.split_at_checked(12)?;
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    let cipher = aes_gcm::Aes256Gcm::new(key.into());
    String::from_utf8(cipher.decrypt(&nonce.into(), ciphertext).ok()?).ok()
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
    fn sealed_tokens_open_only_under_their_key() {
        let key = [7u8; 32];
        let sealed = seal_token(&key, "1000000001:secret");
        assert!(!sealed.windows(6).any(|w| w == b"secret"), "not in the clear");
        assert_eq!(open_token(&key, &sealed).as_deref(), Some("1000000001:secret"));
        assert_eq!(open_token(&[8u8; 32], &sealed), None);
        let mut altered = sealed.clone();
        if let Some(last) = altered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(open_token(&key, &altered), None);
        assert_ne!(seal_token(&key, "same"), seal_token(&key, "same"), "a fresh nonce each time");
    }

    #[test]
    fn the_koto_form_is_the_same_token() {
        let secret = new_bot_secret();
        let token = format!("1000000001:{secret}");
        let koto = koto_token(&token).unwrap_or_default();
        assert_eq!(koto, format!("kbot_1000000001_{secret}"));
        assert_eq!(split_bot_token(&koto), Some((1_000_000_001, secret.as_str())));
        assert_eq!(split_bot_token("kbot_x_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), None);
        let quanta = quanta_token(&token).unwrap_or_default();
        assert_eq!(split_bot_token(&quanta), Some((1_000_000_001, secret.as_str())));
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
    fn passwords_hashed_in_kept_memory_agree_with_the_crate() {
        let mut memory = HashMemory::default();
        let phc = hash_password_in("correct horse", &mut memory).unwrap_or_default();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("correct horse", &phc), "the crate accepts our hash");
        assert!(verify_password_in("correct horse", &phc, &mut memory));
        assert!(!verify_password_in("wrong horse", &phc, &mut memory));
        let theirs = hash_password("correct horse").unwrap_or_default();
        assert!(verify_password_in("correct horse", &theirs, &mut memory), "we accept the crate's");
        assert!(!verify_password_in("x", "not a phc string", &mut memory));
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
