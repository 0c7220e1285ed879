//! Checks the struct and options, producing everything the expansion needs.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, GenericParam, Ident, Lifetime, LitStr, Type, TypeParamBound};

use super::parse::Options;
use crate::ctxt::Ctxt;

pub(crate) struct Sender {
    pub(crate) ident: Ident,
    /// Bounds as written, `?Sized` included.
    pub(crate) bounds: Vec<TypeParamBound>,
    /// The default: the any-sender form.
    pub(crate) any: Type,
}

pub(crate) enum FieldKind {
    /// Copied into the any-sender view: its type must be `Copy`.
    Copy(Box<Type>),
    /// `&'a M`: coerced to `&'a Default` in the any-sender view.
    SenderRef,
    /// `PhantomData<..M..>`: rebuilt.
    Phantom,
}

pub(crate) struct Signal {
    pub(crate) ident: Ident,
    pub(crate) name: String,
    pub(crate) lifetimes: Vec<Lifetime>,
    pub(crate) sender: Option<Sender>,
    pub(crate) response: Option<Type>,
    /// Named fields (empty for a unit struct), with how the any-sender view builds them.
    pub(crate) fields: Vec<(Ident, FieldKind)>,
    pub(crate) unit: bool,
    pub(crate) krate: Option<syn::Path>,
    pub(crate) concurrent: bool,
    pub(crate) max_depth: Option<syn::LitInt>,
}

fn mentions(tokens: TokenStream, ident: &Ident) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Ident(i) => i == *ident,
        TokenTree::Group(g) => mentions(g.stream(), ident),
        _ => false,
    })
}

fn is_phantom(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "PhantomData"))
}

/// Checks the struct, reporting into `cx`; `None` if anything has been reported (the
/// options' errors included).
pub(crate) fn signal(cx: &Ctxt, input: &DeriveInput, options: &Options) -> Option<Signal> {
    let data = match &input.data {
        Data::Struct(data) => data,
        Data::Enum(e) => {
            cx.syn_error(syn::Error::new(
                e.enum_token.span(),
                "#[derive(Signal)] supports structs with named fields; an enum cannot be a signal payload",
            ));
            return None;
        }
        Data::Union(u) => {
            cx.syn_error(syn::Error::new(
                u.union_token.span(),
                "#[derive(Signal)] supports structs with named fields, not unions",
            ));
            return None;
        }
    };
    let (named, unit) = match &data.fields {
        Fields::Named(named) => (named.named.iter().collect::<Vec<_>>(), false),
        Fields::Unit => (Vec::new(), true),
        Fields::Unnamed(unnamed) => {
            cx.syn_error(syn::Error::new(
                unnamed.paren_token.span.join(),
                "#[derive(Signal)] needs named fields: the field names are the payload's arguments",
            ));
            return None;
        }
    };

    let mut lifetimes = Vec::new();
    let mut sender = None;
    let sender_misnamed = options
        .sender
        .as_ref()
        .is_some_and(|wanted| !input.generics.type_params().any(|t| t.ident == *wanted));
    for param in &input.generics.params {
        match param {
            GenericParam::Lifetime(l) => lifetimes.push(l.lifetime.clone()),
            GenericParam::Const(c) => cx.syn_error(syn::Error::new(
                c.const_token.span(),
                "a signal cannot have const parameters",
            )),
            GenericParam::Type(t) => {
                if options.sender.as_ref() != Some(&t.ident) {
                    if sender_misnamed {
                        // Reported once below, on the `sender = ...` option.
                        continue;
                    }
                    cx.syn_error(syn::Error::new(
                        t.ident.span(),
                        "a signal's only type parameter is its sender: mark it with `#[signal(sender = ...)]`, or make the field type concrete",
                    ));
                } else if let Some((_, any)) = &t.default {
                    sender = Some(Sender {
                        ident: t.ident.clone(),
                        bounds: t.bounds.iter().cloned().collect(),
                        any: any.clone(),
                    });
                } else {
                    cx.syn_error(syn::Error::new(
                        t.ident.span(),
                        format!(
                            "the sender parameter needs a default naming the any-sender form, e.g. `{}: ?Sized + Model = dyn Model`",
                            t.ident
                        ),
                    ));
                }
            }
        }
    }
    if let Some(clause) = &input.generics.where_clause {
        cx.syn_error(syn::Error::new(
            clause.where_token.span(),
            "a signal cannot have a where clause: put the bounds on the sender parameter",
        ));
    }
    if let Some(wanted) = options.sender.as_ref().filter(|_| sender_misnamed) {
        let params: Vec<String> = input
            .generics
            .type_params()
            .map(|t| format!("`{}`", t.ident))
            .collect();
        let hint = if params.is_empty() {
            "declare one, e.g. `struct Saved<'a, M: ?Sized + Model = dyn Model>`".to_owned()
        } else {
            format!("the type parameters are {}", params.join(", "))
        };
        cx.syn_error(syn::Error::new(
            wanted.span(),
            format!("`{wanted}` is not a type parameter of this struct; {hint}"),
        ));
    }

    let mut fields = Vec::new();
    for field in &named {
        let ident = field.ident.clone().expect("named field");
        let kind = match &sender {
            Some(s) if mentions(field.ty.to_token_stream(), &s.ident) => match &field.ty {
                Type::Reference(r)
                    if r.mutability.is_none()
                        && matches!(&*r.elem, Type::Path(p) if p.path.is_ident(&s.ident)) =>
                {
                    FieldKind::SenderRef
                }
                ty if is_phantom(ty) => FieldKind::Phantom,
                ty => {
                    cx.error_spanned_by(
                        ty,
                        format!(
                            "a field that mentions the sender `{0}` must be `&'a {0}` (or `PhantomData`), so that the any-sender form can view it",
                            s.ident
                        ),
                    );
                    FieldKind::Copy(Box::new(field.ty.clone()))
                }
            },
            _ => FieldKind::Copy(Box::new(field.ty.clone())),
        };
        fields.push((ident, kind));
    }

    if cx.has_errors() {
        return None;
    }
    Some(Signal {
        name: options
            .name
            .as_ref()
            .map_or_else(|| input.ident.to_string(), LitStr::value),
        ident: input.ident.clone(),
        lifetimes,
        sender,
        response: options.response.clone(),
        fields,
        unit,
        krate: options.krate.clone(),
        concurrent: options.concurrent,
        max_depth: options.max_depth.clone(),
    })
}
