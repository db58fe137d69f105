//! `asterix+udp://HOST:PORT[?OPTIONS]`: ASTERIX over UDP, unicast or
//! multicast (IPv4 and IPv6), one data block per datagram.
//!
//! Per CPI: a CAT034 data block when the beam passed north or a sector
//! boundary (see [`super::scan`]), then the CPI's CAT048 records in data
//! blocks of at most `max_datagram` octets (default
//! [`DEFAULT_MAX_DATAGRAM_BYTES`]), each block its own datagram, so a
//! receiver never has to reassemble an IP fragment or split a datagram.
//!
//! The socket is connected (so the kernel reports an absent listener as
//! `ECONNREFUSED` on a later send) and non-blocking (a full socket buffer is
//! `EAGAIN`, never a wait). A refused send is counted (the datagram's plots
//! as undelivered, the attempt as a send error) and the output goes on: the
//! receiver may come back, and the detector must never wait for it.
//!
//! Options (`&`-separated `KEY=VALUE`):
//! - `ttl=N` (0..=255): the IP TTL / IPv6 hop limit. For a multicast group
//!   the default is 1 (the local subnet only: a warning feed does not leave
//!   the site by accident); for unicast the system default.
//! - `iface=ADDR`: for an IPv4 group the address of the interface to send on
//!   (`IP_MULTICAST_IF`), for an IPv6 group the interface index; for IPv4
//!   unicast the local address to send from.
//! - `loop=0|1`: whether this host's own members of the group receive it
//!   (`IP_MULTICAST_LOOP`; multicast only; system default 1).
//! - `max_datagram=N` (64..=65507): largest datagram payload, octets.

use super::cat034;
use super::cat048::{Cat048Config, EncodeStats, encode_data_blocks_counted};
use super::scan::ScanTracker;
use crate::output::{BeamPosition, OutputError, PlotSink, Undelivered};
use crate::plots::Plot;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};

/// Default largest datagram payload: an Ethernet MTU of 1500 less the IPv6
/// and UDP headers (1452) with room for a tunnel or VPN header, so no link a
/// site feed is likely to cross fragments it.
pub const DEFAULT_MAX_DATAGRAM_BYTES: usize = 1400;

/// Smallest `max_datagram`: one longest CAT048 record and its block header.
const MIN_MAX_DATAGRAM_BYTES: usize = 64;

/// Largest UDP payload over IPv4.
const MAX_UDP_PAYLOAD_BYTES: usize = 65507;

/// A parsed `asterix+udp://` destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpTarget {
    /// The argument as given (the output's name).
    pub spec: String,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// UDP port.
    pub port: u16,
    /// `ttl=`.
    pub ttl: Option<u8>,
    /// `iface=`.
    pub iface: Option<String>,
    /// `loop=`.
    pub multicast_loop: Option<bool>,
    /// `max_datagram=`.
    pub max_datagram_bytes: usize,
}

impl UdpTarget {
    /// The scheme this output is given with.
    pub const SCHEME: &'static str = "asterix+udp://";

