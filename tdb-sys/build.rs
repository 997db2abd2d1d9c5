//! Build script for tdb-sys: find a static libtdb, build the C shim, provide bindings.
//!
//! The library is looked for, in this order, in
//! 1. `TDB_SYS_LIB_DIR` (holding `libtdb.a`) + `TDB_SYS_INCLUDE_DIR` (holding `tdb.h`);
//! 2. the copy unpacked by `vendor/fetch-libtdb.sh`;
//! 3. `pkg-config tdb >= 1.4` (its libdir must hold `libtdb.a`).
//!
//! libtdb is always linked statically, so binaries do not depend on a system libtdb.so.
//! Everything this script writes goes to `OUT_DIR`.

use std::env;
use std::path::PathBuf;
use std::process;

const LIB_DIR_VAR: &str = "TDB_SYS_LIB_DIR";
const INCLUDE_DIR_VAR: &str = "TDB_SYS_INCLUDE_DIR";
const STATIC_LIB: &str = "libtdb.a";
const MIN_PKG_CONFIG_VERSION: &str = "1.4";
const SHIM_C: &str = "csrc/shim.c";
const SHIM_H: &str = "csrc/shim.h";

/// A libtdb found somewhere: where `libtdb.a` and `tdb.h` are.
struct Library {
    lib_dir: PathBuf,
    include_dir: PathBuf,
    /// Which search step found it, for messages.
    origin: &'static str,
}

fn main() {
    let library = find_library().unwrap_or_else(|| fail(&not_found_message()));
    link_static(&library);
    build_shim(&library);
    provide_bindings(&library);
}

/// Stops the build with `message`.
fn fail(message: &str) -> ! {
    eprintln!("\nerror: tdb-sys: {message}\n");
    process::exit(1);
}

fn not_found_message() -> String {
    format!(
        "no static libtdb (libtdb.a + tdb.h) found.\n\
         Run this from the workspace root (needs apt; run `apt-get update` first if the \
         download fails):\n\n    vendor/fetch-libtdb.sh\n\n\
         or point {LIB_DIR_VAR} at a directory with {STATIC_LIB} and {INCLUDE_DIR_VAR} at \
         one with tdb.h, or install Debian's libtdb-dev (pkg-config tdb >= \
         {MIN_PKG_CONFIG_VERSION} with {STATIC_LIB})."
    )
}

/// Reads an environment variable and tells cargo to rerun when it changes.
fn env_var(name: &str) -> Option<String> {
    println!("cargo:rerun-if-env-changed={name}");
    env::var(name).ok().filter(|value| !value.is_empty())
}

/// The directory of the workspace (where `vendor/` lives).
fn workspace_root() -> PathBuf {
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    PathBuf::from(manifest_dir)
        .parent()
        .expect("tdb-sys lives inside the workspace")
        .to_path_buf()
}

fn find_library() -> Option<Library> {
    from_env().or_else(from_vendor_dir).or_else(from_pkg_config)
}

/// Step 1: the explicit override; both variables or neither.
fn from_env() -> Option<Library> {
    let lib_dir = env_var(LIB_DIR_VAR);
    let include_dir = env_var(INCLUDE_DIR_VAR);
    let (lib_dir, include_dir) = match (lib_dir, include_dir) {
        (None, None) => return None,
        (Some(lib), Some(include)) => (PathBuf::from(lib), PathBuf::from(include)),
        _ => fail(&format!(
            "set both {LIB_DIR_VAR} and {INCLUDE_DIR_VAR}, or neither"
        )),
    };
    let library = Library {
        lib_dir,
        include_dir,
        origin: "TDB_SYS_LIB_DIR/TDB_SYS_INCLUDE_DIR",
    };
    if let Err(problem) = check_library(&library) {
        fail(&problem);
    }
    println!(
        "cargo:rerun-if-changed={}",
        library.lib_dir.join(STATIC_LIB).display()
    );
    Some(library)
}

/// Step 2: `vendor/libtdb/usr/lib/<multiarch>/libtdb.a` + `vendor/libtdb/usr/include`.
fn from_vendor_dir() -> Option<Library> {
    let vendor = workspace_root().join("vendor");
    // The directory is committed; its mtime changes when fetch-libtdb.sh unpacks into it,
    // and cargo scans it (a few small files) for changes below it.
    println!("cargo:rerun-if-changed={}", vendor.display());
    let root = vendor.join("libtdb");
    let library = Library {
        lib_dir: root.join("usr/lib").join(debian_multiarch()?),
        include_dir: root.join("usr/include"),
        origin: "vendor/libtdb",
    };
    check_library(&library).ok()?;
    Some(library)
}

