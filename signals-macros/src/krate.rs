//! The path generated code uses to reach `signals_core`.

use proc_macro2::TokenStream;
use quote::quote;

/// `::signals_core`, or the path given with `crate = path`.
pub(crate) fn path(custom: Option<&syn::Path>) -> TokenStream {
    match custom {
        Some(path) => quote!(#path),
        None => quote!(::signals_core),
    }
}
