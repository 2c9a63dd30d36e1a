//! # siagen-mark
//!
//! Machine text stays recognisable. This crate holds everything that needs neither model weights
//! nor a database: the installation's watermark keys, the keyed PRF, the two marking schemes as
//! pure functions over token ids and distributions (the engine's `LogitsProcessor` adapters live
//! with the server, which wires them), the detector, the character-level origin map of a
//! revision, and signed provenance manifests.
//!
//! It depends on no other siagen crate, so the store (origin maps) and the CLI (detection with
//! only a tokenizer) can use it without pulling in an inference engine.

pub mod detect;
pub mod gumbel;
pub mod key;
pub mod kgw;
pub mod manifest;
pub mod origin;
pub mod prf;
