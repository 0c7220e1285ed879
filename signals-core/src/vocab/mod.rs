//! The vocabulary: the types every other layer speaks in, importing nothing from the rest
//! of the crate. What a payload is ([`family`]), when a receiver runs ([`phase`]), who a
//! receiver is and the one dispatch-order rule ([`receiver`]), what can go wrong
//! ([`error`]), what a send gives back ([`response`]) and how a conditional receiver says
//! it did not run ([`when`]).

pub(crate) mod connection;
pub(crate) mod family;
pub(crate) mod phase;
pub(crate) mod receiver;
pub(crate) mod response;
pub(crate) mod when;

pub mod error;
