//! Parsing, validation and expansion of `#[leak_test]`.
//!
//! Everything here works on `proc_macro2` types so that it can be unit-tested outside a compiler
//! invocation; `lib.rs` only converts the token streams.
//!
//! The flow: parse the item just far enough to see its attributes and signature (the body stays an
//! opaque token stream, so a half-typed body does not stop the expansion), parse and validate the
//! arguments, check the signature, then either expand or report. Errors never make the item vanish:
//! an invalid configuration still expands with the defaults, and an item that cannot become a leak
//! test is emitted unchanged, each beside its `compile_error!`, so IDEs keep resolving the code.

use proc_macro2::{Delimiter, Group, Literal, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Lit, LitInt, LitStr, Meta, Path, ReturnType, Signature, Token};

/// The arguments `#[leak_test(...)]` accepts, and `exclude`, which only `#[leak_tests]` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Iterations,
    Warmup,
    MaxIterations,
    Resources,
    Crate,
    Exclude,
}

impl Key {
    /// In the order the documentation lists them.
    const ALL: [Key; 6] = [
        Key::Iterations,
        Key::Warmup,
        Key::MaxIterations,
        Key::Resources,
        Key::Crate,
        Key::Exclude,
    ];

    /// Whether `#[leak_test]` (`module == false`) or `#[leak_tests]` (`true`) takes this key.
    fn applies(self, module: bool) -> bool {
        module || self != Key::Exclude
    }

    fn name(self) -> &'static str {
        match self {
            Key::Iterations => "iterations",
            Key::Warmup => "warmup",
            Key::MaxIterations => "max_iterations",
            Key::Resources => "resources",
            Key::Crate => "crate",
            Key::Exclude => "exclude",
        }
    }

    /// A value to show in messages.
    fn example(self) -> &'static str {
        match self {
            Key::Iterations => "300",
            Key::Warmup => "30",
            Key::MaxIterations => "3000",
            Key::Resources => "false",
            Key::Crate => "\"::leakproof\"",
            Key::Exclude => "[slow_test, nested::fixed_port_test]",
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The harness refuses fewer iterations (`Harness::run`: "iterations must be at least 2"); checking
/// here turns that run-time failure into a compile error on the literal.
const MIN_ITERATIONS: usize = 2;

/// Expands `#[leak_test(args)] item`.
pub(crate) fn leak_test(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match syn::parse2::<TestFn>(item.clone()) {
        Ok(func) => func,
        Err(error) => return unchanged_with(item, error),
    };
    let (config, config_errors) = Config::parse_lenient(args, false);
    match (check_signature(&func), config_errors.0) {
        (Ok(()), None) => expand(&func, &config),
        (Ok(()), Some(error)) => {
            // The valid arguments, defaults for the rest: still a test, so IDEs keep working.
            let mut out = expand(&func, &config);
            out.extend(error.to_compile_error());
            out
        }
        (Err(mut error), config_error) => {
            if let Some(config_error) = config_error {
                error.combine(config_error);
            }
            unchanged_with(item, error)
        }
    }
}

/// The item as written plus the error: keeps the code visible to IDEs while the error is fixed.
/// `dead_code` is allowed because the item is no longer a test and may have no other caller.
fn unchanged_with(item: TokenStream, error: syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    quote! {
        #[allow(dead_code)]
        #item
        #error
    }
}

/// A function item, parsed lazily: the body is kept as tokens (minus its inner attributes).
pub(crate) struct TestFn {
    /// Outer attributes, in source order.
    attrs: Vec<Attribute>,
    /// `pub`, `pub(crate)` or nothing.
    vis: syn::Visibility,
    /// Qualifiers, name, generics, parameters and return type.
    sig: Signature,
    /// `#![...]` at the start of the body; hoisted onto the generated test function.
    inner_attrs: Vec<Attribute>,
    /// The body's statements, as written.
    body: TokenStream,
    /// Span of the body's braces, reused for the workload closure's block.
    brace_span: Span,
}

impl Parse for TestFn {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        if !starts_fn(input) {
            return Err(match input.cursor().token_tree() {
                Some((tree, _)) => syn::Error::new(
                    tree.span(),
                    "#[leak_test] applies only to functions: `fn name() { ... }`",
                ),
                None => input.error("#[leak_test] applies only to functions: `fn name() { ... }`"),
            });
        }
        let sig = input.parse()?;
        let content;
        let brace = syn::braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let body = content.parse()?;
        Ok(TestFn {
            attrs,
            vis,
            sig,
            inner_attrs,
            body,
            brace_span: brace.span.join(),
        })
    }
}