    /// Parses `asterix+udp://HOST:PORT[?OPTIONS]`; the error is one line
    /// naming the argument.
    pub fn parse(spec: &str) -> Result<UdpTarget, OutputError> {
        let err = |problem: String| OutputError::Spec {
            spec: spec.to_string(),
            problem,
        };
        let rest = spec
            .strip_prefix(Self::SCHEME)
            .ok_or_else(|| err(format!("does not start with {}", Self::SCHEME)))?;
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| err("IPv6 address without closing \"]\"".into()))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => {
                    return Err(err(
                        "write an IPv6 address in brackets: asterix+udp://[ADDR]:PORT".into(),
                    ));
                }
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(err("missing host (asterix+udp://HOST:PORT)".into()));
        }
        let port = match port {
            None | Some("") => {
                return Err(err("missing port (asterix+udp://HOST:PORT)".into()));
            }
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => {
                    return Err(err(format!("port \"{p}\" is not a number in 1..=65535")));
                }
                Ok(p) => p,
            },
        };
        let mut target = UdpTarget {
            spec: spec.to_string(),
            host: host.to_string(),
            port,
            ttl: None,
            iface: None,
            multicast_loop: None,
            max_datagram_bytes: DEFAULT_MAX_DATAGRAM_BYTES,
        };
        let mut seen = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| err(format!("option \"{pair}\" is not KEY=VALUE")))?;
            if seen.contains(&key) {
                return Err(err(format!("option \"{key}\" given twice")));
            }
            seen.push(key);
            match key {
                "ttl" => {
                    target.ttl =
                        Some(value.parse().map_err(|_| {
                            err(format!("ttl \"{value}\" is not a number in 0..=255"))
                        })?);
                }
                "iface" if !value.is_empty() => target.iface = Some(value.to_string()),
                "iface" => return Err(err("iface is empty".into())),
                "loop" => {
                    target.multicast_loop = Some(match value {
                        "1" | "true" => true,
                        "0" | "false" => false,
                        _ => return Err(err(format!("loop \"{value}\" is not 0 or 1"))),
                    });
                }
                "max_datagram" => {
                    target.max_datagram_bytes = value
                        .parse()
                        .ok()
                        .filter(|n| (MIN_MAX_DATAGRAM_BYTES..=MAX_UDP_PAYLOAD_BYTES).contains(n))
                        .ok_or_else(|| {
                            err(format!(
                                "max_datagram \"{value}\" is not a number in \
                                 {MIN_MAX_DATAGRAM_BYTES}..={MAX_UDP_PAYLOAD_BYTES}"
                            ))
                        })?;
                }
                _ => {
                    return Err(err(format!(
                        "unknown option \"{key}\" (known: ttl, iface, loop, max_datagram)"
                    )));
                }
            }
        }
        Ok(target)
    }

    /// Resolves the host and opens a connected, non-blocking socket with the
    /// options applied.
    pub fn connect(&self) -> Result<(UdpSocket, SocketAddr), OutputError> {
        let err = |problem: String| OutputError::Spec {
            spec: self.spec.clone(),
            problem,
        };
        let dest = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| err(format!("cannot resolve host \"{}\": {e}", self.host)))?
            .next()
            .ok_or_else(|| err(format!("host \"{}\" has no address", self.host)))?;
        let multicast = dest.ip().is_multicast();
        if self.multicast_loop.is_some() && !multicast {
            return Err(err(format!(
                "loop applies to multicast groups only ({} is unicast)",
                dest.ip()
            )));
        }
        let io = |what: &str, e: std::io::Error| err(format!("{what}: {e}"));
        let socket = Socket::new(Domain::for_address(dest), Type::DGRAM, Some(Protocol::UDP))
            .map_err(|e| io("cannot create a UDP socket", e))?;
        let mut local: SocketAddr = match dest {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        match (dest.ip(), self.iface.as_deref()) {
            (IpAddr::V4(_), Some(iface)) => {
                let addr: Ipv4Addr = iface.parse().map_err(|_| {
                    err(format!(
                        "iface \"{iface}\" is not an IPv4 address (the interface's own address)"
                    ))
                })?;
                if multicast {
                    socket
                        .set_multicast_if_v4(&addr)
                        .map_err(|e| io(&format!("iface {addr}"), e))?;
                } else {
                    local = (addr, 0).into();
                }
            }
            (IpAddr::V6(_), Some(iface)) => {
                let index: u32 = iface.parse().map_err(|_| {
                    err(format!(
                        "iface \"{iface}\" is not an interface index (IPv6 groups are joined by index)"
                    ))
                })?;
                if !multicast {
                    return Err(err("iface for IPv6 unicast is not supported".into()));
                }
                socket
                    .set_multicast_if_v6(index)
                    .map_err(|e| io(&format!("iface {index}"), e))?;
            }
            (_, None) => {}
        }
        let ttl = self.ttl.map(u32::from).or(multicast.then_some(1));
        if let Some(ttl) = ttl {
            let result = match (dest.ip(), multicast) {
                (IpAddr::V4(_), true) => socket.set_multicast_ttl_v4(ttl),
                (IpAddr::V4(_), false) => socket.set_ttl_v4(ttl),
                (IpAddr::V6(_), true) => socket.set_multicast_hops_v6(ttl),
                (IpAddr::V6(_), false) => socket.set_unicast_hops_v6(ttl),
            };
            result.map_err(|e| io(&format!("ttl {ttl}"), e))?;
        }
        if let Some(on) = self.multicast_loop {
            let result = match dest.ip() {
                IpAddr::V4(_) => socket.set_multicast_loop_v4(on),
                IpAddr::V6(_) => socket.set_multicast_loop_v6(on),
            };
            result.map_err(|e| io("loop", e))?;
        }
        socket
            .bind(&SockAddr::from(local))
            .map_err(|e| io(&format!("cannot bind {local}"), e))?;
        socket
            .connect(&SockAddr::from(dest))
            .map_err(|e| io(&format!("cannot send to {dest}"), e))?;
        socket
            .set_nonblocking(true)
            .map_err(|e| io("non-blocking mode", e))?;
        Ok((socket.into(), dest))
    }
}

