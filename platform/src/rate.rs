//! Per-address limits on what anonymous clients can make a process do or keep: pending sign-in
//! requests, refused data reads. One fixed window per address (IPv4 address, or IPv6 /64: one
//! household or one attacker's whole prefix), in memory, for this process.
//!
//! The table of addresses is itself bounded: when it holds [`TRACKED_MAX`] addresses, those of
//! earlier windows are forgotten, and if every one is current, addresses not yet in it are
//! refused until the window ends (so many addresses at once are an attack in progress; the
//! limits of the addresses already counted never restart).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Addresses tracked at most by one limit.
pub const TRACKED_MAX: usize = 65_536;

/// At most `per_window` events per address per `window` seconds.
pub struct AddressLimit {
    per_window: u32,
    window: i64,
    counts: Mutex<Counts>,
}

/// The counts per address, and the window in which the table was found full of that
/// window's addresses (new ones are refused until it ends, without scanning again).
#[derive(Default)]
struct Counts {
    by_address: HashMap<u128, (i64, u32)>,
    full_in: Option<i64>,
}

impl AddressLimit {
    /// A limit of `per_window` events per address in each window of `window` seconds.
    pub fn new(per_window: u32, window: i64) -> Self {
        AddressLimit {
            per_window,
            window: window.max(1),
            counts: Mutex::default(),
        }
    }

    /// Counts one event of `address` at `now` (Unix seconds); false if it is over the limit
    /// (the event should then be refused). Requests without a known address share one count.
    pub fn admit(&self, address: Option<IpAddr>, now: i64) -> bool {
        let window = now.div_euclid(self.window);
        let key = key(address);
        let mut counts = self.counts.lock().expect("rate-limit lock poisoned");
        let Counts {
            by_address,
            full_in,
        } = &mut *counts;
        if by_address.len() >= TRACKED_MAX && !by_address.contains_key(&key) {
            if *full_in == Some(window) {
                return false;
            }
            by_address.retain(|_, (started, _)| *started == window);
            if by_address.len() >= TRACKED_MAX {
                *full_in = Some(window);
                return false;
            }
        }
        let entry = by_address.entry(key).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= self.per_window
    }

    /// Gives back an event counted by [`AddressLimit::admit`] that turned out not to count
    /// (a request that proved whose it was): reserving first and giving back after lets
    /// requests sent at once not slip past the limit.
    pub fn release(&self, address: Option<IpAddr>, now: i64) {
        let window = now.div_euclid(self.window);
        if let Some((started, count)) = self
            .counts
            .lock()
            .expect("rate-limit lock poisoned")
            .by_address
            .get_mut(&key(address))
            && *started == window
        {
            *count = count.saturating_sub(1);
        }
    }
}

/// The address a limit counts by: IPv4 addresses whole, IPv6 by their /64 prefix (one
/// household or one attacker's whole prefix). Every per-address limit keys by it.
pub fn limited_address(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

fn key(address: Option<IpAddr>) -> u128 {
    match address.map(limited_address) {
        None => 0,
        Some(IpAddr::V4(v4)) => u128::from(v4.to_ipv6_mapped()),
        Some(IpAddr::V6(v6)) => u128::from(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_window() {
        let limit = AddressLimit::new(2, 60);
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limit.admit(Some(one), 120));
        assert!(limit.admit(Some(one), 130));
        assert!(!limit.admit(Some(one), 179));
        assert!(
            limit.admit(Some(other), 179),
            "another address is not limited"
        );
        assert!(limit.admit(Some(one), 180), "the next window starts afresh");
    }

    #[test]
    fn an_ipv6_prefix_is_one_address() {
        let limit = AddressLimit::new(1, 60);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limit.admit(Some(a), 0));
        assert!(!limit.admit(Some(b), 0), "same /64");
        assert!(limit.admit(Some(c), 0), "another /64");
    }

    #[test]
    fn the_table_of_addresses_stays_bounded_and_keeps_its_counts() {
        let limit = AddressLimit::new(1, 60);
        let first = Some(IpAddr::V4(0.into()));
        for n in 0..(TRACKED_MAX as u32 + 10) {
            limit.admit(Some(IpAddr::V4(n.into())), 0);
        }
        assert!(limit.counts.lock().unwrap().by_address.len() <= TRACKED_MAX);
        assert!(
            !limit.admit(first, 0),
            "counts do not restart when the table fills"
        );
        assert!(
            !limit.admit(Some(IpAddr::V4(u32::MAX.into())), 0),
            "a new address is refused while the table is full of this window's"
        );
        assert!(
            limit.admit(Some(IpAddr::V4(u32::MAX.into())), 60),
            "until it ends"
        );
    }

    #[test]
    fn a_place_given_back_can_be_taken_again() {
        let limit = AddressLimit::new(1, 60);
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limit.admit(Some(one), 0));
        limit.release(Some(one), 0);
        assert!(limit.admit(Some(one), 1));
        assert!(!limit.admit(Some(one), 2));
    }
}