/// Whether the next tokens are `fn`, possibly after `const`, `async`, `unsafe` and `extern "abi"`.
/// Decides between "not a function" and syn's own message for a malformed signature.
fn starts_fn(input: ParseStream) -> bool {
    let fork = input.fork();
    let _ = fork.parse::<Option<Token![const]>>();
    let _ = fork.parse::<Option<Token![async]>>();
    let _ = fork.parse::<Option<Token![unsafe]>>();
    if fork
        .parse::<Option<Token![extern]>>()
        .ok()
        .flatten()
        .is_some()
    {
        let _ = fork.parse::<Option<LitStr>>();
    }
    fork.peek(Token![fn])
}

/// The validated arguments. `None` means "the harness default", decided at run time.
#[derive(Default)]
pub(crate) struct Config {
    iterations: Option<Valued<usize>>,
    warmup: Option<Valued<usize>>,
    max_iterations: Option<Valued<usize>>,
    resources: Option<Valued<bool>>,
    krate: Option<Path>,
    /// `#[leak_tests]` only: paths of tests, relative to the module, that stay plain tests.
    pub(crate) exclude: Vec<Path>,
}

/// A value with the span of the literal it came from.
#[derive(Clone, Copy)]
struct Valued<T> {
    value: T,
    span: Span,
}

impl Config {
    /// Parses `key = literal, ...`, collecting every error instead of stopping at the first.
    #[cfg(test)]
    fn parse(args: TokenStream) -> syn::Result<Config> {
        let (config, errors) = Config::parse_lenient(args, false);
        errors.finish(config)
    }

    /// Like `Config::parse`, but also returns what was valid when something was not: the
    /// expansion beside an error keeps, e.g., a correct `crate = "..."` so it adds no second error.
    /// `module` is true for `#[leak_tests]`, which also takes `exclude`.
    pub(crate) fn parse_lenient(args: TokenStream, module: bool) -> (Config, Errors) {
        let mut errors = Errors::default();
        let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
            Ok(metas) => metas,
            Err(error) => {
                errors.push(error);
                return (Config::default(), errors);
            }
        };
        let mut builder = ConfigBuilder {
            module,
            ..ConfigBuilder::default()
        };
        for meta in &metas {
            if let Err(error) = builder.set(meta) {
                errors.push(error);
            }
        }
        let config = builder.build(&mut errors);
        (config, errors)
    }
}

/// Several errors reported together, so one build shows every mistake.
#[derive(Default)]
pub(crate) struct Errors(pub(crate) Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(existing) => existing.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn add(&mut self, span: &dyn ToTokens, message: &str) {
        self.push(syn::Error::new_spanned(span, message));
    }

    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}

/// Collects arguments one at a time; `build` checks the combinations.
#[derive(Default)]
struct ConfigBuilder {
    config: Config,
    /// The keys set so far, for "given more than once" errors.
    seen: Vec<Key>,
    /// Parsing `#[leak_tests]` arguments rather than `#[leak_test]` ones.
    module: bool,
}

impl ConfigBuilder {
    fn set(&mut self, meta: &Meta) -> syn::Result<()> {
        let path = meta.path();
        let Some(key) = path.get_ident().map(ToString::to_string) else {
            return Err(syn::Error::new_spanned(
                path,
                format!(
                    "expected an argument name; valid arguments: {}",
                    valid_keys(self.module)
                ),
            ));
        };
        let Some(key) = Key::ALL
            .into_iter()
            .find(|known| known.name() == key && known.applies(self.module))
        else {
            return Err(syn::Error::new_spanned(
                path,
                unknown_key_message(&key, self.module),
            ));
        };
        let value = match meta {
            Meta::NameValue(name_value) => &name_value.value,
            _ => {
                return Err(syn::Error::new_spanned(
                    meta,
                    format!("`{key}` takes a value: `{key} = {}`", key.example()),
                ))
            }
        };
        if self.seen.contains(&key) {
            return Err(syn::Error::new_spanned(
                path,
                format!("`{key}` is given more than once"),
            ));
        }
        self.seen.push(key);
        match key {
            Key::Iterations => {
                self.config.iterations = Some(int_at_least(key, value, MIN_ITERATIONS)?)
            }
            Key::Warmup => self.config.warmup = Some(int(key, value)?),
            Key::MaxIterations => {
                self.config.max_iterations = Some(int_at_least(key, value, MIN_ITERATIONS)?)
            }
            Key::Resources => self.config.resources = Some(boolean(key, value)?),
            Key::Crate => self.config.krate = Some(crate_path(value)?),
            Key::Exclude => self.config.exclude = paths(value)?,
        }
        Ok(())
    }

