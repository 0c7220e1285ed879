//! Checks that the item is a function `#[receiver]` can register.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, PathArguments, ReturnType, Type, TypeParamBound};

use super::parse::Args;
use crate::ctxt::Ctxt;

/// Names of Django's receiver keyword arguments (`def f(sender, instance, created, **kwargs)`).
const DJANGO_KWARGS: &[&str] = &[
    "sender",
    "instance",
    "created",
    "raw",
    "using",
    "update_fields",
    "origin",
    "action",
    "pk_set",
    "model",
    "reverse",
    "request",
    "user",
    "kwargs",
];

/// The parts of a valid receiver function the expansion needs.
pub(crate) struct Function {
    pub(crate) name: syn::Ident,
    /// The type of the payload parameter (a reference).
    pub(crate) param: Type,
    /// The declared return type (`None` for `()`).
    pub(crate) output: Option<Type>,
    pub(crate) is_async: bool,
}

/// Checks the function, reporting into `cx`; `None` if anything has been reported. `args`
/// (when they parsed without errors) only improve the hints; `offloaded` (`offload = ..`)
/// means the parameter is the job, by value.
pub(crate) fn function(
    cx: &Ctxt,
    item: TokenStream,
    args: Option<&Args>,
    offloaded: bool,
) -> Option<Function> {
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
            cx.syn_error(syn::Error::new(
                span,
                "#[receiver] applies to free functions: `fn handler(event: &Signal) { ... }`",
            ));
            return None;
        }
    };
    let sig = &func.sig;
    if let Some(t) = &sig.constness {
        cx.syn_error(syn::Error::new(
            t.span(),
            "a receiver cannot be a `const fn`",
        ));
    }
    if let syn::Safety::Unsafe(t) = &sig.safety {
        cx.syn_error(syn::Error::new(
            t.span(),
            "a receiver cannot be `unsafe`: the dispatcher calls it from safe code",
        ));
    }
    if let Some(abi) = &sig.abi {
        cx.syn_error(syn::Error::new(
            abi.span(),
            "a receiver cannot declare an ABI",
        ));
    }
    if let Some(v) = &sig.variadic {
        cx.syn_error(syn::Error::new(v.span(), "a receiver cannot be variadic"));
    }
    let generics = &sig.generics;
    if let Some(param) = generics.type_params().next() {
        cx.error_spanned_by(
            param,
            "a receiver cannot be generic: write one receiver per signal, or take `&dyn Trait`",
        );
    } else if let Some(param) = generics.const_params().next() {
        cx.syn_error(syn::Error::new(
            param.span(),
            "a receiver cannot have const parameters",
        ));
    }
    if let Some(clause) = &generics.where_clause {
        cx.syn_error(syn::Error::new(
            clause.where_token.span(),
            "a receiver cannot have a where clause",
        ));
    }
    let mut param = None;
    let has_self = sig
        .inputs
        .iter()
        .any(|arg| matches!(arg, FnArg::Receiver(_)));
    let kwargs = !has_self && sig.inputs.len() > 1 && sig.inputs.iter().any(is_django_kwarg);
    if kwargs {
        cx.syn_error(syn::Error::new(
            sig.paren_token.span.join(),
            kwargs_hint(sig, args),
        ));
    }
    for (i, arg) in sig.inputs.iter().enumerate() {
        match arg {
            // `self` is reported; the parameters after it are not extra ones.
            FnArg::Typed(_) if has_self => {}
            FnArg::Receiver(r) => cx.syn_error(syn::Error::new(
                r.self_token.span(),
                "#[receiver] applies to free functions, not methods: move it out of the impl block",
            )),
            // Reported as a whole above.
            FnArg::Typed(_) if kwargs => {}
            // An offloaded receiver runs on a worker with its job (`Job<T>`), owned.
            FnArg::Typed(typed) if i == 0 && offloaded => {
                if let Type::Reference(r) = &*typed.ty {
                    cx.error_spanned_by(
                        r,
                        "an offloaded receiver runs on a worker and takes its job by value, not the event: write `job: signals_offload::Job<T>`",
                    );
                } else {
                    param = Some((*typed.ty).clone());
                }
            }
            FnArg::Typed(typed) if i == 0 => {
                if let Type::Reference(r) = &*typed.ty {
                    if let Some(m) = &r.mutability {
                        cx.syn_error(syn::Error::new(
                            m.span(),
                            "receivers get the payload by shared reference: remove `mut`",
                        ));
                    } else if let Some(e) = static_payload(r) {
                        cx.syn_error(e);
                    } else {
                        param = Some((*typed.ty).clone());
                    }
                } else {
                    cx.error_spanned_by(
                        &typed.ty,
                        "receivers get the payload by reference: write `&Payload`",
                    );
                }
            }
            FnArg::Typed(typed) => {
                cx.error_spanned_by(typed, "a receiver takes exactly one parameter, the payload")
            }
        }
    }
    if let ReturnType::Type(_, ty) = &sig.output
        && let Some(e) = unsendable_box_error(ty)
    {
        cx.syn_error(e);
    }
    if sig.inputs.is_empty() {
        cx.syn_error(syn::Error::new(
            sig.paren_token.span.join(),
            "a receiver takes one parameter, the payload: `fn handler(event: &Signal)`",
        ));
    }
    if cx.has_errors() {
        return None;
    }
    Some(Function {
        name: sig.ident.clone(),
        param: param.expect("checked above"),
        is_async: sig.asyncness.is_some(),
        output: match &sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => Some((**ty).clone()),
        },
    })
}

