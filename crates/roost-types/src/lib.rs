//! Wire types shared by every part of Roost.
//!
//! This crate holds the objects of the Bot API and of the client API (`User`, `Chat`, `Message`,
//! `Update`, …), the typed requests of each method, the table of error codes and descriptions, and
//! the limits. It does no I/O and knows nothing of HTTP, the store or any dialect's id rendering.

pub mod error;
pub mod keyboards;
pub mod limits;
pub mod objects;
pub mod requests;

pub use error::{ApiError, ErrorKind};
pub use objects::*;
