//! Which addresses Roost may send a request to on a bot's behalf: one table of reserved ranges.
//!
//! A webhook (and, later, a file fetched by URL) must reach a public unicast address, never the
//! server's own machine or network. An IPv6 address that carries an IPv4 address — mapped
//! (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`), 6to4
//! (`2002:AABB:CCDD::`) or Teredo (`2001:0::`, the client's address inverted in the last 32 bits)
//! — is judged by the IPv4 address it carries, since that is where a translating router or relay
//! delivers it. The ranges are IANA's special-purpose registries for IPv4 and IPv6 (RFC 6890 and
//! its updates), plus the deprecated site-local `fec0::/10`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A reserved IPv4 range: network, prefix length, what it is.
const RESERVED_V4: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "this network"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, "shared address space (carrier-grade NAT)"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignments"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "6to4 relay anycast (deprecated)"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved, and the limited broadcast address"),
];

/// A reserved IPv6 range. The ranges that embed an IPv4 address are not here: see
/// [`embedded_v4`].
const RESERVED_V6: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 128, "unspecified"),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1), 128, "loopback"),
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, "local-use IPv4/IPv6 translation"),
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64, "discard-only"),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, "IETF protocol assignments"),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, "documentation"),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, "documentation"),
    (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16, "segment routing (SRv6) SIDs"),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, "unique local"),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link-local"),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, "site-local (deprecated)"),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast"),
];

/// Whether an address is one Roost may send a request to: a public unicast address. Checked when
/// a webhook is set and again for every address a host name resolves to at delivery.
pub fn is_public_ip(ip: IpAddr) -> bool {
    reserved_because(ip).is_none()
}

/// Why an address is reserved, or `None` for a public one.
fn reserved_because(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => reserved_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(Embedded::One(v4)) => reserved_v4(v4),
            Some(Embedded::Teredo { server, client }) => reserved_v4(client).or(reserved_v4(server)),
            None => RESERVED_V6
                .iter()
                .find(|(net, len, _)| prefix_matches(u128::from(*net), u128::from(v6), 128, *len))
                .map(|(_, _, why)| *why),
        },
    }
}

fn reserved_v4(ip: Ipv4Addr) -> Option<&'static str> {
    RESERVED_V4
        .iter()
        .find(|(net, len, _)| prefix_matches(u32::from(*net).into(), u32::from(ip).into(), 32, *len))
        .map(|(_, _, why)| *why)
}

/// Whether the first `len` of `bits` bits of `a` and `b` agree.
fn prefix_matches(a: u128, b: u128, bits: u32, len: u8) -> bool {
    let shift = bits - u32::from(len);
    len == 0 || (a >> shift) == (b >> shift)
}

/// The IPv4 address or addresses an IPv6 address carries.
#[derive(Debug, PartialEq, Eq)]
enum Embedded {
    One(Ipv4Addr),
    /// Teredo: the server's address, and the client's (stored inverted).
    Teredo {
        server: Ipv4Addr,
        client: Ipv4Addr,
    },
}

fn embedded_v4(ip: Ipv6Addr) -> Option<Embedded> {
    let s = ip.segments();
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from(bits as u32);
    match s {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated; `::` and `::1` are
        // themselves in the table).
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(Embedded::One(low32)),
        [0, 0, 0, 0, 0, 0, hi, lo] if (hi, lo) > (0, 1) => Some(Embedded::One(low32)),
        // 64:ff9b::/96, NAT64's well-known prefix.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(Embedded::One(low32)),
        // 2002::/16, 6to4: the IPv4 address in bits 16–48.
        [0x2002, hi, lo, ..] => Some(Embedded::One(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)))),
        // 2001:0::/32, Teredo: the server in bits 32–64, the client inverted in the last 32.
        [0x2001, 0, hi, lo, ..] => Some(Embedded::Teredo {
            server: Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)),
            client: Ipv4Addr::from(!(bits as u32)),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn reserved_addresses_are_refused() {
        for text in [
            // IPv4
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.255",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            // IPv6
            "::",
            "::1",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd00::1",
            "fec0::1",
            "feff::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "64:ff9b:1::1",
            "2001:2::1",
            "5f00::1",
            // IPv4 inside IPv6
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::10.0.0.1",
            "::0.0.0.2",
            "64:ff9b::7f00:1",
            "64:ff9b::10.1.1.1",
            "2002:7f00:1::1",
            "2002:a00:1::",
            "2002:c0a8:101::1",
            // Teredo: a public server, a client behind it at 127.0.0.1 (inverted: 80ff:fffe).
            "2001:0:5ef5:79fd:0:0:80ff:fffe",
            // Teredo with a reserved server.
            "2001:0:a00:1::7efe:fffe",
        ] {
            assert!(!is_public_ip(ip(text)), "{text} must be reserved");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for text in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "192.0.3.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:1.1.1.1",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            // Teredo: public server 94.245.121.253, public client 8.8.8.8 (inverted f7f7:f7f7).
            "2001:0:5ef5:79fd:0:0:f7f7:f7f7",
        ] {
            assert!(is_public_ip(ip(text)), "{text} must be public");
        }
    }

    #[test]
    fn embedded_addresses_are_decoded() {
        let v6 = |text: &str| text.parse::<Ipv6Addr>().unwrap_or_else(|e| panic!("{text}: {e}"));
        let one = |text: &str| Some(Embedded::One(text.parse().unwrap_or_else(|e| panic!("{e}"))));
        assert_eq!(embedded_v4(v6("::ffff:1.2.3.4")), one("1.2.3.4"));
        assert_eq!(embedded_v4(v6("::1.2.3.4")), one("1.2.3.4"));
        assert_eq!(embedded_v4(v6("64:ff9b::1.2.3.4")), one("1.2.3.4"));
        assert_eq!(embedded_v4(v6("2002:102:304::")), one("1.2.3.4"));
        assert_eq!(
            embedded_v4(v6("2001:0:102:304::fefd:fcfb")),
            Some(Embedded::Teredo { server: Ipv4Addr::new(1, 2, 3, 4), client: Ipv4Addr::new(1, 2, 3, 4) })
        );
        assert_eq!(embedded_v4(v6("2606:4700::1111")), None);
        assert_eq!(embedded_v4(v6("::1")), None);
    }
}
