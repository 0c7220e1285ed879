//! `#[receiver(SIGNAL, ..., key = value, ...)]`.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{ParseStream, Parser};

use crate::ctxt::Ctxt;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    // Names the registration item apart from those of other `#[receiver]`s on the same
    // function (stacked attributes), deterministically.
    let tag = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        args.to_string().hash(&mut hasher);
        hasher.finish()
    };
    let cx = Ctxt::new();
    let parsed = (|input: ParseStream<'_>| parse::args(input, &cx))
        .parse2(args)
        .map_err(|e| cx.syn_error(e))
        .ok();
    // What the function must look like depends on `offload`, even if another argument has
    // an error.
    let offloaded = parsed.as_ref().is_some_and(|a| a.offload.is_some());
    // Arguments with errors give no other hints about the function.
    let args = parsed.filter(|_| !cx.has_errors());
    let func = validate::function(&cx, item.clone(), args.as_ref(), offloaded);
    if let (Some(args), Some(func)) = (&args, &func) {
        validate::combination(&cx, args, func);
    }
    match (cx.check(), args, func) {
        (Ok(()), Some(args), Some(func)) => {
            let registrations = expand::receiver(&args, &func, tag);
            quote! { #item #registrations }
        }
        (result, _, _) => {
            let errors = result
                .err()
                .map(syn::Error::into_compile_error)
                .expect("no arguments or no function, but no error");
            // Keep the function: the error is the only thing the user has to fix.
            quote! { #item #errors }
        }
    }
}
