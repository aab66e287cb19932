//! Sends a relayed S3 answer (`storage::s3_relay`) to the player with
//! `splice(2)`: the kernel moves the received pages from the S3 server's
//! socket into a pipe and from the pipe into the player's socket, so
//! media-svc neither copies the audio nor wakes up for every small read.
//! The body bytes that arrived with the S3 server's head go first, written
//! as they are. A stall of the S3 server longer than the store's timeout ends the
//! answer, as does a player that goes away (`EPIPE`); either way the
//! connection to the S3 server is dropped, never reused half-read.

use std::io;

use rustix::pipe::{PipeFlags, SpliceFlags};
use tokio::{io::Interest, net::TcpStream};

use super::sendfile::send_head;
use crate::{storage::RelayedBody, tombstones::Revocation};

/// Pipe capacity asked for (the default is 64 KiB; Linux allows up to
/// `/proc/sys/fs/pipe-max-size`, 1 MiB by default, to anyone).
const PIPE_BYTES: usize = 1024 * 1024;

/// Sends all of `body` to `client`, unless `revocation` stops it first.
pub(crate) async fn relay(
    client: &TcpStream,
    mut body: RelayedBody,
    revocation: &Revocation,
) -> io::Result<()> {
    let idle = body.idle();
    revocation.check_io()?;
    send_head(client, &body.leftover, false).await?;
    let (from_pipe, into_pipe) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    // A smaller pipe only means more calls.
    let capacity = rustix::pipe::fcntl_setpipe_size(&into_pipe, PIPE_BYTES).unwrap_or(64 * 1024);
    let flags = SpliceFlags::NONBLOCK | SpliceFlags::MOVE;
    while body.remaining() > 0 {
        let want = usize::try_from(body.remaining())
            .unwrap_or(usize::MAX)
            .min(capacity);
        // Fill the (empty) pipe with what the S3 server has sent so far.
        let upstream = body.stream();
        let filled = loop {
            tokio::time::timeout(idle, upstream.readable())
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the S3 server stalled"))??;
            match upstream.try_io(Interest::READABLE, || {
                rustix::pipe::splice(upstream, None, &into_pipe, None, want, flags)
                    .map_err(io::Error::from)
            }) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the S3 server closed the connection before the end of the body",
                    ));
                }
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        };
        body.advance(filled as u64);
        // Empty it into the player's socket.
        let mut in_pipe = filled;
        while in_pipe > 0 {
            client.writable().await?;
            // A recording buried meanwhile stops here (its upstream
            // connection is dropped, not reused, with the body unread).
            revocation.check_io()?;
            match client.try_io(Interest::WRITABLE, || {
                rustix::pipe::splice(&from_pipe, None, client, None, in_pipe, flags)
                    .map_err(io::Error::from)
            }) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => in_pipe -= n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }
    body.finished();
    Ok(())
}

#[cfg(test)]
mod tests {
    use object_store::path::Path;
    use tokio::{
        io::AsyncReadExt,
        net::{TcpListener, TcpStream},
    };

    use super::*;
    use crate::storage::s3_relay_tests::{Script, answer, fake_s3, relay_to};

