//! Writes the registration: one `inventory` submission per signal.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::parse::Args;
use super::validate::Function;
use crate::krate;

pub(crate) fn receiver(args: &Args, func: &Function) -> TokenStream {
    let krate = krate::path(args.krate.as_ref());
    let name = &func.name;
    let priority = match &args.priority {
        Some(p) => quote!(#p),
        None => quote!(0),
    };
    let uid = match &args.dispatch_uid {
        Some(uid) => quote!(#krate::__private::Some(#uid)),
        None => quote!(#krate::__private::None),
    };
    // Errors about the payload type point at the parameter; about the return type, at it.
    let param_span = func.param.span();
    let output_span = func.output.as_ref().map_or(name.span(), |o| o.span());
    let registrations = args.signals.iter().map(|signal| {
        let signal_ty = match &args.sender {
            Some(sender) => quote_spanned! {sender.span()=>
                <#signal as #krate::__private::WithSender<#sender>>::Signal
            },
            None => quote!(#signal),
        };
        let call = quote_spanned!(param_span=> #name(event));
        let (constructor, thunk) = if func.is_async {
            let respond = quote_spanned! {output_span=>
                #krate::__private::IntoResponse::into_response(#call.await)
            };
            // Unsizing to `dyn Future + Send` is where a non-`Send` future is reported.
            let boxed = quote_spanned! {name.span()=>
                #krate::__private::Box::pin(async move { #respond }) as #krate::__private::BoxFuture<'_, _>
            };
            (quote!(new_async), quote!(|event| #boxed))
        } else {
            let respond = quote_spanned! {output_span=>
                #krate::__private::IntoResponse::into_response(#call)
            };
            (quote!(new), quote!(|event| #respond))
        };
        let line = quote_spanned!(name.span()=> ::core::line!());
        quote! {
            #krate::__private::inventory::submit! {
                #krate::__private::StaticReceiver::#constructor::<#signal_ty>(
                    #thunk,
                    #krate::__private::StaticMeta {
                        name: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                        module: ::core::module_path!(),
                        file: ::core::file!(),
                        line: #line,
                        priority: #priority,
                        dispatch_uid: #uid,
                    },
                )
            }
        }
    });
    quote! {
        const _: () = {
            #(#registrations)*
        };
    }
}
