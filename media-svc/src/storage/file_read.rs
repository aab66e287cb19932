//! Reading a byte range of a local file. object_store hands a local file out
//! 8 KiB per blocking-pool task, which held one playback stream to about
//! 100 MB/s; here each task reads one large piece at its offset (positional
//! reads, so one open file can serve several readers), and the next piece
//! is read while the previous one is being sent, so the disk (or page cache)
//! and the socket work at the same time. A stream holds at most two pieces,
//! in recycled buffers (see `buffers`).
//!
//! The HTTP endpoint does not read through here when it can help it: it
//! hands a [`FileRange`] to `sendfile(2)` (see `http::sendfile`); the stream
//! is its fallback and the gRPC `ReadRecording` path.

use std::{fs::File, io, ops::Range, os::unix::fs::FileExt, sync::Arc};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use tokio::task::JoinHandle;

use super::{ByteStream, buffers};
use crate::Error;

/// Bytes one blocking read fetches: the unit of a file stream.
pub const FILE_PIECE_BYTES: usize = 256 * 1024;

/// An open local file and the byte range of it to send.
#[derive(Debug, Clone)]
pub struct FileRange {
    file: Arc<File>,
    range: Range<u64>,
}

impl FileRange {
    pub(crate) fn new(file: File, range: Range<u64>) -> Self {
        Self {
            file: Arc::new(file),
            range,
        }
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    pub fn range(&self) -> Range<u64> {
        self.range.clone()
    }

    /// The bytes, read in pieces when the stream is first polled.
    pub fn stream(&self) -> ByteStream {
        let len = self.range.end - self.range.start;
        pieces(self.file.clone(), self.range.start, len)
            .map_err(Error::Io)
            .boxed()
    }
}

type Piece = JoinHandle<io::Result<Bytes>>;

/// Reads `len` bytes at `offset` on the blocking pool.
fn read_piece(file: Arc<File>, offset: u64, len: u64) -> Piece {
    tokio::task::spawn_blocking(move || {
        let len = usize::try_from(len).unwrap_or(FILE_PIECE_BYTES);
        let mut buf = buffers::take_len(len);
        file.read_exact_at(&mut buf, offset).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(e.kind(), "the file is shorter than the range read from it")
            } else {
                e
            }
        })?;
        Ok(buffers::freeze(buf))
    })
}

/// `len` bytes of `file` from `offset` in pieces of [`FILE_PIECE_BYTES`]
/// (the last may be shorter). Nothing is read before the first poll; after
/// that the next piece is read while the current one is consumed.
pub(crate) fn pieces(
    file: Arc<File>,
    offset: u64,
    len: u64,
) -> BoxStream<'static, io::Result<Bytes>> {
    struct State {
        file: Arc<File>,
        pending: Option<Piece>,
        /// Where the next piece not yet asked for starts, and how much is left after it.
        next: u64,
        remaining: u64,
    }
    impl State {
        fn start_next(&mut self) {
            let len = self.remaining.min(FILE_PIECE_BYTES as u64);
            if len > 0 {
                self.pending = Some(read_piece(self.file.clone(), self.next, len));
                self.next += len;
                self.remaining -= len;
            }
        }
    }
    let state = State {
        file,
        pending: None,
        next: offset,
        remaining: len,
    };
    futures::stream::unfold(state, |mut state| async move {
        if state.pending.is_none() {
            state.start_next();
        }
        let bytes = match state.pending.take()?.await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => {
                return Some((
                    Err(e),
                    State {
                        remaining: 0,
                        ..state
                    },
                ));
            }
            Err(e) => {
                let e = io::Error::other(e);
                return Some((
                    Err(e),
                    State {
                        remaining: 0,
                        ..state
                    },
                ));
            }
        };
        state.start_next();
        Some((Ok(bytes), state))
    })
    .boxed()
}

/// `range` of `file`, for [`ByteStream`] readers.
pub(crate) fn stream(file: File, range: Range<u64>) -> ByteStream {
    FileRange::new(file, range).stream()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use futures::TryStreamExt;

    use super::*;

    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        (f, data)
    }

    #[tokio::test]
    async fn ranges_come_back_whole_in_bounded_pieces() {
        let len = 3 * FILE_PIECE_BYTES + 1234;
        let (f, data) = file_of(len);
        for range in [
            0..len,
            1..len - 1,
            5000..5001,
            FILE_PIECE_BYTES..2 * FILE_PIECE_BYTES,
        ] {
            let file = File::open(f.path()).unwrap();
            let pieces: Vec<Bytes> = stream(file, range.start as u64..range.end as u64)
                .try_collect()
                .await
                .unwrap();
            assert!(
                pieces
                    .iter()
                    .all(|p| p.len() <= FILE_PIECE_BYTES && !p.is_empty())
            );
            assert_eq!(pieces.concat(), data[range.clone()], "{range:?}");
        }
        let file = File::open(f.path()).unwrap();
        let none: Vec<Bytes> = stream(file, 7..7).try_collect().await.unwrap();
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn one_open_file_serves_several_ranges() {
        let (f, data) = file_of(2 * FILE_PIECE_BYTES);
        let whole = FileRange::new(File::open(f.path()).unwrap(), 0..data.len() as u64);
        let part = FileRange {
            range: 100..200_000,
            ..whole.clone()
        };
        let (a, b): (Vec<Bytes>, Vec<Bytes>) = futures::try_join!(
            whole.stream().try_collect::<Vec<_>>(),
            part.stream().try_collect::<Vec<_>>()
        )
        .unwrap();
        assert_eq!(a.concat(), data);
        assert_eq!(b.concat(), data[100..200_000]);
    }

    #[tokio::test]
    async fn a_file_shorter_than_the_range_is_an_error() {
        let (f, _) = file_of(1000);
        let file = File::open(f.path()).unwrap();
        let result: Result<Vec<Bytes>, Error> = stream(file, 500..2000).try_collect().await;
        assert!(matches!(result, Err(Error::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof));
    }
}
