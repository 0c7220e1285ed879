//! Parses the attribute arguments: signal types first, then `key = value` pairs.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};

use crate::ctxt::Ctxt;
use syn::{Ident, LitInt, LitStr, Path, Token, Type};

pub(crate) struct Args {
    pub(crate) signals: Vec<Type>,
    pub(crate) sender: Option<Type>,
    /// An `i32` literal (range-checked here) or a constant expression such as `i32::MAX`.
    pub(crate) priority: Option<proc_macro2::TokenStream>,
    pub(crate) dispatch_uid: Option<LitStr>,
    pub(crate) krate: Option<Path>,
    /// `on = Commit`: the transaction phase.
    pub(crate) phase: Option<Ident>,
    /// `when = is_new`: a predicate on the payload (a path or a closure).
    pub(crate) when: Option<syn::Expr>,
    /// `offload = "mail"`: the queue an offloaded receiver runs on.
    pub(crate) offload: Option<LitStr>,
    /// `retries = 4` (with `offload`): attempts after the first.
    pub(crate) retries: Option<LitInt>,
}

const KEYS: &str =
    "`sender`, `priority`, `dispatch_uid`, `on`, `when`, `offload`, `retries`, `crate`";
const PHASES: [&str; 4] = ["Immediate", "Commit", "Rollback", "Completion"];
const PHASE_LIST: &str = "`on = Commit | Rollback | Completion | Immediate`";

fn is_key_value(input: ParseStream<'_>) -> bool {
    input.peek(Ident::peek_any) && input.peek2(Token![=]) && !input.peek2(Token![==])
}

/// Parses the arguments, reporting what it can go past into `cx`; an `Err` is a parse
/// error it cannot go past.
pub(crate) fn args(input: ParseStream<'_>, cx: &Ctxt) -> syn::Result<Args> {
    let mut args = Args {
        signals: Vec::new(),
        sender: None,
        priority: None,
        dispatch_uid: None,
        krate: None,
        phase: None,
        when: None,
        offload: None,
        retries: None,
    };
    let mut seen_key = false;
    while !input.is_empty() {
        if is_key_value(input) {
            seen_key = true;
            let key = Ident::parse_any(input)?;
            input.parse::<Token![=]>()?;
            let name = key.to_string();
            let duplicate = || syn::Error::new(key.span(), format!("duplicate `{name}` argument"));
            match name.as_str() {
                "sender" => {
                    if input.peek(LitStr) {
                        // Django's lazy `sender="app.User"`: here the sender is a type.
                        let lit: LitStr = input.parse()?;
                        let name = lit.value();
                        let name = name.rsplit('.').next().unwrap_or_default().trim();
                        let name = if name.is_empty() { "User" } else { name };
                        cx.syn_error(syn::Error::new(
                            lit.span(),
                            format!("`sender` is a type, not a string: write `sender = {name}`"),
                        ));
                    } else {
                        let ty: Type = input.parse()?;
                        if args.sender.replace(ty).is_some() {
                            cx.syn_error(duplicate());
                        }
                    }
                }
                "priority" => {
                    let literal =
                        input.peek(LitInt) || (input.peek(Token![-]) && input.peek2(LitInt));
                    let value = if literal {
                        quote::ToTokens::into_token_stream(parse_priority(input)?)
                    } else {
                        quote::ToTokens::into_token_stream(input.parse::<syn::Expr>()?)
                    };
                    if args.priority.replace(value).is_some() {
                        cx.syn_error(duplicate());
                    }
                }
                "dispatch_uid" => {
                    let lit: LitStr = input.parse()?;
                    if lit.value().is_empty() {
                        cx.syn_error(syn::Error::new(
                            lit.span(),
                            "`dispatch_uid` cannot be empty",
                        ));
                    }
                    if args.dispatch_uid.replace(lit).is_some() {
                        cx.syn_error(duplicate());
                    }
                }
                "on" => {
                    // `None`: a string or a path, reported by `parse_phase`.
                    match parse_phase(input, cx)? {
                            Some(phase) if !PHASES.contains(&phase.to_string().as_str()) => cx.syn_error(
                                syn::Error::new(
                                    phase.span(),
                                    format!(
                                        "unknown phase `{phase}`; expected one of `Immediate`, `Commit`, `Rollback`, `Completion`"
                                    ),
                                )),
                            Some(phase) => {
                                let previous = args.phase.replace(phase);
                                if previous.is_some() {
                                    cx.syn_error(duplicate());
                                }
                            }
                            None => {}
                        }
                }
                "when" => {
                    let expr: syn::Expr = input.parse()?;
                    if let syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(lit),
                        ..
                    }) = &expr
                    {
                        cx.syn_error(syn::Error::new(
                            lit.span(),
                            format!(
                                "`when` is a predicate, not a string: write `when = {}` (a function `fn(&Event) -> bool` or a closure)",
                                lit.value().trim()
                            ),
                        ));
                    } else if args.when.replace(expr).is_some() {
                        cx.syn_error(duplicate());
                    }
                }
                "offload" => {
                    let lit: LitStr = input.parse()?;
                    if lit.value().trim().is_empty() {
                        cx.syn_error(syn::Error::new(
                            lit.span(),
                            "`offload` names a queue: `offload = \"mail\"`",
                        ));
                    }
                    if args.offload.replace(lit).is_some() {
                        cx.syn_error(duplicate());
                    }
                }
                "retries" => {
                    let lit: LitInt = input.parse()?;
                    match lit.base10_parse::<u32>() {
                        Ok(n) if n < u32::MAX && lit.suffix().is_empty() => {}
                        _ => cx.syn_error(syn::Error::new(
                            lit.span(),
                            "`retries` is how many times a failed job runs again: an unsuffixed integer from 0",
                        )),
                    }
                    if args.retries.replace(lit).is_some() {
                        cx.syn_error(duplicate());
                    }
                }
                "crate" => {
                    let path = input.call(Path::parse_mod_style)?;
                    if args.krate.replace(path).is_some() {
                        cx.syn_error(duplicate());
                    }
                }
                _ => {
                    // Skip the value so the rest still parses.
                    let _: syn::Expr = input.parse()?;
                    cx.syn_error(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown argument `{name}`; expected a signal type or one of {KEYS}"
                        ),
                    ));
                }
            }
        } else if input.peek(syn::token::Bracket) {
            // `#[receiver([PostSave, PostDelete])]`: a Python list of signals.
            let content;
            let bracket = syn::bracketed!(content in input);
            let listed = content.parse_terminated(Type::parse, Token![,])?;
            let names: Vec<String> = listed
                .iter()
                .map(|ty| quote::ToTokens::to_token_stream(ty).to_string())
                .collect();
            let names = if names.is_empty() {
                "PostSave, PostDelete".to_owned()
            } else {
                names.join(", ")
            };
            cx.syn_error(syn::Error::new(
                bracket.span.join(),
                format!("list the signals without brackets: `#[receiver({names})]`"),
            ));
            args.signals.extend(listed);
        } else {
            let ty: Type = input.parse()?;
            if seen_key {
                cx.error_spanned_by(&ty, "signal types come before `key = value` arguments");
            }
            args.signals.push(ty);
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    if args.signals.is_empty() && !cx.has_errors() {
        cx.syn_error(syn::Error::new(
            Span::call_site(),
            "expected at least one signal: `#[receiver(PostSave, sender = User)]`",
        ));
    }
    Ok(args)
}

