//! A TCP proxy on loopback for link-cut tests: connections to its port are
//! relayed to a target port until `cut` closes them all; while it is down
//! (`down`), new connections are refused (closed at once), as a network
//! partition would.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub struct Proxy {
    pub port: u16,
    down: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// Relays connections to 127.0.0.1:`target`.
    pub fn to(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let down = Arc::new(AtomicBool::new(false));
        let live = Arc::new(Mutex::new(Vec::new()));
        let (down2, live2) = (down.clone(), live.clone());
        std::thread::spawn(move || {
            for incoming in listener.incoming() {
                let Ok(client) = incoming else { continue };
                if down2.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let mut sockets = live2.lock().expect("proxy lock");
                sockets.push(client.try_clone().expect("clone"));
                sockets.push(server.try_clone().expect("clone"));
                pump(client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                pump(server, client);
            }
        });
        Proxy { port, down, live }
    }

    /// Closes every relayed connection (both ends see the link drop).
    pub fn cut(&self) {
        for socket in self.live.lock().expect("proxy lock").drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Cuts the link and refuses new connections until `up`.
    pub fn down(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.cut();
    }

    pub fn up(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

/// Copies bytes from `from` to `to` on a thread until either side closes.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
