//! Expansion of `#[leak_tests]`: every `#[test]` of an inline module becomes a leak test.
//!
//! The module is walked once, nested inline modules included. A `#[test]` (or, with the `tokio`
//! feature, a bare `#[tokio::test]`) function loses that attribute and goes through the same
//! `expand` as `#[leak_test]`, with the module's arguments. Everything else is streamed back as
//! written: helpers, `use`, consts, functions that carry their own `#[leak_test]`, modules that
//! carry their own `#[leak_tests]`, and whatever `#[leakproof::skip]` or `exclude = [...]` names.
//! As with `#[leak_test]`, nothing vanishes on an error: the module is emitted (a test that cannot
//! be converted stays as written) beside a `compile_error!`.

use proc_macro2::{Ident, TokenStream};
use quote::{quote, ToTokens};
use syn::{Attribute, Item, ItemFn, ItemMod, Meta, Path};

use crate::entry::{check_signature, expand, Config, Errors, TestFn};

/// Expands `#[leak_tests(args)] item`. `tokio` says whether leakproof's `tokio` feature is on.
pub(crate) fn leak_tests(args: TokenStream, item: TokenStream, tokio: bool) -> TokenStream {
    let (config, mut errors) = Config::parse_lenient(args, true);
    let mut module = match syn::parse2::<ItemMod>(item.clone()) {
        Ok(module) => module,
        Err(error) => {
            // Another item: say so. A module that does not parse: the compiler says where.
            match syn::parse2::<Item>(item.clone()) {
                Ok(other) => errors.push(syn::Error::new_spanned(
                    head_of(&other),
                    "#[leak_tests] applies only to inline modules: `mod tests { ... }`; for one \
                     function, use #[leak_test]",
                )),
                Err(_) => errors.push(error),
            }
            return with_errors(item, errors);
        }
    };
    let Some((_, items)) = &mut module.content else {
        let (vis, mod_token, ident, semi) =
            (&module.vis, &module.mod_token, &module.ident, &module.semi);
        errors.push(syn::Error::new_spanned(
            quote!(#vis #mod_token #ident #semi),
            format!(
                "#[leak_tests] needs the tests written inline, `mod {ident} {{ ... }}`: on \
                 `mod {ident};` it sees only this line, not the file, and the inner form \
                 `#![leakproof::leak_tests]` at the top of that file is not stable Rust; move the \
                 tests inline, or write #[leakproof::leak_test] on each test in the file"
            ),
        ));
        return with_errors(item, errors);
    };
    let mut walk = Walk {
        config: &config,
        tokio,
        errors,
        excluded: config.exclude.iter().map(|path| (path, false)).collect(),
    };
    walk.items(items, &[]);
    walk.report_unused_excludes();
    with_errors(module.into_token_stream(), walk.errors)
}

/// The expansion, then every error.
fn with_errors(mut tokens: TokenStream, errors: Errors) -> TokenStream {
    if let Some(error) = errors.0 {
        tokens.extend(error.to_compile_error());
    }
    tokens
}

/// The first tokens of an item that is not a module, to point at (`fn f`, `struct S`, ...).
fn head_of(item: &Item) -> TokenStream {
    match item {
        Item::Fn(f) => {
            let (fn_token, ident) = (&f.sig.fn_token, &f.sig.ident);
            quote!(#fn_token #ident)
        }
        other => other.to_token_stream().into_iter().take(2).collect(),
    }
}

/// The state of one walk over the module.
struct Walk<'a> {
    config: &'a Config,
    tokio: bool,
    errors: Errors,
    /// Each `exclude` entry and whether it matched a test or module.
    excluded: Vec<(&'a Path, bool)>,
}

/// What a function's attributes make of it.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// Not a test: left alone.
    NotATest,
    /// Carries its own `#[leak_test]`: left alone, it keeps its own options.
    OwnLeakTest,
    /// `#[test]` at this index of the attributes.
    Test(usize),
    /// `#[tokio::test]` at this index.
    Tokio(usize),
    /// Another runner's `...::test` at this index: cannot be converted.
    Foreign(usize),
}

impl Walk<'_> {
    fn items(&mut self, items: &mut [Item], prefix: &[Ident]) {
        for item in items {
            match item {
                Item::Fn(function) => {
                    if let Some(converted) = self.function(function, prefix) {
                        *item = Item::Verbatim(converted);
                    }
                }
                Item::Mod(module) => self.module(module, prefix),
                _ => {}
            }
        }
    }

    fn module(&mut self, module: &mut ItemMod, prefix: &[Ident]) {
        let skipped = take_skip(&mut module.attrs);
        let path = joined(prefix, &module.ident);
        if self.is_excluded(&path) || skipped || has_own(&module.attrs, "leak_tests") {
            return;
        }
        match &mut module.content {
            Some((_, items)) => self.items(items, &path),
            None => {
                let (mod_token, ident, semi) = (&module.mod_token, &module.ident, &module.semi);
                self.errors.push(syn::Error::new_spanned(
                    quote!(#mod_token #ident #semi),
                    format!(
                        "`mod {ident};` cannot be inside a #[leak_tests] module: Rust does not \
                         load a module's file from inside an attribute macro's input (E0658), so \
                         its tests could not be seen either; declare it outside this module, or \
                         write its tests inline"
                    ),
                ));
            }
        }
    }

    /// The leak test `function` becomes, or `None` to leave it as written.
    fn function(&mut self, function: &mut ItemFn, prefix: &[Ident]) -> Option<TokenStream> {
        let skipped = take_skip(&mut function.attrs);
        let path = joined(prefix, &function.sig.ident);
        if self.is_excluded(&path) || skipped {
            return None;
        }
        let (index, what) = match kind(&function.attrs) {
            Kind::NotATest | Kind::OwnLeakTest => return None,
            Kind::Test(index) => (index, "#[test]"),
            Kind::Tokio(index) => {
                let attr = &function.attrs[index];
                self.check_tokio(attr, function.sig.asyncness.is_some())?;
                (index, "#[tokio::test]")
            }
            Kind::Foreign(index) => {
                let attr = &function.attrs[index];
                let written = attr.path().to_token_stream().to_string().replace(' ', "");
                self.errors.push(syn::Error::new_spanned(
                    attr,
                    format!(
                        "#[{written}] is not a test #[leak_tests] can repeat (only #[test] and \
                         #[tokio::test] become leak tests): mark it #[leakproof::skip] to keep it \
                         a plain test"
                    ),
                ));
                return None;
            }
        };
        let mut stripped = function.clone();
        stripped.attrs.remove(index);
        let func = syn::parse2::<TestFn>(stripped.into_token_stream()).ok()?;
        match check_signature(&func) {
            Ok(()) => Some(expand(&func, self.config)),
            Err(error) => {
                for error in error {
                    self.errors.push(syn::Error::new(
                        error.span(),
                        format!(
                            "{error}; this {what} becomes a leak test through #[leak_tests] on \
                             its module: fix it, or mark it #[leakproof::skip] to keep it a plain \
                             test"
                        ),
                    ));
                }
                None
            }
        }
    }

    /// `Some(())` when `#[tokio::test]` can become an async leak test; otherwise reports why not.
    fn check_tokio(&mut self, attr: &Attribute, is_async: bool) -> Option<()> {
        if !is_async {
            return None; // tokio's own macro reports a non-async function.
        }
        let message = if !self.tokio {
            "#[tokio::test] becomes an async leak test only with leakproof's `tokio` feature: \
             enable it (leakproof = { version = \"0.1\", features = [\"tokio\"] }), or mark the \
             test #[leakproof::skip] to keep it a plain test"
        } else if !matches!(attr.meta, Meta::Path(_)) {
            "#[tokio::test] with arguments cannot become a leak test: leak tests run on \
             leakproof's current-thread runtime; remove the arguments, or mark the test \
             #[leakproof::skip] to keep it a plain test"
        } else {
            return Some(());
        };
        self.errors.push(syn::Error::new_spanned(attr, message));
        None
    }

    /// Whether `exclude` names `path`; marks the entry as used.
    fn is_excluded(&mut self, path: &[Ident]) -> bool {
        let mut found = false;
        for (excluded, used) in &mut self.excluded {
            let same = excluded.leading_colon.is_none()
                && excluded.segments.len() == path.len()
                && excluded.segments.iter().zip(path).all(|(segment, ident)| {
                    segment.ident == *ident && segment.arguments.is_empty()
                });
            if same {
                *used = true;
                found = true;
            }
        }
        found
    }

    fn report_unused_excludes(&mut self) {
        for (path, used) in std::mem::take(&mut self.excluded) {
            if !used {
                let written = path.to_token_stream().to_string().replace(' ', "");
                self.errors.push(syn::Error::new_spanned(
                    path,
                    format!(
                        "`exclude` names `{written}`, but this module has no test or module by \
                         that path (paths are relative to the module: `nested::test_name`)"
                    ),
                ));
            }
        }
    }
}

/// `prefix::ident`.
fn joined(prefix: &[Ident], ident: &Ident) -> Vec<Ident> {
    let mut path = prefix.to_vec();
    path.push(ident.clone());
    path
}

/// Classifies a function by its attributes.
fn kind(attrs: &[Attribute]) -> Kind {
    if has_own(attrs, "leak_test") {
        return Kind::OwnLeakTest;
    }
    for (index, attr) in attrs.iter().enumerate() {
        let segments: Vec<String> = attr
            .path()
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.as_slice() {
            ["test"] | ["core" | "std", "prelude", _, "test"] => return Kind::Test(index),
            ["tokio", "test"] => return Kind::Tokio(index),
            [.., "test"] => return Kind::Foreign(index),
            _ => {}
        }
    }
    Kind::NotATest
}

/// Whether an attribute whose path ends in `name` is present (`leak_test`, `leak_tests`).
fn has_own(attrs: &[Attribute], name: &str) -> bool {
    attrs
        .iter()
        .any(|attr| attr.path().segments.last().is_some_and(|s| s.ident == name))
}

/// Removes `#[skip]` / `#[leakproof::skip]` / `#[<any path>::skip]` markers; whether there was one.
fn take_skip(attrs: &mut Vec<Attribute>) -> bool {
    let before = attrs.len();
    attrs.retain(|attr| {
        let is_skip = matches!(attr.meta, Meta::Path(_))
            && attr
                .path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "skip");
        !is_skip
    });
    attrs.len() != before
}

