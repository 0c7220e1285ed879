//! `#[derive(Signal)]` with `#[signal(...)]` options.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;

use crate::ctxt::Ctxt;

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<syn::DeriveInput>(input) {
        Ok(input) => input,
        Err(e) => return e.into_compile_error(),
    };
    let cx = Ctxt::new();
    let options = parse::options(&cx, &input);
    let signal = validate::signal(&cx, &input, &options);
    match (cx.check(), signal) {
        (Ok(()), Some(signal)) => expand::signal(&signal),
        (result, _) => {
            // A derive never re-emits its input, so on error only the error is returned.
            result
                .err()
                .map(syn::Error::into_compile_error)
                .expect("no signal, but no error")
        }
    }
}
