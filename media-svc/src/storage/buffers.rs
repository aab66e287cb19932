//! Recycled read buffers for file pieces. A fresh allocation per piece was
//! handed back to the kernel when freed and faulted in again page by page
//! for the next one, which cost a busy stream about a fifth of its CPU. Pieces
//! are read into buffers that return to a small shared pool when the last
//! `Bytes` made from them is dropped (hyper has sent it).

use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

use super::file_read::FILE_PIECE_BYTES;

/// Free buffers kept for reuse (each [`FILE_PIECE_BYTES`]); more are freed.
const MAX_FREE: usize = 32;

struct Pool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl Pool {
    const fn new() -> Self {
        Self {
            free: Mutex::new(Vec::new()),
        }
    }

    fn take(&'static self, len: usize) -> Vec<u8> {
        let mut buffer = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        buffer.clear();
        buffer.reserve(len.max(FILE_PIECE_BYTES));
        buffer
    }

    fn take_len(&'static self, len: usize) -> Vec<u8> {
        let mut buffer = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        // A recycled buffer keeps its old length: only bytes never written
        // before are zeroed (the caller overwrites them all anyway).
        if buffer.len() >= len {
            buffer.truncate(len);
        } else {
            buffer.reserve(len.max(FILE_PIECE_BYTES) - buffer.len());
            buffer.resize(len, 0);
        }
        buffer
    }

    fn freeze(&'static self, buffer: Vec<u8>) -> Bytes {
        Bytes::from_owner(Recycled { buffer, pool: self })
    }
}

static POOL: Pool = Pool::new();

/// An empty buffer that holds at least `len` bytes (and a whole piece, so all pooled buffers are alike).
pub(crate) fn take(len: usize) -> Vec<u8> {
    POOL.take(len)
}

/// A buffer of exactly `len` bytes of unspecified content, to be overwritten.
pub(crate) fn take_len(len: usize) -> Vec<u8> {
    POOL.take_len(len)
}

/// `buffer`'s bytes; the buffer goes back to the pool once they are dropped.
pub(crate) fn freeze(buffer: Vec<u8>) -> Bytes {
    POOL.freeze(buffer)
}

struct Recycled {
    buffer: Vec<u8>,
    pool: &'static Pool,
}

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.buffer);
        // Only piece-sized buffers are pooled, so the pool's memory stays bounded.
        if buffer.capacity() >= FILE_PIECE_BYTES && buffer.capacity() <= 2 * FILE_PIECE_BYTES {
            let mut free = self
                .pool
                .free
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if free.len() < MAX_FREE {
                free.push(buffer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> &'static Pool {
        Box::leak(Box::new(Pool::new()))
    }

    #[test]
    fn buffers_come_back_after_their_bytes_are_dropped() {
        let pool = pool();
        let mut buffer = pool.take(10);
        assert!(buffer.capacity() >= FILE_PIECE_BYTES);
        buffer.extend_from_slice(b"piece");
        let address = buffer.as_ptr();
        let bytes = pool.freeze(buffer);
        let shared = bytes.slice(1..3);
        assert_eq!(&shared[..], b"ie");
        drop(bytes);
        let other = pool.take(1);
        assert_ne!(other.as_ptr(), address, "still in use by a slice");
        drop(shared);
        let again = pool.take(1);
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty());
    }

    #[test]
    fn sized_buffers_are_recycled_too() {
        let pool = pool();
        let buffer = pool.take_len(1000);
        assert_eq!(buffer.len(), 1000);
        assert!(buffer.capacity() >= FILE_PIECE_BYTES);
        let address = buffer.as_ptr();
        drop(pool.freeze(buffer));
        let again = pool.take_len(FILE_PIECE_BYTES);
        assert_eq!((again.as_ptr(), again.len()), (address, FILE_PIECE_BYTES));
        drop(pool.freeze(again));
        assert_eq!(pool.take_len(10).len(), 10);
    }

    #[test]
    fn the_pool_is_bounded() {
        let pool = pool();
        let all: Vec<Bytes> = (0..MAX_FREE + 5)
            .map(|_| pool.freeze(pool.take(1)))
            .collect();
        drop(all);
        assert_eq!(pool.free.lock().unwrap().len(), MAX_FREE);
        // A buffer of another size is not kept.
        drop(pool.freeze(Vec::with_capacity(10)));
        assert_eq!(pool.free.lock().unwrap().len(), MAX_FREE);
    }
}
