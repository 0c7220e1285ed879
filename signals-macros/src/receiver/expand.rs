//! Writes the registration: one `inventory` submission per signal.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::parse::Args;
use super::validate::Function;
use crate::krate;

pub(crate) fn receiver(args: &Args, func: &Function, tag: u64) -> TokenStream {
    let krate = krate::path(args.krate.as_ref());
    let name = &func.name;
    let priority = match &args.priority {
        Some(p) => quote!(#p),
        None => quote!(0),
    };
    // An offloaded receiver's outbox write runs in the send (in the write's transaction);
    // its job runs after the commit whatever `on =` says (`Commit` is accepted as implied).
    let phase = match &args.phase {
        Some(phase) if args.offload.is_none() => quote!(#krate::__private::Phase::#phase),
        _ => quote!(#krate::__private::Phase::Immediate),
    };
    let offload_queue = match &args.offload {
        Some(queue) => quote!(#krate::__private::Some(#queue)),
        None => quote!(#krate::__private::None),
    };
    let uid = match &args.dispatch_uid {
        Some(uid) => quote!(#krate::__private::Some(#uid)),
        None => quote!(#krate::__private::None),
    };
    let when_name = match &args.when {
        Some(when) => quote!(#krate::__private::Some(::core::stringify!(#when))),
        None => quote!(#krate::__private::None),
    };
    // Errors about the payload type point at the parameter; about the return type, at it.
    // The payload type itself, not the leading `&` (spans do not join on stable).
    let param_span = match &func.param {
        syn::Type::Reference(r) => r.elem.span(),
        other => other.span(),
    };
    let output_span = func.output.as_ref().map_or(name.span(), |o| o.span());
    // The return type as written (`()` if none), so that a wrong one is reported there
    // as `IntoResponse` not implemented, rather than as a mismatch at the attribute.
    let output = match &func.output {
        Some(ty) => quote!(#ty),
        None => quote_spanned!(output_span=> ()),
    };
    let registrations = args.signals.iter().map(|signal| {
        // Errors about the signal (not a signal, sender not accepted) point at the signal,
        // or at the sender; everything spanned here is deduplicated by rustc.
        let signal_span = args
            .sender
            .as_ref()
            .map_or(signal.span(), |sender| sender.span());
        // `krate` is spanned at the call site; an expression starting with it would be too.
        let krate = respan(krate.clone(), signal_span);
        let signal_ty = match &args.sender {
            Some(sender) => quote_spanned! {signal_span=>
                <#signal as #krate::__private::WithSender<#sender>>::Signal
            },
            None => quote!(#signal),
        };
        // One identifier for the closure parameter and its use: located at the payload type
        // (mismatches are reported there), resolved hygienically wherever the spans come from.
        let event = syn::Ident::new("event", param_span.resolved_at(Span::mixed_site()));
        let call = quote_spanned!(param_span=> #name(#event));
        let response = quote_spanned! {signal_span=>
            <#signal_ty as #krate::__private::Signal>::Response
        };
        let awaited = if func.is_async { quote_spanned!(param_span=> #call.await) } else { call };
        let respond = quote_spanned! {output_span=>
            <#output as #krate::__private::IntoResponse<#response>>::into_response(#awaited)
        };
        let line = quote_spanned!(name.span()=> ::core::line!());
        let meta = quote! {
            #krate::__private::StaticMeta {
                name: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                module: ::core::module_path!(),
                file: ::core::file!(),
                line: #line,
                priority: #priority,
                dispatch_uid: #uid,
                phase: #phase,
                when: #when_name,
                offload: #offload_queue,
            }
        };
        // `when = predicate`: called first; `false` returns the engine's "skipped" marker
        // instead of calling the function. Spanned at the predicate, so that a predicate of
        // the wrong type (not `fn(&Event) -> bool`) is reported there.
        let guard = args.when.as_ref().map(|when| {
            let when_span = when.span();
            let krate = respan(krate.clone(), when_span);
            let skipped = if func.is_async {
                quote!(#krate::__private::skipped_async())
            } else {
                quote!(#krate::__private::skipped())
            };
            // The payload again, located at the predicate (same hygiene, so the same
            // binding): a mismatch between the predicate's parameter and the payload is
            // reported at the predicate, not at the receiver's parameter.
            let event = syn::Ident::new("event", when_span.resolved_at(Span::mixed_site()));
            // A closure is called where it is written: not the user's style to lint.
            quote_spanned! {when_span=>
                #[allow(clippy::redundant_closure_call)]
                let keep: bool = (#when)(#event);
                if !keep {
                    return #skipped;
                }
            }
        });
        // The call and the closure are spanned on the signal (or sender), so that errors
        // about it point there and deduplicate; the braces keep the closure's span whole.
        let register = if let Some(queue) = &args.offload {
            return offloaded(&krate, args, func, queue, signal_ty, &event, guard, meta, signal_span);
        } else if func.is_async {
            // Unsizing to `dyn Future + Send` is where a non-`Send` future is reported: at
            // the function's name.
            let boxed = quote_spanned! {name.span()=>
                #krate::__private::Box::pin(async move { #respond }) as #krate::__private::BoxFuture<'_, _>
            };
            quote_spanned! {signal_span=>
                #krate::__private::StaticReceiver::new_async::<#signal_ty>(|#event| { #guard #boxed }, #meta)
            }
        } else {
            quote_spanned! {signal_span=>
                #krate::__private::StaticReceiver::new::<#signal_ty>(|#event| { #guard #respond }, #meta)
            }
        };
        quote! {
            #krate::__private::inventory::submit! {
                #register
            }
        }
    });
    // The registrations live in the default of a trait's associated constant rather than
    // in `const _: () = { ... };`. At module (or block) level both compile the same. Inside
    // an `impl` block, where the macro cannot tell it was put, a `const _` is an error and
    // its body a second one ("cannot find function"), whereas a trait is dropped with a
    // single "trait is not supported in `trait`s or `impl`s ... consider moving the trait
    // out to a nearby module scope", spanned here at the function's name.
    let trait_token = quote_spanned!(name.span()=> trait);
    let container =
        quote::format_ident!("__signals_receiver_{}_{:x}", name, tag, span = name.span());
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #trait_token #container {
            const REGISTER: () = {
                #(#registrations)*
            };
        }
    }
}

/// An offloaded receiver: its [`OffloadedReceiver`] (what a worker runs) and the immediate
/// async receiver that writes the job to the outbox in the send.
#[allow(clippy::too_many_arguments)]
fn offloaded(
    krate: &TokenStream,
    args: &Args,
    func: &Function,
    queue: &syn::LitStr,
    signal_ty: TokenStream,
    event: &syn::Ident,
    guard: Option<TokenStream>,
    meta: TokenStream,
    signal_span: Span,
) -> TokenStream {
    let name = &func.name;
    let job = &func.param;
    let job_span = job.span();
    // Every use of the job type is spanned at it, the crate path too, so that a parameter
    // that is not a job is one error there.
    let krate = &respan(krate.clone(), job_span);
    let retries = match &args.retries {
        Some(n) => quote!(#n),
        None => quote!(4),
    };
    let output_span = func.output.as_ref().map_or(name.span(), |o| o.span());
    let output = match &func.output {
        Some(ty) => quote!(#ty),
        None => quote_spanned!(output_span=> ()),
    };
    let called = if func.is_async {
        quote!(#name(job).await)
    } else {
        quote!(#name(job))
    };
    // Decoded and run on a worker: the job is owned, so the future is `'static`.
    let run = quote_spanned! {job_span=>
        fn run(
            payload: &str,
            delivery_id: i64,
            attempt: u32,
        ) -> #krate::__private::BoxFuture<'static, #krate::__private::Result<(), #krate::__private::BoxError>> {
            match <#job as #krate::__private::offload::OffloadJob>::decode(payload, delivery_id, attempt) {
                #krate::__private::Result::Ok(job) => #krate::__private::Box::pin(async move {
                    <#output as #krate::__private::IntoResponse<()>>::into_response(#called)
                }),
                #krate::__private::Result::Err(error) => {
                    #krate::__private::Box::pin(async move { #krate::__private::Result::Err(error) })
                }
            }
        }
    };
    // The payload is built from the event (`From<&Event>`, reported at the job type) and
    // written through the connection the event lends, if any.
    let enqueue = quote_spanned! {job_span=>
        let payload: <#job as #krate::__private::offload::OffloadJob>::Payload =
            ::core::convert::From::from(#event);
        let db = {
            #[allow(unused_imports)]
            use #krate::__private::offload::{LendDb as _, LendNone as _};
            (&#krate::__private::offload::Lend(#event)).lent()
        };
        let payload = <#job as #krate::__private::offload::OffloadJob>::encode(&payload);
        #krate::__private::Box::pin(
            #krate::__private::offload::enqueue(&OFFLOADED, payload, db)
        ) as #krate::__private::BoxFuture<'_, _>
    };
    let register = quote_spanned! {signal_span=>
        #krate::__private::StaticReceiver::new_async::<#signal_ty>(|#event| { #guard #enqueue }, #meta)
    };
    quote! {{
        #run
        static OFFLOADED: #krate::__private::offload::OffloadedReceiver =
            #krate::__private::offload::OffloadedReceiver {
                queue: #queue,
                name: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                max_attempts: #retries + 1,
                signal: <#signal_ty as #krate::__private::Signal>::NAME,
                run,
            };
        #krate::__private::inventory::submit! {
            #krate::__private::offload::OffloadedReceiver { ..OFFLOADED }
        }
        #krate::__private::inventory::submit! {
            #register
        }
    }}
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            }
            token.set_span(span);
            token
        })
        .collect()
}
