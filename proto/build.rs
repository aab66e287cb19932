//! Compiles `archive/v1/*.proto` with the protoc shipped by `protoc-bin-vendored`,
//! so a fresh machine needs no system protoc.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "archive/v1/types.proto",
    "archive/v1/calls.proto",
    "archive/v1/media.proto",
    "archive/v1/authz.proto",
    "archive/v1/audit.proto",
    "archive/v1/gateway.proto",
    "archive/v1/admin.proto",
    "archive/v1/operator.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let include = protoc_bin_vendored::include_path()?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("archive_descriptor.bin"))
        .compile_protos(
            PROTOS,
            &[".", include.to_str().ok_or("non-UTF-8 include path")?],
        )?;
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    Ok(())
}