/// `#[leakproof::skip]` that no `#[leak_tests]` removed: the item, and an error on the marker.
pub(crate) fn skip_outside(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut out = item;
    let error = syn::Error::new(
        args.into_iter()
            .next()
            .map_or_else(proc_macro2::Span::call_site, |t| t.span()),
        "#[leakproof::skip] only has a meaning on a test (or nested module) inside a \
         #[leakproof::leak_tests] module, which removes it; here it would skip nothing",
    );
    out.extend(error.to_compile_error());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(source: &str) -> TokenStream {
        source.parse().expect("test input is valid Rust tokens")
    }

    fn run(args: &str, item: &str) -> String {
        leak_tests(tokens(args), tokens(item), true).to_string()
    }

    /// What `#[leak_test(args)]` makes of `function`, as a string.
    fn leak_test(args: &str, function: &str) -> String {
        crate::entry::leak_test(tokens(args), tokens(function)).to_string()
    }

    const MODULE: &str = "
        #[cfg(test)]
        mod tests {
            use super::*;
            const N: usize = 3;
            fn helper() -> Vec<u8> { vec![0; N] }
            #[test] fn plain() { helper(); }
            #[test] #[ignore] fn ignored() -> Result<(), String> { Ok(()) }
            #[leakproof::leak_test(iterations = 7)] fn own() {}
            #[test] #[leakproof::skip] fn skipped() {}
            #[test] fn excluded() {}
            mod nested {
                #[test] fn inner() {}
                #[test] fn inner_excluded() {}
            }
            #[leakproof::leak_tests(iterations = 9)]
            mod own_module { #[test] fn t() {} }
            #[leakproof::skip]
            mod skipped_module { #[test] fn t() {} }
        }";

    #[test]
    fn converts_every_test_and_leaves_the_rest() {
        let out = run(
            "iterations = 50, exclude = [excluded, nested::inner_excluded]",
            MODULE,
        );
        assert!(!out.contains("compile_error"), "{out}");
        let converted = |function: &str| leak_test("iterations = 50", function);
        // Converted: `#[test]` replaced by the leak test, in place, attributes kept.
        for function in [
            "fn plain() { helper(); }",
            "#[ignore] fn ignored() -> Result<(), String> { Ok(()) }",
            "fn inner() {}",
        ] {
            assert!(out.contains(&converted(function)), "{function}: {out}");
        }
        // Left as written (the skip markers removed).
        for item in [
            "use super :: * ;",
            "const N : usize = 3 ;",
            "fn helper () -> Vec < u8 > { vec ! [0 ; N] }",
            "# [leakproof :: leak_test (iterations = 7)] fn own () { }",
            "# [test] fn skipped () { }",
            "# [test] fn excluded () { }",
            "# [test] fn inner_excluded () { }",
            "# [leakproof :: leak_tests (iterations = 9)] mod own_module { # [test] fn t () { } }",
            "mod skipped_module { # [test] fn t () { } }",
        ] {
            assert!(out.contains(item), "{item}: {out}");
        }
        assert!(!out.contains(":: skip"), "{out}");
        assert_eq!(out.matches("__private :: run_").count(), 3, "{out}");
        assert!(out.starts_with("# [cfg (test)] mod tests {"), "{out}");
    }

    #[test]
    fn tokio_tests_become_async_leak_tests_only_with_the_feature() {
        let module = "mod m { #[tokio::test] async fn handler() { work().await; } }";
        let out = run("", module);
        assert!(out.contains(&leak_test("", "async fn handler() { work().await; }")));
        let out = leak_tests(tokens(""), tokens(module), false).to_string();
        assert!(out.contains("leakproof's `tokio` feature"), "{out}");
        assert!(out.contains("# [tokio :: test] async fn handler"), "{out}");
        let out = run(
            "",
            "mod m { #[tokio::test(flavor = \"multi_thread\")] async fn h() {} }",
        );
        assert!(
            out.contains("with arguments cannot become a leak test"),
            "{out}"
        );
    }

    #[test]
    fn tests_that_cannot_be_leak_tests_stay_as_written_beside_the_error() {
        let out = run("", "mod m { #[test] fn takes(x: u8) {} }");
        assert!(
            out.starts_with("mod m { # [test] fn takes (x : u8) { } }"),
            "{out}"
        );
        assert!(out.contains("takes no parameters"), "{out}");
        assert!(out.contains("this #[test] becomes a leak test through #[leak_tests]"));
        let out = run("", "mod m { #[async_std::test] async fn a() {} }");
        assert!(out.contains("#[async_std::test] is not a test #[leak_tests] can repeat"));
    }

    #[test]
    fn rejects_what_cannot_be_expanded() {
        let out = run("", "#[cfg(test)] mod tests;");
        assert!(out.starts_with("# [cfg (test)] mod tests ;"), "{out}");
        assert!(out.contains("needs the tests written inline"), "{out}");
        let out = run("", "mod m { mod in_another_file; }");
        assert!(
            out.contains("`mod in_another_file;` cannot be inside"),
            "{out}"
        );
        let out = run("", "fn f() {}");
        assert!(out.contains("applies only to inline modules"), "{out}");
    }

    #[test]
    fn argument_errors_keep_the_module_and_its_valid_arguments() {
        let out = run(
            "iterations = 40, itrations = 5",
            "mod m { #[test] fn t() {} }",
        );
        assert!(
            out.contains(&leak_test("iterations = 40", "fn t() {}")),
            "{out}"
        );
        assert!(out.contains("unknown argument `itrations` (did you mean `iterations`?)"));
        assert!(out.contains("`crate`, `exclude`"), "{out}");
        let out = run("exclude = [nope, m2::t]", "mod m { #[test] fn t() {} }");
        assert!(out.contains("`exclude` names `nope`"), "{out}");
        assert!(out.contains("`exclude` names `m2::t`"), "{out}");
        assert!(run("exclude = t", "mod m {}").contains("must be a list of test names"));
        // `#[leak_test]` does not take `exclude`.
        let out = leak_test("exclude = [a]", "fn f() {}");
        assert!(
            out.contains("`exclude` belongs on `#[leak_tests]`"),
            "{out}"
        );
    }

    #[test]
    fn classifies_test_attributes() {
        let kind_of = |attr: &str| {
            let function: ItemFn = syn::parse2(tokens(&format!("{attr} fn f() {{}}"))).unwrap();
            kind(&function.attrs)
        };
        assert_eq!(kind_of("#[test]"), Kind::Test(0));
        assert_eq!(
            kind_of("#[doc = \"x\"] #[::core::prelude::v1::test]"),
            Kind::Test(1)
        );
        assert_eq!(kind_of("#[std::prelude::rust_2021::test]"), Kind::Test(0));
        assert_eq!(kind_of("#[::tokio::test]"), Kind::Tokio(0));
        assert_eq!(kind_of("#[rstest::test]"), Kind::Foreign(0));
        assert_eq!(kind_of("#[test] #[leak_test]"), Kind::OwnLeakTest);
        assert_eq!(kind_of("#[cfg(test)] #[test_case(1)]"), Kind::NotATest);
    }
}
