pub async fn run(_: &crate::cli::DemoArgs) -> anyhow::Result<std::process::ExitCode> {
    todo!()
}
