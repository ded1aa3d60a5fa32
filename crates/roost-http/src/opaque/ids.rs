//! Opaque ids of the dialects that do not show the core's numbers: WWChat's UUIDs and Koto's
//! `KOTO-…` strings. Every user, chat and message has one, stable and reversible.
//!
//! An id is the AES-128 encryption, under the installation's id key ([`Core::id_key`]), of a
//! 16-byte record of what it names. AES is a keyed permutation of 128-bit blocks, so each object
//! has exactly one UUID, the server turns it back into the object with the key, and nobody
//! without the key can tell ids apart, count them or make one up: a UUID that was not handed out
//! decrypts to a record that does not check out (a wrong tag, bytes that must be zero, or a
//! message in a chat the caller is not in) and is refused.
//!
//! Records (big-endian):
//! - a user (and a private chat, which is named by the other party as in Telegram): tag 1, seven
//!   zero bytes, the user id;
//! - a message of a private chat: tag 3, the smaller and the larger member id (5 bytes each),
//!   the message id (5 bytes) — the same UUID for both members;
//! - a callback query's `chat_instance`: tag 5, seven zero bytes, Telegram's instance number.
//!
//! WWChat shows the 16 bytes as UUIDs are shown (`8-4-4-4-12` hex; they carry no UUID version).
//! Koto shows them as 32 hex digits, after `KOTO-` for users and chats (its chat ids) and bare for
//! messages and chat instances (its string `message_id`s); a Koto id is read with or without
//! the prefix.
//!
//! [`Core::id_key`]: roost_core::Core::id_key

use aes::Aes128;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use uuid::Uuid;

const USER: u8 = 1;
const PRIVATE_MESSAGE: u8 = 3;
const CHAT_INSTANCE: u8 = 5;
const UPDATE: u8 = 6;
/// Ids in a message record have 5 bytes.
const FIVE_BYTES: i64 = 1 << 40;

/// What a UUID names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    User(i64),
    /// A message of the private chat between two users.
    PrivateMessage {
        members: (i64, i64),
        message_id: i64,
    },
    ChatInstance(u64),
    /// An update of a bot's queue.
    Update {
        bot: i64,
        update_id: i64,
    },
}

/// Why a text is not a UUID this server handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not a UUID at all.
    Malformed,
    /// A UUID, but not one of ours.
    Unknown,
}

/// How a dialect writes its ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdStyle {
    /// WWChat: `8-4-4-4-12` hex.
    Uuid,
    /// Koto: `KOTO-` and 32 hex digits for users and chats, the digits alone for messages.
    Koto,
}

/// Koto's prefix of user and chat ids.
const KOTO_PREFIX: &str = "KOTO-";

/// The codec, keyed for one installation, in one dialect's style.
pub struct Ids {
    cipher: Aes128,
    style: IdStyle,
}

impl Ids {
    pub fn new(key: &[u8; 32], style: IdStyle) -> Ids {
        let mut aes_key = [0u8; 16];
        aes_key.copy_from_slice(&key[..16]);
        Ids { cipher: Aes128::new(&aes_key.into()), style }
    }

    fn seal(&self, record: [u8; 16]) -> String {
        let mut block = record.into();
        self.cipher.encrypt_block(&mut block);
        let bytes: [u8; 16] = block.into();
        match self.style {
            IdStyle::Uuid => Uuid::from_bytes(bytes).hyphenated().to_string(),
            IdStyle::Koto => {
                let hex = Uuid::from_bytes(bytes).simple().to_string();
                if record[0] == USER { format!("{KOTO_PREFIX}{hex}") } else { hex }
            }
        }
    }

    /// The 16 bytes a text in this style names, before decryption.
    fn bytes(&self, text: &str) -> Option<[u8; 16]> {
        let text = text.trim();
        let text = match self.style {
            IdStyle::Uuid => text,
            IdStyle::Koto => {
                let bare = text.strip_prefix(KOTO_PREFIX).unwrap_or(text);
                // 32 hex digits exactly: no hyphens, no braces, no `urn:uuid:`.
                if bare.len() != 32 || !bare.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                bare
            }
        };
        Uuid::try_parse(text).ok().map(|uuid| *uuid.as_bytes())
    }

    /// The nil id, for ids too large for a record (none the server hands out).
    fn nil(&self) -> String {
        match self.style {
            IdStyle::Uuid => Uuid::nil().hyphenated().to_string(),
            IdStyle::Koto => Uuid::nil().simple().to_string(),
        }
    }

    fn record(tag: u8, value: u64) -> [u8; 16] {
        let mut record = [0u8; 16];
        record[0] = tag;
        record[8..].copy_from_slice(&value.to_be_bytes());
        record
    }

    /// A user's UUID; also a private chat's, named by the other party.
    pub fn user(&self, id: i64) -> String {
        self.seal(Self::record(USER, id as u64))
    }

    /// The UUID of message `message_id` of the private chat of `a` and `b` (in either order).
    /// Ids too large for the record (none the server hands out) get the nil UUID.
    pub fn private_message(&self, a: i64, b: i64, message_id: i64) -> String {
        let (lo, hi) = (a.min(b), a.max(b));
        if [lo, hi, message_id].iter().any(|&id| !(0..FIVE_BYTES).contains(&id)) {
            return self.nil();
        }
        let mut record = [0u8; 16];
        record[0] = PRIVATE_MESSAGE;
        record[1..6].copy_from_slice(&lo.to_be_bytes()[3..]);
        record[6..11].copy_from_slice(&hi.to_be_bytes()[3..]);
        record[11..].copy_from_slice(&message_id.to_be_bytes()[3..]);
        self.seal(record)
    }