    fn build(self, errors: &mut Errors) -> Config {
        let config = self.config;
        if let (Some(iterations), Some(warmup)) = (config.iterations, config.warmup) {
            if warmup.value >= iterations.value {
                errors.push(syn::Error::new(
                    warmup.span,
                    format!(
                        "`warmup` ({}) must be less than `iterations` ({}): the samples after \
                             the warm-up are the ones analysed",
                        warmup.value, iterations.value
                    ),
                ));
            }
        }
        if let (Some(iterations), Some(max)) = (config.iterations, config.max_iterations) {
            if max.value < iterations.value {
                errors.push(syn::Error::new(
                    max.span,
                    format!(
                        "`max_iterations` ({}) must be at least `iterations` ({}): it bounds how \
                             far an inconclusive run is extended",
                        max.value, iterations.value
                    ),
                ));
            }
        }
        config
    }
}

fn valid_keys(module: bool) -> String {
    Key::ALL
        .iter()
        .filter(|key| key.applies(module))
        .map(|key| format!("`{}`", key.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn unknown_key_message(key: &str, module: bool) -> String {
    if key == Key::Exclude.name() {
        return "`exclude` belongs on `#[leak_tests]` (a module); here, use `#[test]` instead of \
                `#[leak_test]` for a test that should not be a leak test"
            .to_owned();
    }
    let suggestion = Key::ALL
        .iter()
        .filter(|known| known.applies(module))
        .map(|known| known.name())
        .map(|known| (edit_distance(key, known), known))
        .filter(|(distance, known)| *distance <= 2.max(known.len() / 3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| format!(" (did you mean `{known}`?)"))
        .unwrap_or_default();
    format!(
        "unknown argument `{key}`{suggestion}; valid arguments: {}",
        valid_keys(module)
    )
}

/// Levenshtein distance, for the "did you mean" hint on unknown arguments.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// The literal inside `value`, looking through the invisible groups that `macro_rules!`
/// substitution wraps around `$x:literal` / `$x:expr`.
fn literal(value: &Expr) -> Option<&Lit> {
    match value {
        Expr::Lit(lit) => Some(&lit.lit),
        Expr::Group(group) => literal(&group.expr),
        _ => None,
    }
}

fn int(key: Key, value: &Expr) -> syn::Result<Valued<usize>> {
    let negative = match value {
        Expr::Unary(unary) => matches!(unary.op, syn::UnOp::Neg(_)),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit.base10_digits().starts_with('-'),
        _ => false,
    };
    if negative {
        return Err(syn::Error::new_spanned(
            value,
            format!("`{key}` cannot be negative"),
        ));
    }
    let Some(Lit::Int(lit)) = literal(value) else {
        return Err(syn::Error::new_spanned(
            value,
            format!(
                "`{key}` must be an integer literal, like `{key} = {}`",
                key.example()
            ),
        ));
    };
    parse_usize(key, lit)
}

fn parse_usize(key: Key, lit: &LitInt) -> syn::Result<Valued<usize>> {
    if !matches!(lit.suffix(), "" | "usize") {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{key}` is a `usize`: drop the `{}` suffix", lit.suffix()),
        ));
    }
    let value = lit
        .base10_parse::<usize>()
        .map_err(|_| syn::Error::new(lit.span(), format!("`{key}` does not fit in a `usize`")))?;
    Ok(Valued {
        value,
        span: lit.span(),
    })
}

fn int_at_least(key: Key, value: &Expr, min: usize) -> syn::Result<Valued<usize>> {
    let parsed = int(key, value)?;
    if parsed.value < min {
        return Err(syn::Error::new(
            parsed.span,
            format!(
                "`{key}` must be at least {min}: a trend needs more than one sample, and the \
                 harness asks for more when the answer is unclear"
            ),
        ));
    }
    Ok(parsed)
}

fn boolean(key: Key, value: &Expr) -> syn::Result<Valued<bool>> {
    match literal(value) {
        Some(Lit::Bool(lit)) => Ok(Valued {
            value: lit.value,
            span: lit.span,
        }),
        _ => Err(syn::Error::new_spanned(
            value,
            format!("`{key}` must be `true` or `false`"),
        )),
    }
}

/// `[a, b, nested::c]`: the tests `exclude` names, relative to the module.
fn paths(value: &Expr) -> syn::Result<Vec<Path>> {
    let message = "`exclude` must be a list of test names, like `exclude = [slow_test, \
                   nested::fixed_port_test]`";
    let Expr::Array(array) = value else {
        return Err(syn::Error::new_spanned(value, message));
    };
    array
        .elems
        .iter()
        .map(|elem| match elem {
            Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
                Ok(path.path.clone())
            }
            _ => Err(syn::Error::new_spanned(elem, message)),
        })
        .collect()
}

fn crate_path(value: &Expr) -> syn::Result<Path> {
    let Some(Lit::Str(lit)) = literal(value) else {
        return Err(syn::Error::new_spanned(
            value,
            "`crate` must be a string literal holding a path, like `crate = \"::leakproof\"`",
        ));
    };
    lit.parse_with(Path::parse_mod_style).map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!(
                "`crate` must name a path to the leakproof crate, like \"::leakproof\" or \
                 \"my_crate::leakproof\"; found {:?}",
                lit.value()
            ),
        )
    })
}

