// The same arguments as #[leak_test], plus `exclude`; mistakes point at the argument.
#[leakproof::leak_tests(iterations = 50, flavor = "multi_thread")]
mod unknown {
    #[test]
    fn t() {}
}

#[leakproof::leak_tests(itreations = 50)]
mod misspelt {}

#[leakproof::leak_tests(exclude = [t, missing])]
mod excludes_nothing {
    #[test]
    fn t() {}
}

#[leakproof::leak_test(exclude = [t])]
fn exclude_is_for_modules() {}

fn main() {}
