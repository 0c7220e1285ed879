//! `#[derive(Signal)]` with `#[signal(...)]` options.

mod expand;
mod fallback;
mod parse;
mod validate;

use proc_macro2::TokenStream;
use quote::quote;

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
            let errors = result
                .err()
                .map(syn::Error::into_compile_error)
                .expect("no signal, but no error");
            // A derive never re-emits its input. The fallback impl makes the type a
            // signal anyway, so that its uses compile and only these errors show.
            let fallback = fallback::signal(&input, &options);
            quote! { #errors #fallback }
        }
    }
}
