//! Checks that the item is a function `#[receiver]` can register.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Type};

/// The parts of a valid receiver function the expansion needs.
pub(crate) struct Function {
    pub(crate) name: syn::Ident,
    /// The type of the payload parameter (a reference).
    pub(crate) param: Type,
    /// The declared return type (`None` for `()`).
    pub(crate) output: Option<Type>,
    pub(crate) is_async: bool,
}

pub(crate) fn function(item: TokenStream) -> syn::Result<Function> {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let span = item
                .into_iter()
                .find(|t| !matches!(t, proc_macro2::TokenTree::Punct(_)))
                .map(|t| match t {
                    proc_macro2::TokenTree::Group(g) => g.span_open(),
                    other => other.span(),
                })
                .unwrap_or_else(proc_macro2::Span::call_site);
            return Err(syn::Error::new(
                span,
                "#[receiver] applies to free functions: `fn handler(event: &Signal) { ... }`",
            ));
        }
    };
    let sig = &func.sig;
    let mut errors: Vec<syn::Error> = Vec::new();
    if let Some(t) = &sig.constness {
        errors.push(syn::Error::new(
            t.span(),
            "a receiver cannot be a `const fn`",
        ));
    }
    if let syn::Safety::Unsafe(t) = &sig.safety {
        errors.push(syn::Error::new(
            t.span(),
            "a receiver cannot be `unsafe`: the dispatcher calls it from safe code",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new(
            abi.span(),
            "a receiver cannot declare an ABI",
        ));
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new(v.span(), "a receiver cannot be variadic"));
    }
    let generics = &sig.generics;
    if let Some(param) = generics.type_params().next() {
        errors.push(syn::Error::new_spanned(
            param,
            "a receiver cannot be generic: write one receiver per signal, or take `&dyn Trait`",
        ));
    } else if let Some(param) = generics.const_params().next() {
        errors.push(syn::Error::new(
            param.span(),
            "a receiver cannot have const parameters",
        ));
    }
    if let Some(clause) = &generics.where_clause {
        errors.push(syn::Error::new(
            clause.where_token.span(),
            "a receiver cannot have a where clause",
        ));
    }
    let mut param = None;
    let has_self = sig
        .inputs
        .iter()
        .any(|arg| matches!(arg, FnArg::Receiver(_)));
    for (i, arg) in sig.inputs.iter().enumerate() {
        match arg {
            // `self` is reported; the parameters after it are not extra ones.
            FnArg::Typed(_) if has_self => {}
            FnArg::Receiver(r) => errors.push(syn::Error::new(
                r.self_token.span(),
                "#[receiver] applies to free functions, not methods: move it out of the impl block",
            )),
            FnArg::Typed(typed) if i == 0 => {
                if let Type::Reference(r) = &*typed.ty {
                    if let Some(m) = &r.mutability {
                        errors.push(syn::Error::new(
                            m.span(),
                            "receivers get the payload by shared reference: remove `mut`",
                        ));
                    } else {
                        param = Some((*typed.ty).clone());
                    }
                } else {
                    errors.push(syn::Error::new_spanned(
                        &typed.ty,
                        "receivers get the payload by reference: write `&Payload`",
                    ));
                }
            }
            FnArg::Typed(typed) => errors.push(syn::Error::new_spanned(
                typed,
                "a receiver takes exactly one parameter, the payload",
            )),
        }
    }
    if sig.inputs.is_empty() {
        errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            "a receiver takes one parameter, the payload: `fn handler(event: &Signal)`",
        ));
    }
    if let Some(all) = crate::combine(errors) {
        return Err(all);
    }
    Ok(Function {
        name: sig.ident.clone(),
        param: param.expect("checked above"),
        is_async: sig.asyncness.is_some(),
        output: match &sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => Some((**ty).clone()),
        },
    })
}
