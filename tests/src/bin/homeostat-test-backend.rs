//! A small HTTP backend for Homeostat's gateway tests: one process per instance behind HAProxy.
//!
//! `homeostat-test-backend NAME PORT` answers every request with `200` and its name after a few
//! milliseconds of work. Its fault is switched on its own port, not through the gateway:
//! `GET /fault/errors` makes it answer `500`, `GET /fault/slow` adds 400 ms to every answer,
//! `GET /fault/off` makes it healthy again.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

const HEALTHY: u8 = 0;
const ERRORS: u8 = 1;
const SLOW: u8 = 2;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(name), Some(port)) = (args.first(), args.get(1).and_then(|p| p.parse::<u16>().ok())) else {
        eprintln!("usage: homeostat-test-backend NAME PORT");
        std::process::exit(2);
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("homeostat-test-backend {name}: cannot listen on 127.0.0.1:{port}: {e}");
        std::process::exit(1);
    });
    eprintln!("homeostat-test-backend {name} listening on 127.0.0.1:{port}");
    let fault = Arc::new(AtomicU8::new(HEALTHY));
    let served = Arc::new(AtomicU64::new(0));
    let name: Arc<str> = name.as_str().into();
    for stream in listener.incoming().flatten() {
        let (fault, served, name) = (fault.clone(), served.clone(), name.clone());
        std::thread::spawn(move || {
            let _ = serve(stream, &name, &fault, &served);
        });
    }
}

fn serve(mut s: TcpStream, name: &str, fault: &AtomicU8, served: &AtomicU64) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/fault/errors" => {
            fault.store(ERRORS, Ordering::SeqCst);
            ("200 OK", format!("{name}: answering 500 from now on"))
        }
        "/fault/slow" => {
            fault.store(SLOW, Ordering::SeqCst);
            ("200 OK", format!("{name}: answering slowly from now on"))
        }
        "/fault/off" => {
            fault.store(HEALTHY, Ordering::SeqCst);
            ("200 OK", format!("{name}: healthy"))
        }
        _ => {
            // A little work that varies, as real requests do.
            let n = served.fetch_add(1, Ordering::Relaxed);
            let mut work = Duration::from_millis(2 + n % 4);
            let f = fault.load(Ordering::SeqCst);
            if f == SLOW {
                work += Duration::from_millis(400);
            }
            std::thread::sleep(work);
            if f == ERRORS {
                ("500 Internal Server Error", format!("{name}: failing"))
            } else {
                ("200 OK", name.to_owned())
            }
        }
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(resp.as_bytes())?;
    s.flush()
}
