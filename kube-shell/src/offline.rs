//! The offline subcommands' input and output (`check-config`, `plan`): files or stdin with a
//! size cap that says so in plain words, and stdout that tolerates a closed pipe
//! (docs/operations.md#offline-subcommands).

use std::io::Read;

/// The most `check-config` reads: the API server refuses requests above 3 MiB, so no
/// `kubectl get cm -o yaml` (config plus its last-applied copy and metadata) is larger.
pub const MANIFEST_LIMIT: u64 = 3 << 20;

/// The most `plan` reads as a service list (`kubectl get svc -A -o yaml` of ~50 000 services).
pub const SERVICES_LIMIT: u64 = 256 << 20;

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: input larger than {} ({limit} bytes), the most this command reads", human(*.limit))]
    TooLarge { path: String, limit: u64 },
}

/// Reads `path` (`-` = stdin) as UTF-8, refusing more than `limit` bytes without reading
/// them all.
pub fn read_input(path: &str, limit: u64) -> Result<String, InputError> {
    let io = |source| InputError::Io {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    if path == "-" {
        std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
            .map_err(io)?;
    }
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text ({e})"),
        ))
    })
}

/// `1 MiB`, `256 MiB`, `512 KiB`: a limit in the unit it was chosen in.
pub fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// `check-config` as a process: prints the JSON or the error and returns the exit status.
pub fn check_config_main(path: &str, mode: common::config::Mode, allow_empty: bool) -> u8 {
    let (code, out) = check_config(path, mode, allow_empty);
    match out {
        Ok(json) => print_stdout(&format!("{json}\n")),
        Err(e) => eprintln!("{e}"),
    }
    code
}

/// `check-config` as both binaries run it: reads PATH (`-` = stdin), validates in `mode`,
/// and returns the exit status with what to print on stdout or stderr.
pub fn check_config(
    path: &str,
    mode: common::config::Mode,
    allow_empty: bool,
) -> (u8, Result<String, String>) {
    match read_input(path, MANIFEST_LIMIT) {
        Err(e) => (2, Err(e.to_string())),
        Ok(input) => match common::config::check_input(&input, mode, allow_empty) {
            Ok(json) => (0, Ok(json)),
            Err(e) => (e.exit_code(), Err(e.to_string())),
        },
    }
}

/// Writes `text` to stdout; a closed pipe (`controller plan | head`) is not an error worth a
/// panic, so write errors are dropped.
pub fn print_stdout(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_limit_is_refused_in_plain_words() {
        let dir = std::env::temp_dir().join(format!("offline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join("big.yaml");
        std::fs::write(&path, vec![b'a'; 2049]).expect("write");
        let p = path.to_string_lossy().into_owned();
        let e = read_input(&p, 2048).expect_err("over the limit");
        assert_eq!(
            e.to_string(),
            format!("{p}: input larger than 2 KiB (2048 bytes), the most this command reads")
        );
        std::fs::write(&path, vec![b'a'; 2048]).expect("write");
        assert_eq!(read_input(&p, 2048).expect("at the limit").len(), 2048);
        std::fs::write(&path, [0xff, 0xfe]).expect("write");
        assert!(
            read_input(&p, 2048)
                .expect_err("binary")
                .to_string()
                .contains("not UTF-8 text")
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn limits_print_in_their_unit() {
        assert_eq!(human(MANIFEST_LIMIT), "3 MiB");
        assert_eq!(human(SERVICES_LIMIT), "256 MiB");
        assert_eq!(human(1 << 20), "1 MiB");
        assert_eq!(human(1536), "1536 bytes");
        assert_eq!(human(512 << 10), "512 KiB");
        assert_eq!(human(100), "100 bytes");
    }
}
