//! Zero-copy playback bodies. Serving a local recording by reading it into
//! memory and writing it to the socket copied every byte twice through user
//! space and handed each piece between a blocking-pool thread and the
//! runtime: media-svc reached a quarter of nginx's throughput for whole
//! files. With `sendfile(2)` the kernel moves page-cache pages straight into
//! the socket, as nginx does. hyper owns its connections and writes bodies
//! only from memory, which is why the playback endpoint has its own small
//! HTTP/1.1 server (`server`, `wire`): it writes the response head itself and
//! then, for a body that is a `storage::FileRange`, calls this.
//!
//! The head is sent first, on its own (nginx does the same: a head held back
//! with `MSG_MORE` to leave with the file's first bytes made seeks dearer).
//! The socket is non-blocking: each call sends what
//! the socket buffer takes and the task waits for it to drain. A file page
//! not in the page cache makes `sendfile` wait for the disk on the runtime
//! thread (nginx without `aio` does the same); recordings being played are
//! usually cached, and a stream holds no buffer at all, only the open file.
//! `SIGPIPE`, which a write to a closed socket raises, is ignored by every
//! Rust program (the standard library's start-up ignores it), so a client
//! that goes away is an `EPIPE` error here.

use std::{fs::File, io, ops::Range};

use axum::body::Body;
use rustix::net::SendFlags;
use tokio::{io::Interest, net::TcpStream};

use crate::{storage::FileRange, tombstones::Revocation};

/// A file body (sent with `sendfile(2)`) the handler leaves in the
/// response's extensions for the server to send itself, never polling the
/// response's own body; that body reads the same bytes for whoever else
/// drives the router (`fallback_body`).
#[derive(Debug, Clone)]
pub(crate) struct OutOfBand {
    pub(crate) file: FileRange,
    pub(crate) revocation: Revocation,
}

impl OutOfBand {
    pub(crate) fn len(&self) -> u64 {
        self.file.range().end - self.file.range().start
    }

    /// The bytes as a body, built only if polled (the server never polls it).
    pub(crate) fn fallback_body(&self) -> Body {
        Body::from_stream(self.revocation.clone().guard(self.file.stream()))
    }

    pub(crate) async fn send(self, stream: &TcpStream) -> io::Result<()> {
        send_file(
            stream,
            self.file.file(),
            self.file.range(),
            &self.revocation,
        )
        .await
    }
}

/// Bytes asked of one `sendfile` call; the socket buffer takes less anyway.
const MAX_SENDFILE_BYTES: usize = 4 * 1024 * 1024;

/// Writes `head` whole; with `more`, the kernel holds it for what follows.
pub(crate) async fn send_head(stream: &TcpStream, mut head: &[u8], more: bool) -> io::Result<()> {
    let flags = if more {
        SendFlags::MORE | SendFlags::NOSIGNAL
    } else {
        SendFlags::NOSIGNAL
    };
    while !head.is_empty() {
        stream.writable().await?;
        match stream.try_io(Interest::WRITABLE, || {
            rustix::net::send(stream, head, flags).map_err(io::Error::from)
        }) {
            Ok(n) => head = &head[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends `range` of `file` to `stream` from the page cache, asking
/// `revocation` before every call (what the socket buffer took already
/// still reaches the player).
async fn send_file(
    stream: &TcpStream,
    file: &File,
    range: Range<u64>,
    revocation: &Revocation,
) -> io::Result<()> {
    let mut offset = range.start;
    while offset < range.end {
        stream.writable().await?;
        revocation.check_io()?;
        let count = usize::try_from(range.end - offset)
            .unwrap_or(usize::MAX)
            .min(MAX_SENDFILE_BYTES);
        match stream.try_io(Interest::WRITABLE, || {
            rustix::fs::sendfile(stream, file, Some(&mut offset), count).map_err(io::Error::from)
        }) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file is shorter than the range sent from it",
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
