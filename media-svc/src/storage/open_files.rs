//! Recording files kept open between playback requests, as nginx's
//! `open_file_cache` keeps them: a browser seeking through a recording asks
//! for the same file again and again, and opening it by path (a walk of
//! every directory, a new open file, its last close) was a tenth of a
//! 64 KiB seek's CPU. A request gets a descriptor of its own (`dup` of the
//! kept one) and the file's metadata read afresh through it.
//!
//! A recording's file is written once and never rewritten in place; it only
//! goes away. A kept file whose last link is gone (deleted, or replaced by a
//! rename, by this process or any other) is dropped at its next use, and the
//! local store forgets a path before it changes it itself. At most
//! [`CAPACITY`] files stay open.

use std::{
    collections::HashMap,
    fs::{File, Metadata},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

/// Files kept open at most (each holds a descriptor).
pub(crate) const CAPACITY: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct OpenFiles {
    files: Mutex<HashMap<PathBuf, Arc<File>>>,
}

impl OpenFiles {
    /// The kept file of `path` (a descriptor of its own) and its metadata
    /// now, unless none is kept or it is no longer linked there.
    pub(crate) fn get(&self, path: &Path) -> Option<(File, Metadata)> {
        // The `dup` outside the lock: requests for other files do not wait on it.
        let kept = self.files.lock().expect("open files").get(path)?.clone();
        let found = kept.try_clone().ok().and_then(|f| {
            let metadata = f.metadata().ok()?;
            (metadata.nlink() > 0).then_some((f, metadata))
        });
        if found.is_none() {
            self.forget(path);
        }
        found
    }

    /// Keeps `file` (just opened at `path`) open for the next request.
    pub(crate) fn keep(&self, path: &Path, file: &File) {
        let Ok(kept) = file.try_clone() else { return };
        let mut files = self.files.lock().expect("open files");
        if files.len() >= CAPACITY && !files.contains_key(path) {
            // Any one: seeks come in bursts per recording, and a miss costs an open.
            if let Some(old) = files.keys().next().cloned() {
                files.remove(&old);
            }
        }
        files.insert(path.to_path_buf(), Arc::new(kept));
    }

    pub(crate) fn forget(&self, path: &Path) {
        self.files.lock().expect("open files").remove(path);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.files.lock().expect("open files").len()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn read(mut file: File) -> String {
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn a_kept_file_is_handed_out_until_its_path_loses_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.mp3");
        std::fs::write(&path, "first").unwrap();
        let open = OpenFiles::default();
        assert!(open.get(&path).is_none());
        open.keep(&path, &File::open(&path).unwrap());
        let (file, metadata) = open.get(&path).unwrap();
        assert_eq!(metadata.len(), 5);
        assert_eq!(read(file), "first");

        // Replaced by a rename (another process, say): the old file is unlinked.
        let next = dir.path().join("next");
        std::fs::write(&next, "second!").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert!(open.get(&path).is_none());
        assert_eq!(open.len(), 0);

        open.keep(&path, &File::open(&path).unwrap());
        std::fs::remove_file(&path).unwrap();
        assert!(open.get(&path).is_none(), "a deleted file is not served");
    }

    #[test]
    fn at_most_capacity_files_stay_open() {
        let dir = tempfile::tempdir().unwrap();
        let open = OpenFiles::default();
        for i in 0..CAPACITY + 20 {
            let path = dir.path().join(format!("{i}.mp3"));
            std::fs::write(&path, "x").unwrap();
            open.keep(&path, &File::open(&path).unwrap());
        }
        assert_eq!(open.len(), CAPACITY);
    }
}