    /// The id of update `update_id` of `bot`'s queue (Quanta's update `id`). Ids too large for
    /// the record get the nil id.
    pub fn update(&self, bot: i64, update_id: i64) -> String {
        if [bot, update_id].iter().any(|&id| !(0..FIVE_BYTES).contains(&id)) {
            return self.nil();
        }
        let mut record = [0u8; 16];
        record[0] = UPDATE;
        record[1..6].copy_from_slice(&bot.to_be_bytes()[3..]);
        record[11..].copy_from_slice(&update_id.to_be_bytes()[3..]);
        self.seal(record)
    }

    /// A callback query's `chat_instance`.
    pub fn chat_instance(&self, instance: u64) -> String {
        self.seal(Self::record(CHAT_INSTANCE, instance))
    }

    /// What `text` names.
    pub fn open(&self, text: &str) -> Result<Named, Refused> {
        let bytes = self.bytes(text).ok_or(Refused::Malformed)?;
        let mut block = bytes.into();
        self.cipher.decrypt_block(&mut block);
        let record: [u8; 16] = block.into();
        let five = |bytes: &[u8]| bytes.iter().fold(0i64, |n, &b| (n << 8) | i64::from(b));
        let word = |bytes: &[u8]| bytes.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
        let padded = record[1..8].iter().all(|&b| b == 0);
        match record[0] {
            USER if padded => Ok(Named::User(word(&record[8..]) as i64)),
            CHAT_INSTANCE if padded => Ok(Named::ChatInstance(word(&record[8..]))),
            PRIVATE_MESSAGE => {
                let (lo, hi) = (five(&record[1..6]), five(&record[6..11]));
                if lo > hi {
                    return Err(Refused::Unknown);
                }
                Ok(Named::PrivateMessage { members: (lo, hi), message_id: five(&record[11..]) })
            }
            UPDATE if record[6..11].iter().all(|&b| b == 0) => {
                Ok(Named::Update { bot: five(&record[1..6]), update_id: five(&record[11..]) })
            }
            _ => Err(Refused::Unknown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_go_both_ways_and_are_stable() {
        let ids = Ids::new(&[7; 32], IdStyle::Uuid);
        let user = ids.user(1_000_000_042);
        assert_eq!(user, ids.user(1_000_000_042));
        assert_eq!(user.len(), 36);
        assert_eq!(ids.open(&user), Ok(Named::User(1_000_000_042)));
        assert_eq!(ids.open(&user.to_uppercase()), Ok(Named::User(1_000_000_042)));
        let message = ids.private_message(1_000_000_043, 1_000_000_042, 17);
        assert_eq!(
            message,
            ids.private_message(1_000_000_042, 1_000_000_043, 17),
            "one UUID for both members"
        );
        assert_eq!(
            ids.open(&message),
            Ok(Named::PrivateMessage { members: (1_000_000_042, 1_000_000_043), message_id: 17 })
        );
        assert_ne!(ids.user(1_000_000_042), ids.user(1_000_000_043));
        assert_eq!(
            ids.open(&ids.update(1_000_000_042, 9)),
            Ok(Named::Update { bot: 1_000_000_042, update_id: 9 })
        );
    }

    #[test]
    fn koto_ids_are_the_same_records_in_koto_form() {
        let koto = Ids::new(&[7; 32], IdStyle::Koto);
        let uuid = Ids::new(&[7; 32], IdStyle::Uuid);
        let user = koto.user(1_000_000_042);
        assert!(user.starts_with("KOTO-") && user.len() == 37, "{user}");
        assert_eq!(user[5..], uuid.user(1_000_000_042).replace('-', ""));
        assert_eq!(koto.open(&user), Ok(Named::User(1_000_000_042)));
        assert_eq!(koto.open(&user[5..]), Ok(Named::User(1_000_000_042)), "the prefix is optional");
        let message = koto.private_message(1_000_000_042, 1_000_000_043, 17);
        assert_eq!(message.len(), 32, "{message}");
        assert_eq!(
            koto.open(&message),
            Ok(Named::PrivateMessage { members: (1_000_000_042, 1_000_000_043), message_id: 17 })
        );
        assert_eq!(koto.open(&uuid.user(1_000_000_042)), Err(Refused::Malformed), "a UUID is not Koto's");
        assert_eq!(koto.open("KOTO-xyz"), Err(Refused::Malformed));
    }

    #[test]
    fn another_key_or_a_made_up_uuid_names_nothing() {
        let ours = Ids::new(&[7; 32], IdStyle::Uuid);
        let theirs = Ids::new(&[8; 32], IdStyle::Uuid);
        assert_eq!(ours.open(&theirs.user(1_000_000_042)).ok(), None);
        assert_eq!(ours.open("550e8400-e29b-41d4-a716-446655440000"), Err(Refused::Unknown));
        assert_eq!(ours.open("not-a-uuid"), Err(Refused::Malformed));
        assert_eq!(ours.open("1000000042"), Err(Refused::Malformed));
    }
}