/// Step 3: pkg-config, for the include directory and libdir; linking stays static.
fn from_pkg_config() -> Option<Library> {
    let found = pkg_config::Config::new()
        .atleast_version(MIN_PKG_CONFIG_VERSION)
        .cargo_metadata(false)
        .probe("tdb")
        .ok()?;
    let libdir = pkg_config::get_variable("tdb", "libdir").ok();
    let include_dir = found
        .include_paths
        .iter()
        .find(|dir| dir.join("tdb.h").is_file())
        .cloned()
        .or_else(|| {
            let dir = PathBuf::from(pkg_config::get_variable("tdb", "includedir").ok()?);
            dir.join("tdb.h").is_file().then_some(dir)
        })?;
    let lib_dir = found
        .link_paths
        .iter()
        .cloned()
        .chain(libdir.map(PathBuf::from))
        .find(|dir| dir.join(STATIC_LIB).is_file());
    let Some(lib_dir) = lib_dir else {
        fail(&format!(
            "pkg-config found tdb {} but no {STATIC_LIB} in its libdir; tdb-sys links \
             statically. {}",
            found.version,
            not_found_message()
        ));
    };
    Some(Library {
        lib_dir,
        include_dir,
        origin: "pkg-config",
    })
}

/// Why `library` is unusable, if it is.
fn check_library(library: &Library) -> Result<(), String> {
    let archive = library.lib_dir.join(STATIC_LIB);
    let header = library.include_dir.join("tdb.h");
    if !archive.is_file() {
        return Err(format!(
            "{} ({}) does not exist",
            archive.display(),
            library.origin
        ));
    }
    if !header.is_file() {
        return Err(format!(
            "{} ({}) does not exist",
            header.display(),
            library.origin
        ));
    }
    Ok(())
}

/// Debian's multiarch tuple for the target (`x86_64-linux-gnu`, `aarch64-linux-gnu`, ...).
fn debian_multiarch() -> Option<String> {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").ok()?;
    let os = env::var("CARGO_CFG_TARGET_OS").ok()?;
    let target_env = env::var("CARGO_CFG_TARGET_ENV").ok()?;
    let abi = env::var("CARGO_CFG_TARGET_ABI").unwrap_or_default();
    let arch = match arch.as_str() {
        "x86" => "i386",
        "powerpc64" if env::var("CARGO_CFG_TARGET_ENDIAN").ok()? == "little" => "powerpc64le",
        "riscv64" => "riscv64",
        other => other,
    };
    let suffix = match (target_env.as_str(), abi.as_str()) {
        ("gnu", "eabihf") => "gnueabihf".to_string(),
        ("gnu", "eabi") => "gnueabi".to_string(),
        ("gnu", "abi64") => "gnuabi64".to_string(),
        (target_env, _) => target_env.to_string(),
    };
    Some(format!("{arch}-{os}-{suffix}"))
}

fn link_static(library: &Library) {
    println!(
        "cargo:rustc-link-search=native={}",
        library.lib_dir.display()
    );
    println!("cargo:rustc-link-lib=static=tdb");
    // For crates that declare `links` dependencies on us (DEP_TDB_INCLUDE).
    println!("cargo:include={}", library.include_dir.display());
}

/// Compiles csrc/shim.c (rep_memset_s and the log trampoline) into a static library.
fn build_shim(library: &Library) {
    println!("cargo:rerun-if-changed={SHIM_C}");
    println!("cargo:rerun-if-changed={SHIM_H}");
    cc::Build::new()
        .file(SHIM_C)
        .include(&library.include_dir)
        .include("csrc")
        .warnings(true)
        .extra_warnings(true)
        .compile("tdb_sys_shim");
}

/// With `buildtime_bindgen`: generate bindings into OUT_DIR (lib.rs includes them).
#[cfg(feature = "buildtime_bindgen")]
fn provide_bindings(library: &Library) {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    generate_bindings(library, &out.join("bindings.rs"));
}

/// Without `buildtime_bindgen`, lib.rs includes the committed src/bindings.rs.
#[cfg(not(feature = "buildtime_bindgen"))]
fn provide_bindings(_library: &Library) {}

#[cfg(feature = "buildtime_bindgen")]
fn generate_bindings(library: &Library, out: &std::path::Path) {
    let header = std::path::Path::new(SHIM_H);
    let bindings = bindgen::Builder::default()
        .header(header.to_str().expect("UTF-8 path"))
        .clang_arg(format!("-I{}", library.include_dir.display()))
        .allowlist_function("tdb_.*")
        .allowlist_type("tdb_.*|TDB_.*")
        .allowlist_var("TDB_.*|tdb_null")
        // C enums arrive from C (tdb_error()): integer constants, never Rust enums.
        .default_enum_style(bindgen::EnumVariation::Consts)
        .layout_tests(true)
        // Generate for the workspace's minimum Rust version.
        .rust_target(
            bindgen::RustTarget::stable(85, 0)
                .unwrap_or_else(|err| fail(&format!("bindgen rust target: {err}"))),
        )
        .generate_comments(false)
        .formatter(bindgen::Formatter::Rustfmt)
        .generate()
        .unwrap_or_else(|err| fail(&format!("bindgen failed: {err}")));
    bindings
        .write_to_file(out)
        .unwrap_or_else(|err| fail(&format!("cannot write {}: {err}", out.display())));
}
