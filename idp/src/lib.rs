//! Renkei's OpenID Connect provider: single sign-on for the students, teachers, guardians and
//! administrators of a school board, and verified identities for the learning apps it allows.
//!
//! Layout: one module per concept. HTTP handlers are thin and call the domain modules; all
//! persistence goes through [`store::Store`].

pub mod approval;
pub mod assurance;
pub mod authorize;
pub mod card;
pub mod client;
pub mod config;
pub mod discovery;
pub mod enrolment;
pub mod error;
pub mod error_page;
pub mod introspection;
pub mod keys;
pub mod login;
pub mod logout;
pub mod notice;
pub mod pages;
pub mod passkey;
pub mod recovery;
pub mod revocation;
pub mod scope;
pub mod server;
pub mod session;
pub mod store;
pub mod token;
pub mod upstream;
pub mod user;
pub mod userinfo;

pub use config::Config;
pub use error::{Error, Result};
pub use renkei_platform::crypto;
pub use server::{AppState, serve};
