use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;

/// Set by the panic hook: a panic on any thread (one GStreamer owns included) fails the run.
static PANICKED: AtomicBool = AtomicBool::new(false);

fn main() -> std::process::ExitCode {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICKED.store(true, Ordering::SeqCst);
        default_hook(info);
    }));
    let cli = sapiens_stream::cli::Cli::parse();
    let result = cli.execute();
    if PANICKED.load(Ordering::SeqCst) {
        // Whatever the command returned: a thread died, so something did not happen.
        eprintln!("error: internal error: a thread panicked (see above); please report it");
        return std::process::ExitCode::from(101);
    }
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
