//! The receiver store: type-erased receivers ([`erased`]), their per-family dispatch
//! plans ([`plan`]) and each signal's registry ([`registry`]). **The only `unsafe` code
//! in the crate lives here** (`#![deny(unsafe_code)]` holds everywhere else); every block has a `// SAFETY:` comment and is exercised under
//! Miri (`cargo +nightly miri test -p signals-core`).
//!
//! # The invariants the rest of the crate relies on
//!
//! 1. **Tags before casts.** An erased receiver is only taken back out as a receiver of
//!    the family whose `TypeId` tag it was stored with ([`erased::ErasedFn::get`],
//!    [`erased::ErasedClosure::get`] compare first and return `None` on a mismatch); a plan
//!    compares its family once per send, and each step's kind was read from its tag when
//!    the plan was built.
//! 2. **Plans never outlive what they point into.** A plan holds raw pointers to runtime
//!    closures; it is stored beside the list that owns them (a registry snapshot, replaced
//!    whole, never mutated) and reachable only through it, and it is dropped first.
//!    Link-time lists are leaked, so their plans live as long as the process.
//! 3. **Freed once, outside the lock, without unwinding.** A runtime closure is freed by
//!    the last owner of its entry (a snapshot, a send holding one, a queued delivery),
//!    exactly once ([`erased::ErasedClosure::release`]); the registry's writer drops what it
//!    replaced after unlocking, and a panic from a captured value's `Drop` is caught.

pub(crate) mod entry;
pub(crate) mod erased;
pub(crate) mod plan;
pub(crate) mod registry;

use crate::vocab::receiver::ReceiverInfo;

/// Logs a panic caught while dropping a receiver's closure (its captured state) or a
/// deferred delivery's payload: it is never allowed to unwind into a send, a commit or a
/// disconnect.
#[cold]
pub(crate) fn drop_panicked(receiver: Option<&ReceiverInfo>, panic: &(dyn std::any::Any + Send)) {
    let message = crate::vocab::error::panic_message(panic);
    match receiver {
        Some(info) => tracing::error!(
            target: "signals_core::registry",
            signal = info.signal,
            receiver = info.name,
            location = %format_args!("{}:{}", info.file, info.line),
            panic = %message,
            "a receiver's captured state panicked when dropped (caught)"
        ),
        None => tracing::error!(
            target: "signals_core::registry",
            panic = %message,
            "a receiver's captured state panicked when dropped (caught)"
        ),
    }
}
