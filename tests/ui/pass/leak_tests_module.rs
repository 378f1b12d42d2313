// Every accepted form of #[leak_tests]. As in every_form.rs, trybuild builds without `--test`, so
// the generated tests are compiled out: this proves the module and its items expand cleanly;
// tests/leak_tests_module.rs runs a real module under both runners.
#![deny(warnings)]

#[leakproof::leak_tests(iterations = 200, warmup = 20, max_iterations = 400, resources = false, crate = "::leakproof", exclude = [fixed_port, nested::excluded],)]
mod every_argument {
    pub const SIZE: usize = 8;

    pub fn helper() -> Vec<u8> {
        vec![0; SIZE]
    }

    #[test]
    fn plain() {
        std::hint::black_box(helper());
    }

    #[test]
    #[ignore = "slow"]
    #[cfg(unix)]
    fn ignored_and_platform_specific() {}

    #[test]
    #[should_panic(expected = "LEAKING")]
    fn known_leak() {
        std::mem::forget(helper());
    }

    #[test]
    fn fallible() -> Result<(), std::num::ParseIntError> {
        let _: u8 = "7".parse()?;
        Ok(())
    }

    #[test]
    fn fixed_port() {
        std::net::TcpListener::bind("127.0.0.1:7878").unwrap();
    }

    #[leakproof::leak_test(iterations = 1000)]
    fn own_options() {}

    #[tokio::test]
    async fn asynchronous() {
        std::future::ready(()).await;
    }

    mod nested {
        #[test]
        fn included() {}

        #[test]
        fn excluded() {}

        #[leakproof::leak_tests(iterations = 50)]
        mod own_module {
            #[test]
            fn t() {}
        }
    }

    #[leakproof::skip]
    mod plain_tests {
        #[test]
        fn t() {}
    }
}

#[leakproof::leak_tests]
mod empty {}

fn main() {
    // Helpers are left alone (used here so that the test-less build has no dead code).
    every_argument::helper();
}