/// Sends CAT034 and CAT048 data blocks as UDP datagrams.
pub struct AsterixUdpSink {
    name: String,
    config: Cat048Config,
    socket: UdpSocket,
    max_datagram_bytes: usize,
    scan: ScanTracker,
    stats: EncodeStats,
    /// Datagrams sent, and the kernel's refusals by kind (for the log).
    datagrams_sent: u64,
    refused: u64,
    undelivered: Undelivered,
    buffer: Vec<u8>,
    messages: Vec<cat034::ServiceMessage>,
}

impl AsterixUdpSink {
    /// Opens the socket for `target`.
    pub fn open(target: &UdpTarget, config: Cat048Config) -> Result<Self, OutputError> {
        let (socket, dest) = target.connect()?;
        tracing::debug!("{}: sending to {dest}", target.spec);
        Ok(AsterixUdpSink {
            name: target.spec.clone(),
            config,
            socket,
            max_datagram_bytes: target.max_datagram_bytes,
            scan: ScanTracker::default(),
            stats: EncodeStats::default(),
            datagrams_sent: 0,
            refused: 0,
            undelivered: Undelivered::default(),
            buffer: Vec::new(),
            messages: Vec::new(),
        })
    }

    /// What was encoded so far, including the plots that could not be.
    pub fn stats(&self) -> EncodeStats {
        self.stats
    }

    /// Sends one datagram; false (counted, logged) when the kernel refused it.
    fn send(&mut self, datagram: &[u8]) -> bool {
        match self.socket.send(datagram) {
            Ok(_) => {
                self.datagrams_sent += 1;
                true
            }
            Err(e) => {
                self.refused += 1;
                self.undelivered.send_errors += 1;
                // First refusal, then every 1000th: a receiver that is away
                // for an hour must not flood the log.
                if self.refused % 1000 == 1 {
                    tracing::warn!(
                        "{}: datagram not sent ({e}); {} refused so far, output continues",
                        self.name,
                        self.refused
                    );
                }
                false
            }
        }
    }

    fn send_plots(&mut self, plots: &[Plot]) {
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.clear();
        let dropped = self.stats.plots_dropped;
        let blocks = encode_data_blocks_counted(
            plots,
            &self.config,
            self.max_datagram_bytes,
            &mut self.stats,
            &mut buffer,
        );
        self.undelivered.plots += self.stats.plots_dropped - dropped;
        for (k, block) in blocks.iter().enumerate() {
            let end = blocks.get(k + 1).map_or(buffer.len(), |b| b.start);
            if !self.send(&buffer[block.start..end]) {
                self.undelivered.plots += block.records;
            }
        }
        self.buffer = buffer;
    }
}

