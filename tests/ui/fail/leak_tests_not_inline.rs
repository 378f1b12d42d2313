// `#[leak_tests]` expands the module's items: on `mod tests;` it sees only the declaration, and on
// anything but a module it has nothing to expand.
#[leakproof::leak_tests]
#[path = "helpers/plain_tests.rs"]
mod tests;

mod outer {
    #[leakproof::leak_tests]
    mod inline {
        // A file module inside would keep its tests plain, unseen: an error until skipped.
        #[path = "../helpers/plain_tests.rs"]
        mod in_a_file;

        #[leakproof::skip]
        #[path = "../helpers/plain_tests.rs"]
        mod skipped_file;
    }
}

#[leakproof::leak_tests]
fn not_a_module() {}

fn main() {}
