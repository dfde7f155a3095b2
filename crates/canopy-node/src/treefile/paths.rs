//! Paths in a tree file: commands (a path beside the file, or a name on `PATH`) and working
//! directories, resolved against the file's folder so a tree works from any current dir.

use std::path::{Component, Path, PathBuf};

/// Resolves a stdio `command`: one with a slash is a path relative to `base_dir` (made
/// absolute, since the child runs elsewhere) and must be an executable file; a bare name
/// must be found on `path_var` (a `PATH` value) and is kept as written.
pub(super) fn resolve_command(
    command: &str,
    base_dir: &Path,
    path_var: Option<&str>,
) -> Result<String, String> {
    if command.is_empty() {
        return Err("command is empty (name a program on PATH, or a path to one)".into());
    }
    if !has_separator(command) {
        let found = path_var.is_some_and(|paths| {
            std::env::split_paths(paths).any(|dir| is_executable_file(&dir.join(command)))
        });
        return if found {
            Ok(command.to_owned())
        } else {
            Err(format!("command '{command}' not found on PATH"))
        };
    }
    let resolved = resolve(base_dir, command);
    let shown = resolved.display();
    if !resolved.exists() {
        return Err(format!(
            "command '{command}' does not exist (resolved to {shown})"
        ));
    }
    if !is_executable_file(&resolved) {
        return Err(format!(
            "command '{command}' is not an executable file (resolved to {shown})"
        ));
    }
    resolved
        .into_os_string()
        .into_string()
        .map_err(|path| format!("command path {} is not valid UTF-8", path.display()))
}

/// Resolves a `cwd` against `base_dir`; it must be an existing directory.
pub(super) fn resolve_dir(dir: &str, base_dir: &Path) -> Result<PathBuf, String> {
    let resolved = resolve(base_dir, dir);
    if resolved.is_dir() {
        Ok(resolved)
    } else if resolved.exists() {
        Err(format!(
            "'{dir}' is not a directory (resolved to {})",
            resolved.display()
        ))
    } else {
        Err(format!(
            "directory '{dir}' does not exist (resolved to {})",
            resolved.display()
        ))
    }
}

/// `base_dir/path` without `.` segments (an absolute `path` stays as it is).
fn resolve(base_dir: &Path, path: &str) -> PathBuf {
    base_dir
        .join(path)
        .components()
        .filter(|component| !matches!(component, Component::CurDir))
        .collect()
}

fn has_separator(command: &str) -> bool {
    command.contains('/') || (cfg!(windows) && command.contains('\\'))
}

#[cfg(unix)]
fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable_file(path: &Path) -> bool {
    path.is_file() || path.with_extension("exe").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process_path() -> Option<String> {
        std::env::var("PATH").ok()
    }

    #[test]
    fn a_bare_name_is_looked_up_on_path_and_kept() {
        let base = Path::new("/nowhere");
        assert_eq!(
            resolve_command("sh", base, process_path().as_deref()),
            Ok("sh".to_owned())
        );
        assert_eq!(
            resolve_command("nope-mcp", base, process_path().as_deref()),
            Err("command 'nope-mcp' not found on PATH".to_owned())
        );
        assert_eq!(
            resolve_command("sh", base, None),
            Err("command 'sh' not found on PATH".to_owned())
        );
    }

    #[test]
    fn a_relative_path_resolves_against_the_base_dir() {
        let base = Path::new(env!("CARGO_MANIFEST_DIR"));
        let missing = resolve_command("./bin/x", base, None);
        assert_eq!(
            missing,
            Err(format!(
                "command './bin/x' does not exist (resolved to {})",
                base.join("bin/x").display()
            ))
        );
        let not_executable = resolve_command("./Cargo.toml", base, None);
        assert!(
            not_executable
                .as_ref()
                .is_err_and(|err| err.starts_with("command './Cargo.toml' is not an executable")),
            "{not_executable:?}"
        );
    }

    #[test]
    fn an_absolute_command_is_kept() {
        let sh = std::env::split_paths(&process_path().unwrap_or_default())
            .map(|dir| dir.join("sh"))
            .find(|path| is_executable_file(path));
        if let Some(sh) = sh.and_then(|sh| sh.to_str().map(str::to_owned)) {
            assert_eq!(resolve_command(&sh, Path::new("/else"), None), Ok(sh));
        }
    }

    #[test]
    fn cwd_must_be_an_existing_directory() {
        let base = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(resolve_dir("./src", base), Ok(base.join("src")));
        assert_eq!(resolve_dir(".", base), Ok(base.to_path_buf()));
        assert_eq!(
            resolve_dir("gone", base),
            Err(format!(
                "directory 'gone' does not exist (resolved to {})",
                base.join("gone").display()
            ))
        );
        assert!(resolve_dir("Cargo.toml", base).is_err_and(|err| err.contains("not a directory")));
    }
}
