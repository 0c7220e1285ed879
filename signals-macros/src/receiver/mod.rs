//! `#[receiver(SIGNAL, ..., key = value, ...)]`.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = syn::parse2::<parse::Args>(args);
    let func = validate::function(item.clone());
    match (args, func) {
        (Ok(args), Ok(func)) => {
            let registrations = expand::receiver(&args, &func);
            quote! { #item #registrations }
        }
        (args, func) => {
            let errors = crate::combine([args.err(), func.err()].into_iter().flatten())
                .map(syn::Error::into_compile_error);
            // Keep the function: the error is the only thing the user has to fix.
            quote! { #item #errors }
        }
    }
}
