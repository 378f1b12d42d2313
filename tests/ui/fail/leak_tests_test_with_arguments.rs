// A #[test] that cannot be a leak test is an error at its signature; it stays as written.
#[leakproof::leak_tests]
mod tests {
    #[test]
    fn takes_an_argument(port: u16) {
        let _ = port;
    }

    #[test]
    fn generic<T: Default>() {}

    #[async_std::test]
    async fn another_runner() {}

    #[test]
    #[leakproof::skip]
    fn skipped_is_left_to_the_compiler() {}
}

#[leakproof::skip]
fn skip_outside_a_module() {}

fn main() {}
