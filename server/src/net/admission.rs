//! Connection admission: at most `--max-connections` `/game` connections in all and at most
//! `--max-connections-per-ip` from one address. A refused handshake gets a `connect_error`
//! starting with `server_full`.
//!
//! A slot is taken in the handshake middleware and held by a [`Slot`] guard stored in the
//! socket's extensions: it is given back when the socket is dropped, whichever way it ends
//! (even when socketioxide drops a socket whose CONNECT could not be sent, which skips the
//! disconnect handler). Loopback addresses are not limited per address ([`Exempt`]): they are
//! the operator's own machine (load tests, a local proxy; behind a proxy use `--trust-proxy` so
//! the limit applies to the real client address). `net::conn_guard` applies the same exemption
//! to its cap on raw TCP connections.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

/// Why a connection was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The server holds its maximum.
    #[error("server_full: the server is at its limit of {0} connections; try again later")]
    Full(usize),
    /// This address holds its maximum.
    #[error("server_full: too many connections from your address (limit {0})")]
    PerAddress(usize),
}

/// Which addresses the per-address limits leave alone: the operator's own machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exempt {
    /// Every loopback address, 127.0.0.0/8 and ::1 (the default: local proxies and load tests
    /// that spread over 127.0.0.x).
    Loopback,
    /// Only 127.0.0.1 and ::1 (`Config::exempt_all_loopback` off: a test plays a remote client
    /// from 127.0.0.2).
    Localhost,
}

impl Exempt {
    /// The exemption `Config::exempt_all_loopback` asks for.
    pub fn from_config(all_loopback: bool) -> Self {
        if all_loopback {
            Self::Loopback
        } else {
            Self::Localhost
        }
    }

    /// Whether `ip` is exempt. An IPv4-mapped IPv6 address (a dual-stack listener's view of an
    /// IPv4 peer) counts as the IPv4 address it carries.
    pub fn covers(self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match self {
            Self::Loopback => ip.is_loopback(),
            Self::Localhost => ip == Ipv4Addr::LOCALHOST || ip == Ipv6Addr::LOCALHOST,
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// The connection counters (shared by every handshake).
#[derive(Debug)]
pub struct Admission {
    max_total: usize,
    max_per_ip: usize,
    trust_proxy: bool,
    exempt: Exempt,
    counts: Mutex<Counts>,
}

/// One admitted connection; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    admission: Arc<Admission>,
    ip: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.admission.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(ip) = self.ip
            && let Some(n) = counts.per_ip.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&ip);
            }
        }
    }
}

impl Admission {
    /// Limits: `max_per_ip` 0 means no per-address limit; `trust_proxy` takes the client
    /// address from the last `X-Forwarded-For` entry (the one the trusted proxy added); `exempt`
    /// addresses are not limited per address.
    pub fn new(
        max_total: usize,
        max_per_ip: usize,
        trust_proxy: bool,
        exempt: Exempt,
    ) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_ip,
            trust_proxy,
            exempt,
            counts: Mutex::default(),
        })
    }

    /// The client's address as this server sees it.
    pub fn client_ip(&self, request: &Parts) -> Option<IpAddr> {
        if self.trust_proxy
            && let Some(ip) = request
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                // The last entry is the one the trusted proxy added; earlier ones are whatever
                // the client sent (a proxy that appends, like Debian's proxy_params, keeps them).
                .and_then(|v| v.rsplit(',').next())
                .and_then(|last| last.trim().parse().ok())
        {
            return Some(ip);
        }
        request
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
    }

    /// Takes a slot for a connection from `ip`, or says why not.
    pub fn admit(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Slot, Refusal> {
        let mut counts = self.lock();
        if counts.total >= self.max_total {
            return Err(Refusal::Full(self.max_total));
        }
        let limited_ip = ip
            .map(|ip| ip.to_canonical())
            .filter(|ip| self.max_per_ip > 0 && !self.exempt.covers(*ip));
        if let Some(ip) = limited_ip {
            let n = counts.per_ip.entry(ip).or_default();
            if *n >= self.max_per_ip {
                return Err(Refusal::PerAddress(self.max_per_ip));
            }
            *n += 1;
        }
        counts.total += 1;
        Ok(Slot {
            admission: self.clone(),
            ip: limited_ip,
        })
    }

    /// Connections admitted and not yet gone, and the number of addresses counted.
    pub fn counts(&self) -> (usize, usize) {
        let counts = self.lock();
        (counts.total, counts.per_ip.len())
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        // Plain counters: a poisoned lock still holds usable numbers.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_total_and_per_address_and_frees_slots_on_drop() {
        let admission = Admission::new(3, 2, false, Exempt::Loopback);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        let first = admission.admit(Some(a)).expect("1st");
        let second = admission.admit(Some(a)).expect("2nd");
        assert_eq!(
            admission.admit(Some(a)).expect_err("refused"),
            Refusal::PerAddress(2)
        );
        let third = admission.admit(Some(b)).expect("other address");
        assert_eq!(
            admission.admit(Some(b)).expect_err("refused"),
            Refusal::Full(3)
        );
        drop(first);
        assert_eq!(admission.counts(), (2, 2));
        let again = admission.admit(Some(a)).expect("a slot came back");
        drop((second, third, again));
        assert_eq!(admission.counts(), (0, 0), "nothing left behind");
    }

    #[test]
    fn loopback_is_not_limited_per_address() {
        let admission = Admission::new(10, 1, false, Exempt::Loopback);
        let local: IpAddr = "127.0.0.1".parse().expect("ip");
        let other_loopback: IpAddr = "127.0.0.2".parse().expect("ip");
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().expect("ip");
        let slots: Vec<Slot> = [local, local, other_loopback, other_loopback, mapped]
            .into_iter()
            .map(|ip| admission.admit(Some(ip)).expect("loopback"))
            .collect();
        assert_eq!(admission.counts(), (5, 0));
        drop(slots);
        assert_eq!(admission.counts(), (0, 0));
    }

    #[test]
    fn the_localhost_exemption_limits_other_loopback_addresses() {
        let admission = Admission::new(10, 1, false, Exempt::Localhost);
        let local: IpAddr = "127.0.0.1".parse().expect("ip");
        let second: IpAddr = "127.0.0.2".parse().expect("ip");
        let _a = admission.admit(Some(local)).expect("exempt");
        let _b = admission.admit(Some(local)).expect("exempt");
        let _c = admission.admit(Some(second)).expect("first from 127.0.0.2");
        assert_eq!(
            admission.admit(Some(second)).expect_err("limited"),
            Refusal::PerAddress(1)
        );
        assert!(Exempt::Localhost.covers("::1".parse().expect("ip")));
        assert!(!Exempt::Localhost.covers("::ffff:127.0.0.2".parse().expect("ip")));
    }

    #[test]
    fn the_forwarded_address_counts_only_behind_a_trusted_proxy() {
        let request = axum::http::Request::builder()
            .header("x-forwarded-for", "203.0.113.7, 10.0.0.1")
            .body(())
            .expect("request");
        let (mut parts, ()) = request.into_parts();
        parts.extensions.insert(ConnectInfo::<SocketAddr>(
            "127.0.0.1:5000".parse().expect("addr"),
        ));
        let direct = Admission::new(1, 1, false, Exempt::Loopback).client_ip(&parts);
        let proxied = Admission::new(1, 1, true, Exempt::Loopback).client_ip(&parts);
        assert_eq!(direct, Some("127.0.0.1".parse().expect("ip")));
        // The last entry is the proxy's own; the first could be anything the client sent.
        assert_eq!(proxied, Some("10.0.0.1".parse().expect("ip")));
    }
}
