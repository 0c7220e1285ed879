//! `#[receiver(SIGNAL, ..., key = value, ...)]`.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    // Names the registration item apart from those of other `#[receiver]`s on the same
    // function (stacked attributes), deterministically.
    let tag = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        args.to_string().hash(&mut hasher);
        hasher.finish()
    };
    let args = syn::parse2::<parse::Args>(args);
    let func = validate::function(item.clone(), args.as_ref().ok());
    let checked = match (&args, &func) {
        (Ok(args), Ok(func)) => validate::combination(args, func),
        _ => Ok(()),
    };
    match (args, func, checked) {
        (Ok(args), Ok(func), Ok(())) => {
            let registrations = expand::receiver(&args, &func, tag);
            quote! { #item #registrations }
        }
        (args, func, checked) => {
            let errors = crate::combine(
                [args.err(), func.err(), checked.err()]
                    .into_iter()
                    .flatten(),
            )
            .map(syn::Error::into_compile_error);
            // Keep the function: the error is the only thing the user has to fix.
            quote! { #item #errors }
        }
    }
}