    /// A connected pair: what `relay` writes to, and the player's end.
    async fn player() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (ours, theirs) = tokio::join!(listener.accept(), TcpStream::connect(addr));
        (ours.unwrap().0, theirs.unwrap())
    }

    async fn body_of(relay: &std::sync::Arc<crate::storage::S3Relay>) -> RelayedBody {
        match relay.get(&Path::from("k"), None, None).await.unwrap() {
            crate::storage::s3_relay_tests::Answer::Body(body) => body,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_large_body_arriving_in_pieces_reaches_the_player_whole() {
        let never = Revocation::never();
        let object: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut pieces = vec![answer(
            "200 OK",
            &["Content-Length: 3000000"],
            &object[..1000],
        )];
        pieces.extend(object[1000..].chunks(700_000).map(<[u8]>::to_vec));
        let fake = fake_s3(vec![
            Script {
                pieces,
                close: false,
            },
            Script {
                pieces: vec![answer("200 OK", &["Content-Length: 3"], b"abc")],
                close: false,
            },
        ])
        .await;
        let relay = relay_to(&fake.endpoint);
        let (ours, mut theirs) = player().await;
        let body = body_of(&relay).await;
        let read = async {
            let mut got = vec![0; object.len()];
            theirs.read_exact(&mut got).await.unwrap();
            got
        };
        let (sent, got) = tokio::join!(super::relay(&ours, body, &never), read);
        sent.unwrap();
        assert!(got == object, "the player got other bytes");
        // Read to its end, the connection serves the next GET.
        let body = body_of(&relay).await;
        let (sent, got) = tokio::join!(super::relay(&ours, body, &never), async {
            let mut got = [0; 3];
            theirs.read_exact(&mut got).await.unwrap();
            got
        });
        sent.unwrap();
        assert_eq!(&got, b"abc");
    }

    #[tokio::test]
    async fn a_relayed_answer_is_read_once_by_whoever_takes_it_first() {
        let ok = || Script {
            pieces: vec![answer("200 OK", &["Content-Length: 5"], b"hello")],
            close: true,
        };
        let fake = fake_s3(vec![ok(), ok()]).await;
        let relay = relay_to(&fake.endpoint);
        // Another driver of the router polls the response's own body.
        let handle = crate::storage::RelayHandle::new(body_of(&relay).await);
        let out_of_band =
            super::super::sendfile::OutOfBand::Relayed(handle.clone(), Revocation::never());
        assert_eq!(out_of_band.len(), 5);
        let read = axum::body::to_bytes(out_of_band.fallback_body(), 100).await;
        assert_eq!(&read.unwrap()[..], b"hello");
        assert!(handle.take().is_none(), "read twice");
        let (ours, _theirs) = player().await;
        assert!(
            out_of_band.send(&ours).await.is_err(),
            "sent after it was read"
        );

        // The server takes it first: the fallback body is then empty.
        let handle = crate::storage::RelayHandle::new(body_of(&relay).await);
        let out_of_band = super::super::sendfile::OutOfBand::Relayed(handle, Revocation::never());
        let fallback = out_of_band.fallback_body();
        let (ours, mut theirs) = player().await;
        out_of_band.send(&ours).await.unwrap();
        let mut got = [0; 5];
        theirs.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
        assert!(
            axum::body::to_bytes(fallback, 100)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn an_s3_server_that_stops_short_ends_the_answer_with_an_error() {
        let never = Revocation::never();
        let fake = fake_s3(vec![Script {
            pieces: vec![
                answer("200 OK", &["Content-Length: 500000"], &[7; 100]),
                vec![8; 200_000],
            ],
            close: true,
        }])
        .await;
        let relay = relay_to(&fake.endpoint);
        let (ours, mut theirs) = player().await;
        let body = body_of(&relay).await;
        let read = async {
            let mut got = Vec::new();
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(2),
                theirs.read_to_end(&mut got),
            )
            .await;
            got.len()
        };
        let (sent, got) = tokio::join!(
            async {
                let sent = super::relay(&ours, body, &never).await;
                drop(ours);
                sent
            },
            read
        );
        assert_eq!(sent.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            got, 200_100,
            "everything received was passed on, nothing more"
        );
    }

    #[tokio::test]
    async fn a_revoked_body_stops_before_the_next_piece() {
        let fake = fake_s3(vec![Script {
            pieces: vec![
                answer("200 OK", &["Content-Length: 300100"], &[7; 100]),
                vec![8; 300_000],
            ],
            close: false,
        }])
        .await;
        let relay = relay_to(&fake.endpoint);
        let (ours, mut theirs) = player().await;
        let body = body_of(&relay).await;
        // Revoked already (a grant that expired, a recording buried).
        let revoked = Revocation::never().until(std::time::Instant::now());
        let read = async {
            let mut got = Vec::new();
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(2),
                theirs.read_to_end(&mut got),
            )
            .await;
            got.len()
        };
        let (sent, got) = tokio::join!(
            async {
                let sent = super::relay(&ours, body, &revoked).await;
                drop(ours);
                sent
            },
            read
        );
        assert_eq!(sent.unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(got, 0, "not a byte of the body went out");
    }
}
