//! Re-chunking a byte stream: stores hand out whatever pieces they read (8 KiB
//! from a file, arbitrary from S3); responses go out in pieces of one size.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use crate::{Error, storage::ByteStream};

/// Pieces of exactly `size` bytes (the last may be shorter). Holds at most
/// `size` plus one incoming piece.
pub(crate) fn rechunk(inner: ByteStream, size: usize) -> ByteStream {
    let size = size.max(1);
    futures::stream::unfold(
        (Some(inner), BytesMut::new()),
        move |(mut inner, mut buf)| async move {
            loop {
                if buf.len() >= size {
                    let out = buf.split_to(size).freeze();
                    return Some((Ok(out), (inner, buf)));
                }
                let Some(stream) = inner.as_mut() else {
                    if buf.is_empty() {
                        return None;
                    }
                    let out = buf.split().freeze();
                    return Some((Ok(out), (None, buf)));
                };
                match stream.next().await {
                    Some(Ok(piece)) => {
                        if buf.is_empty() && piece.len() == size {
                            return Some((Ok(piece), (inner, buf)));
                        }
                        buf.extend_from_slice(&piece);
                    }
                    Some(Err(e)) => return Some((Err::<Bytes, Error>(e), (None, BytesMut::new()))),
                    None => inner = None,
                }
            }
        },
    )
    .boxed()
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;

    use super::*;

    fn pieces(sizes: &[usize]) -> ByteStream {
        let mut n = 0u8;
        let items: Vec<Result<Bytes, Error>> = sizes
            .iter()
            .map(|&len| {
                let piece: Vec<u8> = (0..len)
                    .map(|_| {
                        n = n.wrapping_add(1);
                        n
                    })
                    .collect();
                Ok(Bytes::from(piece))
            })
            .collect();
        futures::stream::iter(items).boxed()
    }

    #[tokio::test]
    async fn pieces_are_the_requested_size_and_nothing_is_lost() {
        let sizes = [8192, 8192, 100, 70_000, 3, 0, 65_536];
        let total: usize = sizes.iter().sum();
        let whole: Vec<Bytes> = pieces(&sizes).try_collect().await.unwrap();
        let out: Vec<Bytes> = rechunk(pieces(&sizes), 65_536).try_collect().await.unwrap();
        assert!(out[..out.len() - 1].iter().all(|b| b.len() == 65_536));
        assert_eq!(out.iter().map(Bytes::len).sum::<usize>(), total);
        assert_eq!(out.concat(), whole.concat());
        let empty: Vec<Bytes> = rechunk(pieces(&[]), 10).try_collect().await.unwrap();
        assert!(empty.is_empty());
    }

    #[tokio::test]
    async fn an_error_ends_the_stream() {
        let items: Vec<Result<Bytes, Error>> = vec![
            Ok(Bytes::from_static(b"abc")),
            Err(Error::NotFound("x".into())),
            Ok(Bytes::from_static(b"def")),
        ];
        let mut out = rechunk(futures::stream::iter(items).boxed(), 2);
        assert_eq!(
            out.next().await.unwrap().unwrap(),
            Bytes::from_static(b"ab")
        );
        assert!(out.next().await.unwrap().is_err());
        assert!(out.next().await.is_none());
    }
}
