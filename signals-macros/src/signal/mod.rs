//! `#[derive(Signal)]` with `#[signal(...)]` options.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let result = syn::parse2::<syn::DeriveInput>(input).and_then(|input| {
        let options = parse::options(&input)?;
        let signal = validate::signal(&input, options)?;
        Ok(expand::signal(&signal))
    });
    // A derive never re-emits its input, so on error only the error is returned.
    result.unwrap_or_else(syn::Error::into_compile_error)
}
