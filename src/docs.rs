//! Man pages and shell completions, generated from the clap definitions,
//! and the OpenAPI document, generated from the operation types, so they
//! cannot drift from the code. `scripts/gen-docs` writes them into
//! `man/` and `completions/`; a test regenerates and compares.

use std::path::Path;

use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

use crate::error::{Error, Exit, Result};

/// The shells we ship completions for.
pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::Elvish,
    Shell::PowerShell,
];

fn examples(bin: &str) -> &'static str {
    use crate::cli;
    match bin {
        "token" => cli::token::EXAMPLES,
        "grant" => cli::grant::EXAMPLES,
        "reload" => cli::reload::EXAMPLES,
        "worker" => cli::worker::EXAMPLES,
        "audit" => cli::audit::EXAMPLES,
        "serve" => cli::serve::EXAMPLES,
        _ => "",
    }
}

/// The man page of one binary, with EXIT STATUS, ENVIRONMENT and EXAMPLES.
pub fn man_page(cmd: clap::Command) -> Result<Vec<u8>> {
    let bin = cmd.get_name().to_owned();
    // The long help's epilogue repeats examples and exit codes; the man page
    // has proper sections for both instead.
    let cmd = cmd.after_long_help(None::<&str>).after_help(None::<&str>);
    let man = Man::new(cmd).manual("moat").source("moat");
    let mut out = Vec::new();
    let io = |e| Error::io("rendering man page", e);
    man.render_title(&mut out).map_err(io)?;
    man.render_name_section(&mut out).map_err(io)?;
    man.render_synopsis_section(&mut out).map_err(io)?;
    man.render_description_section(&mut out).map_err(io)?;
    man.render_options_section(&mut out).map_err(io)?;
    man.render_subcommands_section(&mut out).map_err(io)?;

    let mut roff = Roff::default();
    roff.control("SH", ["EXIT STATUS"]);
    for e in Exit::ALL {
        roff.control("TP", []);
        roff.text([bold(e.code().to_string())]);
        roff.text([roman(e.meaning())]);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, meaning) in crate::env::ALL {
        roff.control("TP", []);
        roff.text([bold(*name)]);
        roff.text([roman(*meaning)]);
    }
    roff.control("SH", ["EXAMPLES"]);
    for line in examples(&bin).lines().skip(1) {
        let line = line.trim_start();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') {
            roff.control("PP", []);
            roff.text([roman(line.trim_start_matches("# "))]);
        } else {
            roff.control("IP", []);
            roff.text([bold(line)]);
        }
    }
    roff.to_writer(&mut out).map_err(io)?;
    man.render_version_section(&mut out).map_err(io)?;
    Ok(out)
}

/// Every generated file: (relative path, contents).
pub fn generate() -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for cmd in crate::cli::commands() {
        let bin = cmd.get_name().to_owned();
        files.push((format!("man/{bin}.1"), man_page(cmd.clone())?));
        for shell in SHELLS {
            let mut buf = Vec::new();
            let mut c = cmd.clone();
            clap_complete::generate(shell, &mut c, &bin, &mut buf);
            let name = match shell {
                Shell::Bash => format!("{bin}.bash"),
                Shell::Zsh => format!("_{bin}"),
                Shell::Fish => format!("{bin}.fish"),
                Shell::Elvish => format!("{bin}.elv"),
                _ => format!("_{bin}.ps1"),
            };
            files.push((format!("completions/{name}"), buf));
        }
    }
    let mut api = serde_json::to_vec_pretty(&crate::ops::openapi::document())
        .map_err(|e| Error::internal(format!("encoding the OpenAPI document: {e}")))?;
    api.push(b'\n');
    files.push(("openapi.json".to_owned(), api));
    Ok(files)
}

/// Write every generated file under `root`.
pub fn write_all(root: &Path) -> Result<usize> {
    let files = generate()?;
    for (rel, bytes) in &files {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        std::fs::write(&path, bytes)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    Ok(files.len())
}
