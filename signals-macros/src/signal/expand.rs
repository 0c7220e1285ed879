//! Writes the `Family`, `Signal` and `WithSender` impls and the signal's registry.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Lifetime, TypeParamBound};

use super::validate::{FieldKind, Signal};
use crate::krate;

fn is_maybe_sized(bound: &TypeParamBound) -> bool {
    matches!(bound, TypeParamBound::Trait(t) if t.maybe.is_some())
}

pub(crate) fn signal(s: &Signal) -> TokenStream {
    let krate = krate::path(s.krate.as_ref());
    let p = quote!(#krate::__private);
    let ident = &s.ident;
    let name = &s.name;
    let response = match &s.response {
        Some(ty) => quote!(#ty),
        None => quote!(()),
    };
    let output = match &s.response {
        Some(syn::Type::Tuple(t)) if t.elems.is_empty() => quote!(#p::Delivered),
        None => quote!(#p::Delivered),
        Some(ty) => quote!(#p::Responses<#ty>),
    };
    let lts = &s.lifetimes;
    let statics: Vec<Lifetime> = lts
        .iter()
        .map(|_| Lifetime::new("'static", proc_macro2::Span::call_site()))
        .collect();
    let event_lt = Lifetime::new("'__signal", proc_macro2::Span::call_site());
    let event_lts: Vec<&Lifetime> = lts.iter().map(|_| &event_lt).collect();
    let x_lt = Lifetime::new("'__x", proc_macro2::Span::call_site());
    let x_lts: Vec<&Lifetime> = lts.iter().map(|_| &x_lt).collect();
    let concurrency = if s.concurrent {
        quote!(const CONCURRENCY: #p::Concurrency = #p::Concurrency::Concurrent;)
    } else {
        quote!()
    };
    let max_depth = s
        .max_depth
        .as_ref()
        .map(|depth| quote!(const MAX_DEPTH: usize = #depth;));
    let registry = format_ident!("__SIGNALS_REGISTRY_{}", ident);

    // Methods shared by every Signal impl of this struct.
    let common = quote! {
        type Response = #response;
        type Output = #output;
        const NAME: &'static str = #name;
        fn __registry() -> &'static #p::Registry {
            &#registry
        }
        #concurrency
        #max_depth
        #[inline(always)]
        fn __call(&self, receiver: #p::Callee<'_, Self::Family>) -> #p::Result<#response, #p::BoxError> {
            receiver.call(self)
        }
        #[inline(always)]
        fn __as_event<__R>(&self, f: impl ::core::ops::FnOnce(&#p::EventOf<'_, Self::Family>) -> __R) -> __R {
            f(self)
        }
        #[inline(always)]
        fn __call_async<'__s>(
            &'__s self,
            receiver: #p::AsyncCallee<'_, Self::Family>,
        ) -> #p::BoxFuture<'__s, #p::Result<#response, #p::BoxError>> {
            receiver.call(self)
        }
    };
    let no_view = quote! {
        #[inline(always)]
        fn __any_view(&self) -> #p::Option<#p::EventOf<'_, Self::AnySender>> {
            #p::None
        }
    };

    let body = match &s.sender {
        None => quote! {
            impl #p::Family for #ident<#(#statics),*> {
                type Event<#event_lt> = #ident<#(#event_lts),*>;
                type Response = #response;
            }
            impl<#(#lts),*> #p::Signal for #ident<#(#lts),*> {
                type Family = #ident<#(#statics),*>;
                type AnySender = #ident<#(#statics),*>;
                #common
                fn sender_name() -> #p::Option<&'static str> {
                    #p::None
                }
                #no_view
            }
        },
        Some(sender) => {
            let m = &sender.ident;
            let any = &sender.any;
            let all_bounds = &sender.bounds;
            let sized_bounds: Vec<&TypeParamBound> = sender
                .bounds
                .iter()
                .filter(|b| !is_maybe_sized(b))
                .collect();
            // The other fields are copied into the view, each through a trait of its own
            // whose diagnostic names the field when its type is not `Copy` (instead of a
            // "cannot move out of `self.x`" in code the user never wrote).
            let copy_checks = s.fields.iter().filter_map(|(field, kind)| {
                let FieldKind::Copy(_) = kind else {
                    return None;
                };
                let check = format_ident!("__SignalsCopyField_{}", field);
                let message = format!(
                    "field `{field}` of `{ident}` must be `Copy`: the any-sender view of a sender-generic signal copies it"
                );
                let note = format!(
                    "make `{field}`'s type `Copy`, borrow it (`{field}: &'a {{Self}}`; `&'a str` for a `String`), or drop `sender = {}` if receivers need not filter by sender",
                    sender.ident
                );
                Some(quote! {
                    #[diagnostic::on_unimplemented(message = #message, label = "not `Copy`", note = #note)]
                    trait #check {
                        fn __copy(&self) -> Self;
                    }
                    #[diagnostic::do_not_recommend]
                    impl<__T: ::core::marker::Copy> #check for __T {
                        #[inline(always)]
                        fn __copy(&self) -> Self {
                            *self
                        }
                    }
                })
            });
            let copy_checks: Vec<TokenStream> = copy_checks.collect();
            let view_fields = s.fields.iter().map(|(field, kind)| match kind {
                FieldKind::Copy(ty) => {
                    let check = format_ident!("__SignalsCopyField_{}", field);
                    let qualified = quote_spanned!(ty.span()=> <#ty as #check>);
                    quote!(#field: #qualified::__copy(&self.#field))
                }
                FieldKind::SenderRef => quote!(#field: self.#field),
                FieldKind::Phantom => quote!(#field: #p::PhantomData),
            });
            let view = if s.unit {
                quote!(#ident)
            } else {
                quote!(#ident { #(#view_fields),* })
            };
            quote! {
                #(#copy_checks)*
                impl<#m: #(#all_bounds +)* 'static> #p::Family for #ident<#(#statics,)* #m> {
                    type Event<#event_lt> = #ident<#(#event_lts,)* #m>;
                    type Response = #response;
                }
                impl<#(#lts,)* #m: #(#sized_bounds +)* 'static> #p::Signal for #ident<#(#lts,)* #m> {
                    type Family = #ident<#(#statics,)* #m>;
                    type AnySender = #ident<#(#statics,)* #any>;
                    #common
                    fn sender_name() -> #p::Option<&'static str> {
                        #p::Some(#p::type_name::<#m>())
                    }
                    #[inline(always)]
                    fn __any_view(&self) -> #p::Option<#p::EventOf<'_, Self::AnySender>> {
                        #p::Some(#view)
                    }
                }
                impl<#(#lts),*> #p::Signal for #ident<#(#lts,)* #any> {
                    type Family = #ident<#(#statics,)* #any>;
                    type AnySender = #ident<#(#statics,)* #any>;
                    #common
                    fn sender_name() -> #p::Option<&'static str> {
                        #p::None
                    }
                    #no_view
                }
                impl<#(#lts,)* #m: #(#sized_bounds +)* 'static> #p::WithSender<#m> for #ident<#(#lts,)* #any> {
                    type Signal = #ident<#(#lts,)* #m>;
                }
                // `Signal::connect` and friends, with the sender inferred from the closure:
                // `#ident::connect(|e: &#ident<'_, User>| ..)` (no `::<User>` needed) and
                // `#ident::connect(|e: &#ident<'_>| ..)` (any sender) both compile. Rust
                // applies no default type parameter in expression position, so the trait's
                // methods alone cannot tell the sender; these inherent ones take it from the
                // closure's parameter and call them.
                impl<#(#lts,)* #m: #(#all_bounds +)* 'static> #ident<#(#lts,)* #m> {
                    /// [`Signal::connect`](::signals_core::Signal::connect), with the sender
                    /// taken from the closure's parameter type.
                    #[track_caller]
                    pub fn connect<__O, __H>(handler: __H) -> #p::Connection
                    where
                        for<'__x> #ident<#(#x_lts,)* #m>: #p::Signal<Family = #ident<#(#statics,)* #m>, Response = #response>,
                        __H: for<'__b, '__x> ::core::ops::Fn(&'__b #ident<#(#x_lts,)* #m>) -> __O + ::core::marker::Send + ::core::marker::Sync + 'static,
                        __O: #p::IntoResponse<#response>,
                    {
                        let options = #p::ConnectOptions::new().__default_name(#p::type_name::<__H>());
                        match <#ident<#(#statics,)* #m> as #p::Signal>::connect_with(
                            options,
                            move |event: &#p::EventOf<'_, #ident<#(#statics,)* #m>>| handler(event),
                        ) {
                            #p::Result::Ok(connection) => connection,
                            #p::Result::Err(_) => #p::unreachable!("no dispatch_uid: nothing to refuse"),
                        }
                    }

                    /// [`Signal::connect_with`](::signals_core::Signal::connect_with), with
                    /// the sender taken from the closure's parameter type.
                    #[track_caller]
                    pub fn connect_with<__O, __H>(
                        options: #p::ConnectOptions,
                        handler: __H,
                    ) -> #p::Result<#p::Connection, #p::ConnectError>
                    where
                        for<'__x> #ident<#(#x_lts,)* #m>: #p::Signal<Family = #ident<#(#statics,)* #m>, Response = #response>,
                        __H: for<'__b, '__x> ::core::ops::Fn(&'__b #ident<#(#x_lts,)* #m>) -> __O + ::core::marker::Send + ::core::marker::Sync + 'static,
                        __O: #p::IntoResponse<#response>,
                    {
                        <#ident<#(#statics,)* #m> as #p::Signal>::connect_with(
                            options.__default_name(#p::type_name::<__H>()),
                            move |event: &#p::EventOf<'_, #ident<#(#statics,)* #m>>| handler(event),
                        )
                    }

                    /// [`Signal::connect_async`](::signals_core::Signal::connect_async), with
                    /// the sender taken from the closure's parameter type.
                    #[track_caller]
                    pub fn connect_async<__O, __H>(handler: __H) -> #p::Connection
                    where
                        for<'__x> #ident<#(#x_lts,)* #m>: #p::Signal<Family = #ident<#(#statics,)* #m>, Response = #response>,
                        __H: for<'__b, '__x> ::core::ops::Fn(&'__b #ident<#(#x_lts,)* #m>) -> #p::BoxFuture<'__b, __O> + ::core::marker::Send + ::core::marker::Sync + 'static,
                        __O: #p::IntoResponse<#response> + 'static,
                    {
                        let options = #p::ConnectOptions::new().__default_name(#p::type_name::<__H>());
                        match <#ident<#(#statics,)* #m> as #p::Signal>::connect_async_with(
                            options,
                            move |event: &#p::EventOf<'_, #ident<#(#statics,)* #m>>| handler(event),
                        ) {
                            #p::Result::Ok(connection) => connection,
                            #p::Result::Err(_) => #p::unreachable!("no dispatch_uid: nothing to refuse"),
                        }
                    }

                    /// [`Signal::connect_async_with`](::signals_core::Signal::connect_async_with),
                    /// with the sender taken from the closure's parameter type.
                    #[track_caller]
                    pub fn connect_async_with<__O, __H>(
                        options: #p::ConnectOptions,
                        handler: __H,
                    ) -> #p::Result<#p::Connection, #p::ConnectError>
                    where
                        for<'__x> #ident<#(#x_lts,)* #m>: #p::Signal<Family = #ident<#(#statics,)* #m>, Response = #response>,
                        __H: for<'__b, '__x> ::core::ops::Fn(&'__b #ident<#(#x_lts,)* #m>) -> #p::BoxFuture<'__b, __O> + ::core::marker::Send + ::core::marker::Sync + 'static,
                        __O: #p::IntoResponse<#response> + 'static,
                    {
                        <#ident<#(#statics,)* #m> as #p::Signal>::connect_async_with(
                            options.__default_name(#p::type_name::<__H>()),
                            move |event: &#p::EventOf<'_, #ident<#(#statics,)* #m>>| handler(event),
                        )
                    }
                }
            }
        }
    };

    quote! {
        #[allow(non_upper_case_globals, non_camel_case_types)]
        const _: () = {
            static #registry: #p::Registry = #p::Registry::new();
            #body
        };
    }
}
