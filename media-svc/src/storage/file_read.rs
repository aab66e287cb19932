//! Reading a byte range of a local file. object_store hands a local file out
//! 8 KiB per blocking-pool task, which held one playback stream to about
//! 100 MB/s; here each task reads one large piece, and the next piece is read
//! while the previous one is being sent, so the disk (or page cache) and the
//! socket work at the same time. A stream holds at most two pieces, in
//! recycled buffers (see `buffers`).

use std::{
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    ops::Range,
};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use tokio::task::JoinHandle;

use super::{ByteStream, buffers};
use crate::Error;

/// Bytes one blocking read fetches: the unit of a file stream.
pub const FILE_PIECE_BYTES: usize = 256 * 1024;

type Piece = JoinHandle<io::Result<(File, Bytes)>>;

/// Reads `len` bytes (after seeking to `seek`, when given) on the blocking pool.
fn read_piece(mut file: File, seek: Option<u64>, len: u64) -> Piece {
    tokio::task::spawn_blocking(move || {
        if let Some(at) = seek {
            file.seek(SeekFrom::Start(at))?;
        }
        let mut buf = buffers::take(usize::try_from(len).unwrap_or(FILE_PIECE_BYTES));
        (&mut file).take(len).read_to_end(&mut buf)?;
        if (buf.len() as u64) < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than the range read from it",
            ));
        }
        Ok((file, buffers::freeze(buf)))
    })
}

/// `len` bytes of `file` (from `seek`, else from where the file stands) in
/// pieces of [`FILE_PIECE_BYTES`] (the last may be shorter). The first read
/// starts at once, before the stream is polled.
pub(crate) fn pieces(
    file: File,
    seek: Option<u64>,
    len: u64,
) -> BoxStream<'static, io::Result<Bytes>> {
    let piece = FILE_PIECE_BYTES as u64;
    let first = len.min(piece);
    let pending = (first > 0).then(|| read_piece(file, seek, first));
    futures::stream::unfold(
        (pending, len - first),
        move |(pending, remaining)| async move {
            let (file, bytes) = match pending?.await {
                Ok(Ok(read)) => read,
                Ok(Err(e)) => return Some((Err(e), (None, 0))),
                Err(e) => return Some((Err(io::Error::other(e)), (None, 0))),
            };
            let next = remaining.min(piece);
            let pending = (next > 0).then(|| read_piece(file, None, next));
            Some((Ok(bytes), (pending, remaining - next)))
        },
    )
    .boxed()
}

/// `range` of `file`, for [`ByteStream`] readers.
pub(crate) fn stream(file: File, range: Range<u64>) -> ByteStream {
    pieces(file, Some(range.start), range.end - range.start)
        .map_err(Error::Io)
        .boxed()
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
    async fn a_file_shorter_than_the_range_is_an_error() {
        let (f, _) = file_of(1000);
        let file = File::open(f.path()).unwrap();
        let result: Result<Vec<Bytes>, Error> = stream(file, 500..2000).try_collect().await;
        assert!(matches!(result, Err(Error::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof));
    }
}
