// `#[leak_tests]` expands the module's items: on `mod tests;` it sees only the declaration, a file
// module cannot be inside it, and on anything but a module it has nothing to expand.
#[leakproof::leak_tests]
#[path = "helpers/plain_tests.rs"]
mod tests;

#[leakproof::leak_tests]
mod inline {
    mod in_a_file;
}

#[leakproof::leak_tests]
fn not_a_module() {}

fn main() {}