impl PlotSink for AsterixUdpSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn write(&mut self, plots: &[Plot]) -> Result<(), OutputError> {
        self.send_plots(plots);
        Ok(())
    }

    fn write_cpi(&mut self, beam: &BeamPosition, plots: &[Plot]) -> Result<(), OutputError> {
        self.messages.clear();
        self.scan.advance(beam, &mut self.messages);
        if !self.messages.is_empty() {
            let mut block = Vec::new();
            cat034::encode_data_block(&self.messages, self.config.site, &mut block);
            self.send(&block);
        }
        self.send_plots(plots);
        Ok(())
    }

    fn take_undelivered(&mut self) -> Undelivered {
        std::mem::take(&mut self.undelivered)
    }

    fn finish(&mut self) -> Result<(), OutputError> {
        let s = self.stats;
        tracing::info!(
            "{}: {} CAT048 records encoded; {} datagrams sent, {} refused by the system; \
             {} extended range (REF ERR), {} without I048/120, {} measured heights \
             without I048/110, {} plots not encoded",
            self.name,
            s.records,
            self.datagrams_sent,
            self.refused,
            s.extended_range,
            s.doppler_omitted,
            s.height_omitted,
            s.plots_dropped
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_options() {
        let t = UdpTarget::parse("asterix+udp://127.0.0.1:8600").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8600));
        assert_eq!(t.max_datagram_bytes, DEFAULT_MAX_DATAGRAM_BYTES);
        let t = UdpTarget::parse(
            "asterix+udp://239.1.2.3:8600?ttl=0&iface=127.0.0.1&loop=1&max_datagram=512",
        )
        .unwrap();
        assert_eq!(t.ttl, Some(0));
        assert_eq!(t.iface.as_deref(), Some("127.0.0.1"));
        assert_eq!(t.multicast_loop, Some(true));
        assert_eq!(t.max_datagram_bytes, 512);
        let t = UdpTarget::parse("asterix+udp://[ff15::86]:8600?iface=1").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("ff15::86", 8600));
        let t = UdpTarget::parse("asterix+udp://radar-feed.local:30048").unwrap();
        assert_eq!(t.host, "radar-feed.local");
    }

    #[test]
    fn bad_specs_name_the_problem() {
        for (spec, words) in [
            ("asterix+udp://127.0.0.1", "missing port"),
            ("asterix+udp://127.0.0.1:", "missing port"),
            ("asterix+udp://:8600", "missing host"),
            ("asterix+udp://127.0.0.1:0", "1..=65535"),
            ("asterix+udp://127.0.0.1:86000", "1..=65535"),
            ("asterix+udp://::1:8600", "brackets"),
            ("asterix+udp://[::1:8600", "closing"),
            ("asterix+udp://127.0.0.1:8600?ttl=300", "ttl \"300\""),
            ("asterix+udp://127.0.0.1:8600?ttl=-1", "ttl"),
            ("asterix+udp://127.0.0.1:8600?loop=yes", "loop"),
            ("asterix+udp://127.0.0.1:8600?ttl=1&ttl=2", "twice"),
            (
                "asterix+udp://127.0.0.1:8600?mtu=1400",
                "unknown option \"mtu\"",
            ),
            ("asterix+udp://127.0.0.1:8600?ttl", "KEY=VALUE"),
            (
                "asterix+udp://127.0.0.1:8600?max_datagram=10",
                "max_datagram",
            ),
        ] {
            let e = UdpTarget::parse(spec).unwrap_err().to_string();
            assert!(e.contains(spec) && e.contains(words), "{spec}: {e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn connect_refuses_what_cannot_apply() {
        for (spec, words) in [
            (
                "asterix+udp://127.0.0.1:8600?loop=1",
                "multicast groups only",
            ),
            (
                "asterix+udp://239.1.2.3:8600?iface=eth0",
                "not an IPv4 address",
            ),
            // Empty labels: the resolver refuses the name itself, so the test
            // sends no DNS query off this host.
            ("asterix+udp://no..such..host:8600", "cannot resolve host"),
        ] {
            let e = UdpTarget::parse(spec)
                .unwrap()
                .connect()
                .unwrap_err()
                .to_string();
            assert!(e.contains(spec) && e.contains(words), "{spec}: {e}");
            assert!(!e.contains('\n'));
        }
    }
}
