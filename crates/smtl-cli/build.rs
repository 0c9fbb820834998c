//! An absolute rpath to the project's libtorch, so that `smtl` also runs
//! when copied or installed elsewhere (`cargo install --path crates/smtl-cli`),
//! where the workspace's `$ORIGIN`-relative rpaths do not reach.
fn main() {
    smtl_build::link_libtorch();
}
