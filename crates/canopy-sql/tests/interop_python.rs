//! The official Python MCP SDK as the client: tests/python_client.py drives the built binary
//! over stdio and over Streamable HTTP.
#![allow(clippy::unwrap_used)]

mod common;

#[test]
fn python_sdk_client_drives_the_server() {
    let python = std::env::var("CANOPY_PYTHON").unwrap_or_else(|_| {
        panic!("CANOPY_PYTHON is not set: run scripts/test.sh, which installs the Python MCP SDK (or: bash scripts/setup/python.sh; set -a; source .tools/test.env; set +a)")
    });
    let dir = common::tempdir::TempDir::new();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python_client.py");
    let output = std::process::Command::new(python)
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_canopy-sql"))
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python client failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.lines().any(|l| l == "18 passed, 0 failed"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
}