/// Whether a parameter is named like one of Django's keyword arguments.
fn is_django_kwarg(arg: &FnArg) -> bool {
    match arg {
        FnArg::Typed(typed) => match &*typed.pat {
            syn::Pat::Ident(p) => {
                let name = p.ident.to_string();
                DJANGO_KWARGS.contains(&name.trim_start_matches('_'))
            }
            _ => false,
        },
        FnArg::Receiver(_) => false,
    }
}

/// The one-parameter form for Django's `fn f(instance: &User, created: bool)`.
fn kwargs_hint(sig: &syn::Signature, args: Option<&Args>) -> String {
    let names: Vec<(String, &Type)> = sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => match &*typed.pat {
                syn::Pat::Ident(p) => Some((
                    p.ident.to_string().trim_start_matches('_').to_owned(),
                    &*typed.ty,
                )),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect();
    let signal = args
        .and_then(|a| a.signals.first())
        .map_or_else(|| "PostSave".to_owned(), tokens);
    // The sender: `sender = ...`, else the type `instance` refers to.
    let sender = args
        .and_then(|a| a.sender.as_ref())
        .map(tokens)
        .or_else(|| {
            names
                .iter()
                .find(|(n, _)| n == "instance")
                .map(|(_, ty)| match ty {
                    Type::Reference(r) => tokens(&r.elem),
                    other => tokens(other),
                })
        });
    let payload = match sender {
        Some(sender) => format!("&{signal}<'_, {sender}>"),
        None => format!("&{signal}<'_>"),
    };
    let fields: Vec<String> = names
        .iter()
        .filter(|(n, _)| !matches!(n.as_str(), "sender" | "signal" | "kwargs" | "event" | ""))
        .map(|(n, _)| format!("`event.{n}`"))
        .collect();
    let read = if fields.is_empty() {
        String::new()
    } else {
        format!(", and read {}", fields.join(", "))
    };
    format!(
        "a receiver takes one parameter, the whole payload, not Django's keyword arguments: write `fn {}(event: {payload})`{read}",
        sig.ident
    )
}

/// `&Signal<'static>` (or `&'static Signal`): the payload only lives for the send.
fn static_payload(r: &syn::TypeReference) -> Option<syn::Error> {
    let is_static = |l: &syn::Lifetime| l.ident == "static";
    if let Type::Path(p) = &*r.elem
        && let Some(last) = p.path.segments.last()
        && let PathArguments::AngleBracketed(generics) = &last.arguments
    {
        for arg in &generics.args {
            if let GenericArgument::Lifetime(l) = arg
                && is_static(l)
            {
                let written = tokens(&r.elem).replace("'static", "'_");
                return Some(syn::Error::new(
                    l.span(),
                    format!(
                        "the payload borrows for the send only: write `&{written}`, not `'static`"
                    ),
                ));
            }
        }
    }
    match &r.lifetime {
        Some(l) if is_static(l) => Some(syn::Error::new(
            l.span(),
            format!(
                "the payload is lent for the send only: write `&{}`, not `&'static`",
                tokens(&r.elem)
            ),
        )),
        _ => None,
    }
}

/// `Result<_, Box<dyn Error>>` without `Send + Sync`: it cannot become a `BoxError`.
fn unsendable_box_error(ty: &Type) -> Option<syn::Error> {
    let error = last_args(ty, "Result").and_then(|args| args.get(1).copied())?;
    let object = last_args(error, "Box").and_then(|args| args.first().copied())?;
    let Type::TraitObject(object) = object else {
        return None;
    };
    let has = |name: &str| {
        object.bounds.iter().any(|b| {
            matches!(b, TypeParamBound::Trait(t)
                if t.path.segments.last().is_some_and(|s| s.ident == name))
        })
    };
    if has("Send") && has("Sync") {
        return None;
    }
    Some(syn::Error::new_spanned(
        object,
        "a receiver's boxed error must be `Send + Sync`: write `Box<dyn Error + Send + Sync>` (or return any `E: Into<BoxError>`, such as your error type or `anyhow::Error`)",
    ))
}

/// The type arguments of `ty` if its last path segment is `name`.
fn last_args<'t>(ty: &'t Type, name: &str) -> Option<Vec<&'t Type>> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last().filter(|s| s.ident == name)?;
    let PathArguments::AngleBracketed(generics) = &last.arguments else {
        return None;
    };
    Some(
        generics
            .args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
    )
}

