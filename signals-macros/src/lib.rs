//! Procedural macros for [`signals-core`](https://docs.rs/signals-core).
//!
//! Depend on `signals-core`, which re-exports these macros and documents them; the
//! generated code only names `::signals_core::__private`.
//!
//! Each macro is split the way dtolnay's derive crates are: `parse` turns tokens into a
//! plain description, `validate` checks it, both reporting every problem as a spanned
//! `syn::Error` into one `Ctxt`, and `expand` writes the code. On error `#[receiver]`
//! still emits the function and `#[derive(Signal)]` a minimal fallback impl, so one
//! mistake does not cascade into unrelated errors.
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod ctxt;
mod krate;
mod receiver;
mod signal;

/// (The attribute is defined in the `signals-macros` crate; depend on `signals-core`,
/// which re-exports it.)
#[proc_macro_attribute]
pub fn receiver(args: TokenStream, item: TokenStream) -> TokenStream {
    receiver::expand(args.into(), item.into()).into()
}

/// (The derive is defined in the `signals-macros` crate; depend on `signals-core`, which
/// re-exports it.)
#[proc_macro_derive(Signal, attributes(signal))]
pub fn derive_signal(input: TokenStream) -> TokenStream {
    signal::expand(input.into()).into()
}
