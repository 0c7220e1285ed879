//! Parses `#[signal(response = T, sender = M, name = "...", crate = path)]`.

use syn::{DeriveInput, Ident, LitStr, Path, Type};

use crate::ctxt::Ctxt;

#[derive(Default)]
pub(crate) struct Options {
    pub(crate) response: Option<Type>,
    pub(crate) sender: Option<Ident>,
    pub(crate) name: Option<LitStr>,
    pub(crate) krate: Option<Path>,
    pub(crate) concurrent: bool,
    pub(crate) max_depth: Option<syn::LitInt>,
}

/// The options, as far as they parse; every error goes to `cx`.
pub(crate) fn options(cx: &Ctxt, input: &DeriveInput) -> Options {
    let mut options = Options::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("signal")) {
        let result = attr.parse_nested_meta(|meta| {
            let duplicate = || {
                syn::Error::new_spanned(
                    &meta.path,
                    format!(
                        "duplicate `{}` option",
                        meta.path
                            .get_ident()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    ),
                )
            };
            if meta.path.is_ident("response") {
                let ty: Type = meta.value()?.parse()?;
                if options.response.replace(ty).is_some() {
                    return Err(duplicate());
                }
            } else if meta.path.is_ident("sender") {
                let ident: Ident = meta.value()?.parse()?;
                if options.sender.replace(ident).is_some() {
                    return Err(duplicate());
                }
            } else if meta.path.is_ident("name") {
                let name: LitStr = meta.value()?.parse()?;
                if options.name.replace(name).is_some() {
                    return Err(duplicate());
                }
            } else if meta.path.is_ident("concurrent") {
                if meta.input.peek(syn::Token![=]) {
                    // `concurrent = true`: report at the value, consuming it.
                    let value: syn::Expr = meta.value()?.parse()?;
                    return Err(syn::Error::new_spanned(
                        value,
                        "`concurrent` is a flag, not a key: write `#[signal(concurrent)]` (or leave it out for one receiver at a time)",
                    ));
                }
                if std::mem::replace(&mut options.concurrent, true) {
                    return Err(duplicate());
                }
            } else if meta.path.is_ident("max_depth") {
                let depth: syn::LitInt = meta.value()?.parse()?;
                match depth.base10_parse::<usize>() {
                    Ok(n) if n > 0 => {}
                    _ => return Err(syn::Error::new(depth.span(), "`max_depth` is a positive integer")),
                }
                if options.max_depth.replace(depth).is_some() {
                    return Err(duplicate());
                }
            } else if meta.path.is_ident("crate") {
                let path = meta.value()?.call(Path::parse_mod_style)?;
                if options.krate.replace(path).is_some() {
                    return Err(duplicate());
                }
            } else {
                return Err(meta.error(
                    "unknown option; expected one of `response`, `sender`, `name`, `concurrent`, `max_depth`, `crate`",
                ));
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    options
}