/// Rejects what cannot become a leak test, each error spanned on the offending part.
pub(crate) fn check_signature(func: &TestFn) -> syn::Result<()> {
    let sig = &func.sig;
    let mut errors = Errors::default();
    let mut error = |span: &dyn ToTokens, message: &str| errors.add(span, message);
    for attr in &func.attrs {
        let path = attr.path();
        if is_test_attribute(path) {
            let written = path_string(path);
            error(
                attr,
                &format!("#[leak_test] is the test; remove #[{written}]"),
            );
        } else if path.segments.last().is_some_and(|s| s.ident == "leak_test") {
            error(attr, "#[leak_test] is applied twice; keep one");
        }
    }
    if let Some(token) = &sig.constness {
        error(token, "a #[leak_test] function cannot be `const`");
    }
    if let Some(token) = &sig.unsafety {
        error(
            token,
            "a #[leak_test] function cannot be `unsafe`; use an `unsafe` block inside it",
        );
    }
    if let Some(abi) = &sig.abi {
        error(abi, "a #[leak_test] function cannot have an `extern` ABI");
    }
    if !sig.generics.params.is_empty() {
        error(
            &sig.generics,
            "a #[leak_test] function cannot be generic: the test runner calls it without type arguments",
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        error(
            where_clause,
            "a #[leak_test] function cannot have a `where` clause",
        );
    }
    if !sig.inputs.is_empty() || sig.variadic.is_some() {
        let message = "a #[leak_test] function takes no parameters: the test runner calls it \
                       without arguments; build inputs inside the body";
        match &sig.variadic {
            Some(variadic) if sig.inputs.is_empty() => error(variadic, message),
            _ => error(&sig.inputs, message),
        }
    }
    errors.finish(())
}

/// `test`, `core::prelude::*::test`, `std::prelude::*::test`, and any other `...::test`
/// (`tokio::test`, `async_std::test`): each would make a second test out of the same function.
fn is_test_attribute(path: &Path) -> bool {
    path.segments.last().is_some_and(|s| s.ident == "test")
}

fn path_string(path: &Path) -> String {
    let mut out = String::new();
    if path.leading_colon.is_some() {
        out.push_str("::");
    }
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    out.push_str(&segments.join("::"));
    out
}

/// The test function: the attributes, then `#[test]`, then a body that hands the workload closure
/// and its configuration to the harness.
pub(crate) fn expand(func: &TestFn, config: &Config) -> TokenStream {
    let default_krate: Path = syn::parse_quote!(::leakproof);
    let krate = config.krate.as_ref().unwrap_or(&default_krate);
    let name = &func.sig.ident;

    let mut spec = quote! {
        #krate::__private::LeakTest::new(
            ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name))
        )
    };
    spec.extend(setters(config));
    if let Some(expected) = func.attrs.iter().find_map(should_panic_expected) {
        spec.extend(quote!(.should_panic(#expected)));
    }

    let mut block = Group::new(Delimiter::Brace, func.body.clone());
    block.set_span(func.brace_span);
    // A return type is named, so that a type the harness cannot judge is an error on that type.
    // `-> ()` is no return type.
    let output = match &func.sig.output {
        ReturnType::Type(_, ty) if !matches!(&**ty, syn::Type::Tuple(t) if t.elems.is_empty()) => {
            Some(ty)
        }
        _ => None,
    };
    let call = match (&func.sig.asyncness, output) {
        (None, None) => quote! {
            #krate::__private::run_leak_test(#spec, || #block)
        },
        (None, Some(output)) => quote! {
            #krate::__private::run_fallible_leak_test::<_, #output>(#spec, || #block)
        },
        (Some(_), None) => quote! {
            #krate::__private::run_async_leak_test(#spec, || async move #block)
        },
        // `?` in an async block cannot learn the error type from the caller; a nested `async fn`
        // declares it (the body of a test captures nothing, so it moves there unchanged).
        (Some(_), Some(output)) => quote! {
            async fn __leakproof_body() -> #output #block
            #krate::__private::run_fallible_async_leak_test::<_, _, #output>(#spec, __leakproof_body)
        },
    };

    let attrs = &func.attrs;
    let inner_attrs = &func.inner_attrs;
    let vis = &func.vis;
    let fn_token = &func.sig.fn_token;
    quote! {
        #(#attrs)*
        #[::core::prelude::v1::test]
        #vis #fn_token #name() {
            #(#inner_attrs)*
            #call
        }
    }
}

/// `.iterations(500).warmup(50)...`: the settings written in the attribute, each on its literal's
/// span.
fn setters(config: &Config) -> TokenStream {
    let mut spec = TokenStream::new();
    let usize_setters = [
        ("iterations", config.iterations),
        ("warmup", config.warmup),
        ("max_iterations", config.max_iterations),
    ];
    for (setter, value) in usize_setters {
        if let Some(Valued { value, span }) = value {
            let setter = syn::Ident::new(setter, span);
            let mut lit = Literal::usize_unsuffixed(value);
            lit.set_span(span);
            spec.extend(quote!(.#setter(#lit)));
        }
    }
    if let Some(Valued { value, span }) = config.resources {
        let lit = syn::LitBool::new(value, span);
        spec.extend(quote_spanned!(span=> .resources(#lit)));
    }
    spec
}

/// The `expected` text of a `#[should_panic]` attribute (`""` without one), or `None` for any
/// other attribute. Under `LEAKPROOF=once` the harness needs it to let such a test pass.
fn should_panic_expected(attr: &Attribute) -> Option<LitStr> {
    if !attr.path().is_ident("should_panic") {
        return None;
    }
    let any = LitStr::new("", syn::spanned::Spanned::span(attr));
    let found = match &attr.meta {
        Meta::NameValue(nv) => match literal(&nv.value) {
            Some(Lit::Str(lit)) => Some(lit.clone()),
            _ => None,
        },
        Meta::List(_) => {
            let mut expected = None;
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("expected") {
                    expected = Some(meta.value()?.parse::<LitStr>()?);
                }
                Ok(())
            });
            expected
        }
        Meta::Path(_) => None,
    };
    Some(found.unwrap_or(any))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(source: &str) -> TokenStream {
        source.parse().expect("test input is valid Rust tokens")
    }

    fn run(args: &str, item: &str) -> String {
        leak_test(tokens(args), tokens(item)).to_string()
    }

    /// Every message of `error`, each with the source text its span starts at. The inputs are one
    /// line, so the span's column is a byte offset into `source`.
    fn located(error: syn::Error, source: &str) -> Vec<(String, String)> {
        error
            .into_iter()
            .map(|error| {
                let span = error.span();
                let (start, end) = (span.start(), span.end());
                assert_eq!(start.line, 1, "single-line input");
                let end = if end.line == 1 {
                    end.column
                } else {
                    source.len()
                };
                (error.to_string(), source[start.column..end].to_string())
            })
            .collect()
    }

    fn config_errors(args: &str) -> Vec<(String, String)> {
        match Config::parse(tokens(args)) {
            Ok(_) => panic!("`{args}` was accepted"),
            Err(error) => located(error, args),
        }
    }

    fn signature_errors(item: &str) -> Vec<(String, String)> {
        let func = syn::parse2::<TestFn>(tokens(item)).expect("parses as a function");
        match check_signature(&func) {
            Ok(()) => panic!("`{item}` was accepted"),
            Err(error) => located(error, item),
        }
    }

    /// Asserts exactly one error, pointing at `at`, whose message contains `message`.
    fn assert_one(errors: Vec<(String, String)>, message: &str, at: &str) {
        assert_eq!(errors.len(), 1, "expected one error, got {errors:?}");
        let (text, span) = &errors[0];
        assert!(text.contains(message), "message {text:?} lacks {message:?}");
        assert_eq!(span, at, "error for {text:?} points at the wrong tokens");
    }

    #[test]
    fn expands_without_arguments() {
        let expected = quote! {
            #[::core::prelude::v1::test]
            fn parses() {
                ::leakproof::__private::run_leak_test(
                    ::leakproof::__private::LeakTest::new(
                        ::core::concat!(::core::module_path!(), "::", ::core::stringify!(parses))
                    ),
                    || { let v = vec![1u8]; drop(v); }
                )
            }
        };
        assert_eq!(
            run("", "fn parses() { let v = vec![1u8]; drop(v); }"),
            expected.to_string()
        );
    }

    #[test]
    fn expands_every_argument_in_a_fixed_order() {
        let expected = quote! {
            #[::core::prelude::v1::test]
            fn f() {
                ::my::leakproof::__private::run_leak_test(
                    ::my::leakproof::__private::LeakTest::new(
                        ::core::concat!(::core::module_path!(), "::", ::core::stringify!(f))
                    )
                    .iterations(500).warmup(50).max_iterations(5000).resources(false),
                    || {}
                )
            }
        };
        let args = "crate = \"::my::leakproof\", resources = false, max_iterations = 5_000, \
                    warmup = 50, iterations = 500usize,";
        assert_eq!(run(args, "fn f() {}"), expected.to_string());
    }

    #[test]
    fn keeps_other_attributes_before_the_generated_test_and_hoists_inner_ones() {
        let expected = quote! {
            #[doc = " Docs."]
            #[ignore = "slow"]
            #[should_panic(expected = "leak")]
            #[cfg(unix)]
            #[::core::prelude::v1::test]
            pub(crate) fn f() {
                #![allow(unused_variables)]
                ::leakproof::__private::run_leak_test(
                    ::leakproof::__private::LeakTest::new(
                        ::core::concat!(::core::module_path!(), "::", ::core::stringify!(f))
                    )
                    .should_panic("leak"),
                    || { let x = 1; }
                )
            }
        };
        let item = "#[doc = \" Docs.\"] #[ignore = \"slow\"] #[should_panic(expected = \"leak\")] #[cfg(unix)] \
                    pub(crate) fn f() -> () { #![allow(unused_variables)] let x = 1; }";
        assert_eq!(run("", item), expected.to_string());
    }

    #[test]
    fn async_fn_becomes_a_sync_test_over_an_async_closure() {
        let expected = quote! {
            #[::core::prelude::v1::test]
            fn handler() {
                ::leakproof::__private::run_async_leak_test(
                    ::leakproof::__private::LeakTest::new(
                        ::core::concat!(::core::module_path!(), "::", ::core::stringify!(handler))
                    )
                    .iterations(10),
                    || async move { work().await; }
                )
            }
        };
        assert_eq!(
            run("iterations = 10", "async fn handler() { work().await; }"),
            expected.to_string()
        );
    }

    #[test]
    fn accepts_literals_passed_through_macro_rules() {
        // `macro_rules!` wraps `$n:literal` in an invisible group.
        let group = Group::new(Delimiter::None, tokens("7"));
        let args = quote!(iterations = #group);
        let config = Config::parse(args).expect("grouped literal accepted");
        assert_eq!(config.iterations.map(|v| v.value), Some(7));
    }

    #[test]
    fn invalid_arguments_keep_the_valid_ones_in_the_expansion() {
        let item = "fn f() {}";
        let out = run("crate = \"lp\", iterations = 0, warmup = 5", item);
        let valid = Config::parse(tokens("crate = \"lp\", warmup = 5")).expect("valid");
        let expected = expand(&syn::parse2::<TestFn>(tokens(item)).expect("valid"), &valid);
        assert!(out.starts_with(&expected.to_string()), "{out}");
        assert!(out.contains("`iterations` must be at least 2"), "{out}");
        // A syntax error in the arguments leaves only defaults.
        let out = run("iterations = ", item);
        let defaults = expand(
            &syn::parse2::<TestFn>(tokens(item)).expect("valid"),
            &Config::default(),
        );
        assert!(out.starts_with(&defaults.to_string()), "{out}");
        assert!(out.contains("compile_error"), "{out}");
    }

    #[test]
    fn invalid_arguments_still_expand_with_defaults_beside_the_error() {
        let out = run("iterations = 0", "fn f() { body(); }");
        let defaults = expand(
            &syn::parse2::<TestFn>(tokens("fn f() { body(); }")).expect("valid"),
            &Config::default(),
        )
        .to_string();
        assert!(out.starts_with(&defaults), "{out}");
        let rest = &out[defaults.len()..];
        assert!(rest.contains("compile_error"), "{rest}");
        assert!(rest.contains("`iterations` must be at least 2"), "{rest}");
    }

    #[test]
    fn invalid_items_are_emitted_unchanged_beside_the_error() {
        let out = run("bogus = 1", "fn f(x: u8) { body(x); }");
        assert!(
            out.starts_with(
                &quote!(
                    #[allow(dead_code)]
                    fn f(x: u8) {
                        body(x);
                    }
                )
                .to_string()
            ),
            "{out}"
        );
        assert!(!out.contains("run_leak_test"), "{out}");
        // Both the signature error and the argument error are reported.
        assert!(out.contains("takes no parameters"), "{out}");
        assert!(out.contains("unknown argument `bogus`"), "{out}");
    }

    #[test]
    fn rejects_items_that_are_not_functions() {
        for (item, at) in [
            ("struct S;", "struct"),
            ("pub const N: u8 = 1;", "const"),
            ("impl S {}", "impl"),
            ("mod m {}", "mod"),
        ] {
            let error = syn::parse2::<TestFn>(tokens(item))
                .err()
                .unwrap_or_else(|| panic!("`{item}` parsed as a function"));
            assert_one(located(error, item), "applies only to functions", at);
            let out = run("", item);
            assert!(out.contains("compile_error") && out.contains(&tokens(item).to_string()));
        }
    }

    #[test]
    fn a_malformed_signature_gets_the_parser_message_not_not_a_function() {
        let error = syn::parse2::<TestFn>(tokens("fn f(x:) {}"))
            .err()
            .expect("malformed signature rejected");
        assert!(!error.to_string().contains("only to functions"), "{error}");
    }

    #[test]
    fn rejects_unknown_arguments_listing_the_valid_ones() {
        assert_one(
            config_errors("iterations = 5, itreations = 5"),
            "unknown argument `itreations` (did you mean `iterations`?); valid arguments: \
             `iterations`, `warmup`, `max_iterations`, `resources`, `crate`",
            "itreations",
        );
        let errors = config_errors("flavor = 1");
        assert_one(errors.clone(), "unknown argument `flavor`; valid", "flavor");
        assert!(!errors[0].0.contains("did you mean"));
        assert_one(
            config_errors("a::b = 1"),
            "expected an argument name",
            "a::b",
        );
    }

    #[test]
    fn rejects_repeated_arguments_at_the_repetition() {
        let args = "warmup = 1, iterations = 50, warmup = 2";
        let errors = config_errors(args);
        assert_one(errors.clone(), "`warmup` is given more than once", "warmup");
        // The second `warmup`, not the first.
        let second = args.rfind("warmup").expect("present");
        let span = Config::parse(tokens(args)).err().expect("rejected").span();
        assert_eq!(span.start().column, second);
    }

    #[test]
    fn rejects_values_of_the_wrong_type_at_the_value() {
        assert_one(
            config_errors("iterations = \"500\""),
            "`iterations` must be an integer literal",
            "\"500\"",
        );
        assert_one(
            config_errors("warmup = -1"),
            "`warmup` cannot be negative",
            "-1",
        );
        // The compiler hands `-1` over as `-` and `1`, which syn parses as a negation.
        let negation = quote!(warmup = -1);
        let error = Config::parse(negation).err().expect("rejected");
        assert_eq!(error.to_string(), "`warmup` cannot be negative");
        assert_one(
            config_errors("iterations = N"),
            "must be an integer literal",
            "N",
        );
        assert_one(config_errors("resources = 1"), "`true` or `false`", "1");
        assert_one(
            config_errors("crate = leakproof"),
            "string literal",
            "leakproof",
        );
        assert_one(
            config_errors("crate = \"not a path\""),
            "`crate` must name a path",
            "\"not a path\"",
        );
        assert_one(
            config_errors("iterations = 5u8"),
            "drop the `u8` suffix",
            "5u8",
        );
        assert_one(
            config_errors("max_iterations = 99999999999999999999999"),
            "does not fit",
            "99999999999999999999999",
        );
    }

    #[test]
    fn rejects_arguments_without_values() {
        assert_one(
            config_errors("iterations"),
            "`iterations` takes a value: `iterations = 300`",
            "iterations",
        );
        assert_one(
            config_errors("resources(false)"),
            "`resources` takes a value",
            "resources(false)",
        );
    }

    #[test]
    fn rejects_zero_where_a_count_is_needed() {
        assert_one(
            config_errors("iterations = 0"),
            "`iterations` must be at least 2",
            "0",
        );
        assert_one(
            config_errors("iterations = 1"),
            "`iterations` must be at least 2",
            "1",
        );
        assert_one(config_errors("max_iterations = 0"), "at least 2", "0");
        let config = Config::parse(tokens("iterations = 2")).expect("two samples are enough");
        assert_eq!(config.iterations.map(|v| v.value), Some(2));
        let config = Config::parse(tokens("warmup = 0")).expect("no warm-up is valid");
        assert_eq!(config.warmup.map(|v| v.value), Some(0));
    }

    #[test]
    fn checks_combinations_when_both_sides_are_given() {
        assert_one(
            config_errors("iterations = 100, warmup = 100"),
            "`warmup` (100) must be less than `iterations` (100)",
            "100",
        );
        let errors = config_errors("max_iterations = 10, iterations = 20");
        assert_one(
            errors,
            "`max_iterations` (10) must be at least `iterations` (20)",
            "10",
        );
        // One side alone is checked against the run-time defaults by the harness, not here.
        assert!(Config::parse(tokens("warmup = 1000")).is_ok());
        // `max_iterations == iterations` is how a test turns extension off.
        assert!(Config::parse(tokens("iterations = 5, warmup = 4, max_iterations = 5")).is_ok());
    }

    #[test]
    fn reports_every_argument_error_at_once() {
        let errors = config_errors("iterations = 0, bogus = 1, resources = 2, iterations = 3");
        let messages: Vec<&str> = errors.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(errors.len(), 4, "{messages:?}");
    }

    #[test]
    fn rejects_a_second_test_attribute() {
        for attr in [
            "#[test]",
            "#[::core::prelude::v1::test]",
            "#[core::prelude::rust_2021::test]",
            "#[std::prelude::v1::test]",
            "#[tokio::test]",
        ] {
            let item = format!("{attr} fn f() {{}}");
            let written = attr.trim_start_matches("#[").trim_end_matches(']');
            assert_one(
                signature_errors(&item),
                &format!("#[leak_test] is the test; remove #[{written}]"),
                attr,
            );
        }
        assert_one(
            signature_errors("#[leakproof::leak_test] fn f() {}"),
            "applied twice",
            "#[leakproof::leak_test]",
        );
    }

    #[test]
    fn accepts_attributes_that_merely_mention_test() {
        let item = "#[cfg(test)] #[cfg_attr(test, ignore)] #[doc = \"test\"] fn f() {}";
        let func = syn::parse2::<TestFn>(tokens(item)).expect("parses");
        assert!(check_signature(&func).is_ok());
    }

    #[test]
    fn rejects_parameters_at_the_parameters() {
        assert_one(
            signature_errors("fn f(a: u8, b: &str) {}"),
            "takes no parameters",
            "a: u8, b: &str",
        );
        assert_one(
            signature_errors("fn f(&self) {}"),
            "takes no parameters",
            "&self",
        );
    }

    #[test]
    fn rejects_generics_and_where_clauses() {
        assert_one(
            signature_errors("fn f<T: Default>() {}"),
            "cannot be generic",
            "<T: Default>",
        );
        assert_one(
            signature_errors("fn f() where u8: Copy {}"),
            "`where` clause",
            "where u8: Copy",
        );
    }

    #[test]
    fn return_types_are_handed_to_the_harness() {
        // The harness's `LeakTestOutput` decides which types are allowed (`()` and
        // `Result<(), E: Debug>`), with an error on the type written here.
        let out = run("", "fn f() -> Result<(), String> { Ok(()) }");
        let expected = "run_fallible_leak_test :: < _ , Result < () , String > > (";
        assert!(out.contains(expected), "{out}");
        // `?` in an async block cannot learn its error type: the body moves into an `async fn`.
        let out = run("", "async fn f() -> Result<(), E> { g().await?; Ok(()) }");
        for expected in [
            "async fn __leakproof_body () -> Result < () , E > { g () . await ?; Ok (()) }",
            "run_fallible_async_leak_test :: < _ , _ , Result < () , E > >",
        ] {
            assert!(out.contains(expected), "{out}");
        }
        assert!(out.contains("__leakproof_body)"), "{out}");
    }

    #[test]
    fn should_panic_expectations_reach_the_harness() {
        for (attr, expected) in [
            ("#[should_panic]", "\"\""),
            ("#[should_panic = \"LEAKING\"]", "\"LEAKING\""),
            ("#[should_panic(expected = \"x\")]", "\"x\""),
        ] {
            let out = run("", &format!("{attr} fn f() {{}}"));
            assert!(
                out.contains(&format!(". should_panic ({expected})")),
                "{out}"
            );
        }
        assert!(!run("", "#[ignore] fn f() {}").contains("should_panic"));
    }

    #[test]
    fn rejects_const_unsafe_and_extern_functions() {
        assert_one(
            signature_errors("const fn f() {}"),
            "cannot be `const`",
            "const",
        );
        assert_one(
            signature_errors("unsafe fn f() {}"),
            "cannot be `unsafe`",
            "unsafe",
        );
        assert_one(
            signature_errors("extern \"C\" fn f() {}"),
            "`extern` ABI",
            "extern \"C\"",
        );
        let errors = signature_errors("const unsafe fn f<T>(t: T) -> T { t }");
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn suggestions_need_a_close_match() {
        assert_eq!(edit_distance("warmup", "warmup"), 0);
        assert_eq!(edit_distance("warmp", "warmup"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert!(
            unknown_key_message("max_iteration", false).contains("did you mean `max_iterations`")
        );
        assert!(unknown_key_message("resource", false).contains("did you mean `resources`"));
        assert!(!unknown_key_message("z", false).contains("did you mean"));
    }
}
