//! The TCP ports a process listens on (Linux `/proc`; elsewhere `Unsupported`): its socket
//! descriptors matched against the listening sockets of its network namespace. For attaching to a
//! runtime that opens a debugging port on request (node's inspector after `SIGUSR1`).

use std::net::SocketAddr;

use super::ProbeError;

/// The local addresses of the TCP sockets (IPv4 and IPv6) that `pid` listens on, sorted.
pub fn listening_tcp(pid: u32) -> Result<Vec<SocketAddr>, ProbeError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        linux::listening_tcp(pid)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        Err(super::no_proc("listening_tcp"))
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux {
    use std::collections::HashSet;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

    use super::super::procfs::proc_error;
    use super::super::{list_fds, ProbeError};

    /// `st` of a listening socket in `/proc/net/tcp`.
    const LISTEN: &str = "0A";

    pub(super) fn listening_tcp(pid: u32) -> Result<Vec<SocketAddr>, ProbeError> {
        let inodes: HashSet<u64> = list_fds(Some(pid))?
            .iter()
            .filter_map(|f| {
                f.target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .parse()
                    .ok()
            })
            .collect();
        let mut out = Vec::new();
        for table in ["tcp", "tcp6"] {
            let text = match std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && table == "tcp6" => continue,
                Err(e) => return Err(proc_error(e, pid)),
            };
            out.extend(text.lines().skip(1).filter_map(|l| listener(l, &inodes)));
        }
        out.sort();
        Ok(out)
    }

    /// The local address of one `/proc/net/tcp{,6}` line when it listens on one of `inodes`.
    fn listener(line: &str, inodes: &HashSet<u64>) -> Option<SocketAddr> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
        if *state != LISTEN || !inodes.contains(&inode.parse().ok()?) {
            return None;
        }
        parse_address(local)
    }

    /// `0100007F:A227` (IPv4) or 32 hex digits and a port (IPv6): the kernel prints each 32-bit
    /// word of the address in host order (little-endian here), the port in big-endian hex.
    pub(super) fn parse_address(text: &str) -> Option<SocketAddr> {
        let (address, port) = text.split_once(':')?;
        let port = u16::from_str_radix(port, 16).ok()?;
        let words: Vec<u32> = (0..address.len() / 8)
            .map(|i| u32::from_str_radix(address.get(i * 8..i * 8 + 8)?, 16).ok())
            .collect::<Option<_>>()?;
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        match bytes.len() {
            4 => Some(SocketAddr::from((
                Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]),
                port,
            ))),
            16 => {
                let octets: [u8; 16] = bytes.try_into().ok()?;
                Some(SocketAddr::from((Ipv6Addr::from(octets), port)))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
#[cfg(any(target_os = "linux", target_os = "android"))]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_in_the_kernels_byte_order() {
        assert_eq!(
            linux::parse_address("0100007F:A227"),
            Some("127.0.0.1:41511".parse().unwrap())
        );
        assert_eq!(
            linux::parse_address("00000000000000000000000001000000:1F90"),
            Some("[::1]:8080".parse().unwrap())
        );
        assert_eq!(linux::parse_address("zz:1"), None);
    }

    #[test]
    fn a_listener_of_this_process_is_found_and_a_connection_is_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = std::net::TcpStream::connect(addr).unwrap();
        let found = listening_tcp(std::process::id()).unwrap();
        assert!(found.contains(&addr), "{found:?}");
        assert_eq!(found.iter().filter(|a| a.port() == addr.port()).count(), 1);
    }
}
