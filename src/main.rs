//! The `tews` command line. With no arguments it runs the demo.

mod cli;

use clap::Parser;
use cli::{Cli, Command};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Mesa's Vulkan drivers (lavapipe among them) print "error:
/// XDG_RUNTIME_DIR is invalid or not set in the environment." on stderr,
/// whatever the log level, when probed without a usable runtime directory
/// (a service account, a container, ssh without a login session). tews
/// does not use the directory itself; it gives the process a private one,
/// `$TMPDIR/tews-runtime-UID` (mode 0700, as the XDG spec asks), so that
/// third-party noise stays off stderr. A set, usable directory is kept.
fn quiet_runtime_dir() {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let usable = std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| {
        std::fs::metadata(&d).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o077 == 0)
    });
    if usable {
        return;
    }
    // Our own uid, from our own process's /proc entry.
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    let dir = std::env::temp_dir().join(format!("tews-runtime-{uid}"));
    let made = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let ok = match made {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::metadata(&dir)
            .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.permissions().mode() & 0o077 == 0),
        Err(_) => false,
    };
    if ok {
        // SAFETY: called first thing in main, before any thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

fn main() -> ExitCode {
    quiet_runtime_dir();
    let cli = Cli::parse();
    let level = if cli.quiet {
        tracing::Level::WARN
    } else if cli.verbose {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    // async-nats logs each reconnection attempt itself (errors included);
    // the NATS output says each change of the connection's state once, from
    // the client's events (src/output/nats). Its own lines only with -v.
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(level)
        .with_target(
            "async_nats",
            if cli.verbose {
                tracing_subscriber::filter::LevelFilter::DEBUG
            } else {
                tracing_subscriber::filter::LevelFilter::OFF
            },
        );
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(cli::progress::LogWriter)
                .with_target(false)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .with(filter)
        .init();
    let result = match cli.command {
        Some(Command::Run(args)) => cli::run::cmd_run(&args),
        Some(Command::Simulate(args)) => cli::simulate::cmd_simulate(&args),
        Some(Command::View(args)) => cli::view::cmd_view(&args),
        Some(Command::Bench(args)) => cli::bench::cmd_bench(&args),
        Some(Command::Demo(args)) => cli::demo::cmd_demo(&args),
        Some(Command::Info(args)) => cli::info::cmd_info(&args),
        Some(Command::Replay(args)) => cli::replay::cmd_replay(&args),
        Some(Command::Site(args)) => cli::site::cmd_site(&args),
        None => cli::demo::cmd_demo(&cli::demo::DemoArgs {
            out: PathBuf::from("tews-demo"),
            seed: 1,
            ballistic: false,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tews: error: {}", cli::one_line(&e));
            // Exit statuses: README "Exit status".
            if e.downcast_ref::<cli::run::NothingDelivered>().is_some() {
                ExitCode::from(3)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
