use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = sapiens_stream::cli::Cli::parse();
    match cli.execute() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