/// The phase after `on =`: an identifier. A string (`on = "commit"`) or a path
/// (`on = Phase::Commit`) is reported, suggesting the identifier; `None` then.
fn parse_phase(input: ParseStream<'_>, cx: &Ctxt) -> syn::Result<Option<Ident>> {
    let report = |tokens: &dyn quote::ToTokens, what: &str, wanted: Option<&str>| {
        let fix = match wanted {
            Some(phase) => format!("write `on = {phase}`; the phases are {PHASE_LIST}"),
            None => format!("write one of {PHASE_LIST}"),
        };
        cx.error_spanned_by(
            tokens,
            format!("`on` takes a phase name, not {what}: {fix}"),
        );
    };
    let known = |name: &str| {
        PHASES
            .iter()
            .find(|p| p.eq_ignore_ascii_case(name))
            .copied()
    };
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        report(&lit, "a string", known(lit.value().trim()));
        return Ok(None);
    }
    let path = input.call(Path::parse_mod_style)?;
    match path.get_ident() {
        Some(ident) => Ok(Some(ident.clone())),
        None => {
            let last = path.segments.last().map(|s| s.ident.to_string());
            let phase = last.as_deref().and_then(known);
            report(&path, "a path", phase);
            Ok(None)
        }
    }
}

/// An integer literal, optionally negative, that fits in `i32`.
fn parse_priority(input: ParseStream<'_>) -> syn::Result<LitInt> {
    let negative = input.parse::<Option<Token![-]>>()?.is_some();
    let lit: LitInt = input.parse()?;
    let text = if negative {
        format!("-{}", lit.base10_digits())
    } else {
        lit.base10_digits().to_owned()
    };
    if !lit.suffix().is_empty() && lit.suffix() != "i32" {
        return Err(syn::Error::new(
            lit.span(),
            "`priority` is an `i32`: remove the suffix",
        ));
    }
    match text.parse::<i32>() {
        Ok(_) => Ok(LitInt::new(&text, lit.span())),
        Err(_) => Err(syn::Error::new(
            lit.span(),
            "`priority` must fit in an `i32`",
        )),
    }
}
