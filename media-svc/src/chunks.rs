//! Re-chunking a byte stream: stores hand out whatever pieces they read (large
//! ones from a file, arbitrary ones from S3); gRPC messages go out in pieces of
//! one bounded size.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use crate::{Error, storage::ByteStream};

/// Pieces of exactly `size` bytes (the last may be shorter). Holds at most
/// `size` plus one incoming piece; pieces cut from a larger incoming piece
/// share its memory instead of being copied.
pub(crate) fn rechunk(inner: ByteStream, size: usize) -> ByteStream {
    let size = size.max(1);
    futures::stream::unfold(
        (Some(inner), BytesMut::new(), Bytes::new()),
        move |(mut inner, mut buf, mut carry)| async move {
            loop {
                if buf.is_empty() && carry.len() >= size {
                    let out = carry.split_to(size);
                    return Some((Ok(out), (inner, buf, carry)));
                }
                if !carry.is_empty() {
                    let take = (size - buf.len()).min(carry.len());
                    buf.extend_from_slice(&carry.split_to(take));
                }
                if buf.len() >= size {
                    let out = buf.split_to(size).freeze();
                    return Some((Ok(out), (inner, buf, carry)));
                }
                // Here `carry` is empty and `buf` holds less than `size`.
                let Some(stream) = inner.as_mut() else {
                    if buf.is_empty() {
                        return None;
                    }
                    let out = buf.split().freeze();
                    return Some((Ok(out), (None, buf, carry)));
                };
                match stream.next().await {
                    Some(Ok(piece)) => carry = piece,
                    Some(Err(e)) => {
                        return Some((
                            Err::<Bytes, Error>(e),
                            (None, BytesMut::new(), Bytes::new()),
                        ));
                    }
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
    async fn pieces_of_a_large_piece_share_its_memory() {
        let big = Bytes::from(vec![7u8; 3 * 1024 + 5]);
        let start = big.as_ptr() as usize;
        let items: Vec<Result<Bytes, Error>> = vec![Ok(big)];
        let out: Vec<Bytes> = rechunk(futures::stream::iter(items).boxed(), 1024)
            .try_collect()
            .await
            .unwrap();
        let lens: Vec<usize> = out.iter().map(Bytes::len).collect();
        assert_eq!(lens, [1024, 1024, 1024, 5]);
        // The full-size pieces point into the original allocation.
        for (i, piece) in out[..3].iter().enumerate() {
            assert_eq!(piece.as_ptr() as usize, start + i * 1024);
        }
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
