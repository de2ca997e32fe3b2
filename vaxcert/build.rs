//! Embeds the scanner page's WebAssembly verifier when it was built (`scripts/build-wasm`, which writes
//! `target/wasm-verifier/`, or the folder `$VAXCERT_WASM_DIR` names): generates `wasm_assets.rs` in
//! `OUT_DIR`, `Some` of the glue script and the module, else `None` (the page then verifies on the
//! server).

use std::path::{Path, PathBuf};

/// The glue script and the module, as `wasm-bindgen --target web` names them.
const SCRIPT: &str = "verifier_wasm.js";
const MODULE: &str = "verifier_wasm_bg.wasm";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=VAXCERT_WASM_DIR");
    let dir = match std::env::var_os("VAXCERT_WASM_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
            let dir = manifest.join("../target/wasm-verifier");
            // An empty folder, so that cargo has something to watch: a missing path would rerun this
            // script, and rebuild the crate, on every build.
            std::fs::create_dir_all(&dir)?;
            dir
        }
    };
    println!("cargo:rerun-if-changed={}", dir.display());
    let script = dir.join(SCRIPT);
    let module = dir.join(MODULE);
    let generated = if script.is_file() && module.is_file() {
        format!(
            "Some(WasmAssets {{ script: include_str!({}), module: include_bytes!({}) }})",
            literal(&script.canonicalize()?)?,
            literal(&module.canonicalize()?)?,
        )
    } else {
        String::from("None")
    };
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("wasm_assets.rs");
    std::fs::write(out, generated)?;
    Ok(())
}

/// `path` as a Rust string literal.
fn literal(path: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let text = path
        .to_str()
        .ok_or("the WebAssembly folder's path is not UTF-8")?;
    Ok(format!("{text:?}"))
}