/// Checks of the arguments against the function: the sender, and what `offload` allows.
pub(crate) fn combination(cx: &Ctxt, args: &Args, func: &Function) {
    if let (Some(retries), None) = (&args.retries, &args.offload) {
        cx.syn_error(syn::Error::new(
            retries.span(),
            "`retries` applies to offloaded receivers: add `offload = \"queue\"`",
        ));
    }
    if let Some(queue) = &args.offload {
        if args.signals.len() > 1 {
            cx.error_spanned_by(
                &args.signals[1],
                "an offloaded receiver receives one signal: declare one offloaded receiver per signal",
            );
        }
        if let Some(phase) = &args.phase
            && phase != "Commit"
            && phase != "Immediate"
        {
            cx.syn_error(syn::Error::new(
                phase.span(),
                format!(
                    "an offloaded receiver runs after the commit (its job is written in the transaction and relayed once it commits): `on = {phase}` cannot be offloaded to {:?}",
                    queue.value()
                ),
            ));
        }
        return;
    }
    if let Some(Type::TraitObject(object)) = &args.sender {
        cx.error_spanned_by(
            object,
            format!(
                "`{}` is the any-sender form: omit `sender = ...` to receive every sender",
                tokens(object)
            ),
        );
    }
    if args.sender.is_none()
        && let Type::Reference(r) = &func.param
        && let Type::Path(p) = &*r.elem
        && let Some(last) = p.path.segments.last()
        && args.signals.iter().any(|s| {
            matches!(s, Type::Path(sp) if sp.path.segments.last().is_some_and(|l| l.ident == last.ident))
        })
        && let PathArguments::AngleBracketed(generics) = &last.arguments
        && let Some(sender) = generics.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) if !matches!(t, Type::TraitObject(_) | Type::Infer(_)) => Some(t),
            _ => None,
        })
    {
        let signal = &last.ident;
        let sender_text = tokens(sender);
        cx.error_spanned_by(
            sender,
            format!(
                "this receiver has no `sender =`, so it gets `{signal}` from every sender; to receive only `{sender_text}`'s, add it: `#[receiver({signal}, sender = {sender_text})]`"
            ),
        );
    }
}

/// Tokens as text, without the spaces `TokenStream`'s `Display` puts around punctuation.
fn tokens(t: &impl ToTokens) -> String {
    let text = t.to_token_stream().to_string();
    text.replace(" < ", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" , ", ", ")
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace("& ", "&")
        .replace("' _", "'_")
}
