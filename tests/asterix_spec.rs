//! `--output asterix-file:PATH` parsing and opening: one-line errors that name
//! the argument, and no file before SAC/SIC and the SIM flag are configured.

use tews::output::OutputSpec;
use tews::output::asterix::SiteId;
use tews::output::asterix::cat048::Cat048Config;

#[test]
fn parses_asterix_file() {
    let spec: OutputSpec = "asterix-file:out/plots.ast".parse().unwrap();
    assert_eq!(
        spec,
        OutputSpec::AsterixFile {
            path: "out/plots.ast".into(),
            config: None
        }
    );
}

#[test]
fn bad_specs_give_one_line_errors() {
    for (arg, words) in [
        ("asterix-file:", "missing path"),
        ("asterix-file:-", "not written to stdout"),
        ("asterix:plots.ast", "asterix-file:PATH"),
    ] {
        let err = arg.parse::<OutputSpec>().unwrap_err().to_string();
        assert!(err.contains(arg) && err.contains(words), "{arg}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn open_refuses_without_site_and_sim_flag() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plots.ast");
    let spec: OutputSpec = format!("asterix-file:{}", path.display()).parse().unwrap();
    let err = spec.open().err().unwrap().to_string();
    assert!(
        err.contains("SAC/SIC") && err.contains("simulated"),
        "{err}"
    );
    assert!(!dir.path().join("plots.ast.partial").exists());

    let spec = spec.with_asterix(Cat048Config {
        site: SiteId { sac: 1, sic: 2 },
        simulated: false,
    });
    let mut sink = spec.open().unwrap();
    assert_eq!(sink.name(), format!("asterix-file:{}", path.display()));
    assert!(dir.path().join("plots.ast.partial").exists());
    sink.write(&[]).unwrap();
    sink.finish().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), Vec::<u8>::new());
}
