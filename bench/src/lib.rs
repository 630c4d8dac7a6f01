//! Renkei's benchmark tools (the binaries in `src/bin`) and what they share with the tests.

pub mod authenticator;
