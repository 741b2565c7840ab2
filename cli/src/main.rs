fn main() {
    std::process::exit(tenant_alerting_policy_cli::main_with(
        std::env::args().collect(),
    ));
}
