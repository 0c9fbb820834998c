fn main() {
    smtl_build::link_libtorch();
}
