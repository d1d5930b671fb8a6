//! Reading a file named from outside (a pid file, a CA bundle, a state file): only a regular
//! file, never more than asked for, and never a wait. A whole-file read of `/dev/zero` grows
//! until the node runs out of memory (execd sets no limit), and a FIFO blocks the open.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Open `path` for reading without blocking (a FIFO with no writer would hold the open
/// forever), and refuse it unless it is a regular file.
fn open_regular(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// At most the first `max` bytes of the regular file `path` (what follows is not read).
pub fn read_head(path: &Path, max: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    open_regular(path)?.take(max as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The whole regular file `path`, which must not be larger than `max` bytes.
pub fn read_limited(path: &Path, max: usize) -> io::Result<Vec<u8>> {
    let buf = read_head(path, max.saturating_add(1))?;
    if buf.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_fifos_are_refused_without_reading_or_waiting() {
        let err = read_head(Path::new("/dev/zero"), 64).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        let dir = std::env::temp_dir().join(format!("ocfbox-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = read_head(&fifo, 64).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        let file = dir.join("big");
        std::fs::write(&file, vec![b'x'; 100]).unwrap();
        assert_eq!(read_head(&file, 10).unwrap().len(), 10);
        assert!(read_limited(&file, 99).is_err());
        assert_eq!(read_limited(&file, 100).unwrap().len(), 100);
        std::fs::remove_dir_all(&dir).ok();
    }
}
