//! What `#[derive(Signal)]` emits next to its errors: a minimal signal impl, so that the
//! derive's own errors are the only ones (after thiserror's `fallback`). Without it every
//! `#[receiver(ThatSignal)]` and every `.send()` on the type would also fail with "not a
//! signal".
//!
//! The impl is built from the struct as written, whatever the mistake: every type
//! parameter is kept (bounded `'static`, as a family must be), the bodies are never run
//! (the crate does not compile), and the options are used where they parsed.

use proc_macro2::{Punct, Spacing, Span, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::{DeriveInput, GenericParam, Lifetime, LitStr};

use super::parse::Options;
use crate::krate;

pub(crate) fn signal(input: &DeriveInput, options: &Options) -> TokenStream {
    let krate = krate::path(options.krate.as_ref());
    let p = quote!(#krate::__private);
    let ident = &input.ident;
    let name = options
        .name
        .as_ref()
        .map_or_else(|| ident.to_string(), LitStr::value);
    let (response, output) = match &options.response {
        Some(ty) => (quote!(#ty), quote!(#p::Responses<#ty>)),
        None => (quote!(()), quote!(#p::Delivered)),
    };

    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!('static));
    }
    let lifetimes: Vec<&Lifetime> = input.generics.lifetimes().map(|l| &l.lifetime).collect();
    let event_lt = Lifetime::new("'__signal", Span::call_site());
    // The struct's arguments, with each lifetime replaced by `lifetime`.
    let args = |lifetime: &Lifetime| -> Vec<TokenStream> {
        input
            .generics
            .params
            .iter()
            .map(|param| match param {
                GenericParam::Lifetime(_) => quote!(#lifetime),
                GenericParam::Type(t) => {
                    let t = &t.ident;
                    quote!(#t)
                }
                GenericParam::Const(c) => {
                    let c = &c.ident;
                    quote!(#c)
                }
            })
            .collect()
    };
    let statik = Lifetime::new("'static", Span::call_site());
    let family_args = args(&statik);
    let event_args = args(&event_lt);
    // The family has no lifetime parameters: those the bounds name become `'static`.
    let family_params: Vec<TokenStream> = generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Lifetime(_) => None,
            GenericParam::Type(t) => {
                let (t, bounds) = (&t.ident, &t.bounds);
                Some(statics(quote!(#t: #bounds), &lifetimes))
            }
            GenericParam::Const(c) => {
                let (c, ty) = (&c.ident, &c.ty);
                Some(quote!(const #c: #ty))
            }
        })
        .collect();
    let family_where = generics
        .where_clause
        .as_ref()
        .map_or_else(TokenStream::new, |w| statics(quote!(#w), &lifetimes));
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let registry = format_ident!("__SIGNALS_REGISTRY_{}", ident);

    quote! {
        #[allow(non_upper_case_globals)]
        const _: () = {
            static #registry: #p::Registry = #p::Registry::new();
            impl<#(#family_params),*> #p::Family for #ident<#(#family_args),*> #family_where {
                type Event<#event_lt> = #ident<#(#event_args),*>;
                type Response = #response;
            }
            impl #impl_generics #p::Signal for #ident #ty_generics #where_clause {
                type Response = #response;
                type Family = #ident<#(#family_args),*>;
                type AnySender = #ident<#(#family_args),*>;
                type Output = #output;
                const NAME: &'static str = #name;
                fn sender_name() -> #p::Option<&'static str> {
                    #p::None
                }
                fn __registry() -> &'static #p::Registry {
                    &#registry
                }
                fn __call(&self, _: #p::Callee<'_, Self::Family>) -> #p::Result<#response, #p::BoxError> {
                    #p::unreachable!()
                }
                fn __call_async<'__s>(
                    &'__s self,
                    _: #p::AsyncCallee<'_, Self::Family>,
                ) -> #p::BoxFuture<'__s, #p::Result<#response, #p::BoxError>> {
                    #p::unreachable!()
                }
                fn __as_event<__R>(&self, _: impl ::core::ops::FnOnce(&#p::EventOf<'_, Self::Family>) -> __R) -> __R {
                    #p::unreachable!()
                }
                fn __any_view(&self) -> #p::Option<#p::EventOf<'_, Self::AnySender>> {
                    #p::unreachable!()
                }
            }
        };
    }
}

/// `tokens` with each of `lifetimes` replaced by `'static`.
fn statics(tokens: TokenStream, lifetimes: &[&Lifetime]) -> TokenStream {
    let mut out = Vec::new();
    let mut iter = tokens.into_iter().peekable();
    while let Some(token) = iter.next() {
        match token {
            TokenTree::Punct(p) if p.as_char() == '\'' => {
                if let Some(TokenTree::Ident(name)) = iter.peek()
                    && lifetimes.iter().any(|l| l.ident == *name)
                {
                    let mut quote = Punct::new('\'', Spacing::Joint);
                    quote.set_span(p.span());
                    out.push(TokenTree::Punct(quote));
                    out.push(TokenTree::Ident(syn::Ident::new("static", name.span())));
                    iter.next();
                } else {
                    out.push(TokenTree::Punct(p));
                }
            }
            TokenTree::Group(g) => {
                let mut inner =
                    proc_macro2::Group::new(g.delimiter(), statics(g.stream(), lifetimes));
                inner.set_span(g.span());
                out.push(TokenTree::Group(inner));
            }
            other => out.push(other),
        }
    }
    out.into_iter().collect()
}
