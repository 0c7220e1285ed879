//! Parses the attribute arguments: signal types first, then `key = value` pairs.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
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
}

const KEYS: &str = "`sender`, `priority`, `dispatch_uid`, `on`, `crate`";
const PHASES: [&str; 4] = ["Immediate", "Commit", "Rollback", "Completion"];

fn is_key_value(input: ParseStream<'_>) -> bool {
    input.peek(Ident::peek_any) && input.peek2(Token![=]) && !input.peek2(Token![==])
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args {
            signals: Vec::new(),
            sender: None,
            priority: None,
            dispatch_uid: None,
            krate: None,
            phase: None,
        };
        let mut errors: Option<syn::Error> = None;
        let push = |e: syn::Error, errors: &mut Option<syn::Error>| match errors {
            Some(all) => all.combine(e),
            None => *errors = Some(e),
        };
        let mut seen_key = false;
        while !input.is_empty() {
            if is_key_value(input) {
                seen_key = true;
                let key = Ident::parse_any(input)?;
                input.parse::<Token![=]>()?;
                let name = key.to_string();
                let duplicate =
                    || syn::Error::new(key.span(), format!("duplicate `{name}` argument"));
                match name.as_str() {
                    "sender" => {
                        let ty: Type = input.parse()?;
                        if args.sender.replace(ty).is_some() {
                            push(duplicate(), &mut errors);
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
                            push(duplicate(), &mut errors);
                        }
                    }
                    "dispatch_uid" => {
                        let lit: LitStr = input.parse()?;
                        if lit.value().is_empty() {
                            push(
                                syn::Error::new(lit.span(), "`dispatch_uid` cannot be empty"),
                                &mut errors,
                            );
                        }
                        if args.dispatch_uid.replace(lit).is_some() {
                            push(duplicate(), &mut errors);
                        }
                    }
                    "on" => {
                        let phase: Ident = input.parse()?;
                        if !PHASES.contains(&phase.to_string().as_str()) {
                            push(
                                syn::Error::new(
                                    phase.span(),
                                    format!(
                                        "unknown phase `{phase}`; expected one of `Immediate`, `Commit`, `Rollback`, `Completion`"
                                    ),
                                ),
                                &mut errors,
                            );
                        } else if args.phase.replace(phase).is_some() {
                            push(duplicate(), &mut errors);
                        }
                    }
                    "crate" => {
                        let path = input.call(Path::parse_mod_style)?;
                        if args.krate.replace(path).is_some() {
                            push(duplicate(), &mut errors);
                        }
                    }
                    _ => {
                        // Skip the value so the rest still parses.
                        let _: syn::Expr = input.parse()?;
                        push(
                            syn::Error::new(
                                key.span(),
                                format!(
                                    "unknown argument `{name}`; expected a signal type or one of {KEYS}"
                                ),
                            ),
                            &mut errors,
                        );
                    }
                }
            } else {
                let ty: Type = input.parse()?;
                if seen_key {
                    push(
                        syn::Error::new_spanned(
                            &ty,
                            "signal types come before `key = value` arguments",
                        ),
                        &mut errors,
                    );
                }
                args.signals.push(ty);
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        if args.signals.is_empty() {
            push(
                syn::Error::new(
                    Span::call_site(),
                    "expected at least one signal: `#[receiver(PostSave, sender = User)]`",
                ),
                &mut errors,
            );
        }
        match errors {
            Some(e) => Err(e),
            None => Ok(args),
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
