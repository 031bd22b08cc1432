/* Why the fast path did not forward a packet: every reason is a named
 * counter, so an operator can ask "why was this dropped" and get a name.
 * On ports with an exception interface some of these become punts instead.
 *
 * X(enum suffix, counter name, explanation)
 */
#ifndef FP_COUNTERS_H
#define FP_COUNTERS_H

#define FP_DROP_REASONS(X)                                                        \
	X(ETH_RUNT, "eth_runt", "frame shorter than an Ethernet header")             \
	X(VLAN, "vlan", "802.1Q/802.1ad tagged frame on a port without exception interface") \
	X(NON_IP, "non_ip", "ethertype is neither IPv4 nor IPv6 (nor ARP on a port with an exception interface)") \
	X(ARP_INVALID, "arp_invalid", "ARP that is not Ethernet/IPv4 or is too short")   \
	X(ARP_OTHER, "arp_other", "ARP for an address that is neither the router's nor punted") \
	X(IP4_RUNT, "ip4_runt", "RFC 1812 5.2.2: frame too short for an IPv4 header") \
	X(IP4_VERSION, "ip4_version", "RFC 1812 5.2.2: IP version is not 4")         \
	X(IP4_IHL, "ip4_ihl", "RFC 1812 5.2.2: header length below 5 words")         \
	X(IP4_TOTAL_LEN, "ip4_total_len", "RFC 1812 5.2.2: total length below header length") \
	X(IP4_TRUNCATED, "ip4_truncated", "RFC 1812 5.2.2: total length exceeds the frame") \
	X(IP4_CHECKSUM, "ip4_checksum", "RFC 1812 5.2.2: header checksum is wrong")  \
	X(IP4_MARTIAN_SRC, "ip4_martian_src", "RFC 1812 5.3.7: source is 0/8, 127/8, multicast or broadcast") \
	X(IP4_MARTIAN_DST, "ip4_martian_dst", "RFC 1812 5.3.7: destination is 0/8 or 127/8") \
	X(IP4_MULTICAST, "ip4_multicast", "destination is multicast (not routed)")   \
	X(IP4_BROADCAST, "ip4_broadcast", "RFC 1812 5.3.5: limited broadcast is not forwarded") \
	X(IP4_TTL_EXCEEDED, "ip4_ttl_exceeded", "RFC 1812 5.3.1: TTL would reach 0") \
	X(IP6_RUNT, "ip6_runt", "frame too short for an IPv6 header")               \
	X(IP6_VERSION, "ip6_version", "RFC 8200 3: IP version is not 6")            \
	X(IP6_TRUNCATED, "ip6_truncated", "RFC 8200 3: payload length exceeds the frame") \
	X(IP6_MARTIAN_SRC, "ip6_martian_src", "RFC 4291 2.7: source is multicast, or loopback/unspecified") \
	X(IP6_MARTIAN_DST, "ip6_martian_dst", "RFC 4291 2.5: destination is loopback or unspecified") \
	X(IP6_MULTICAST, "ip6_multicast", "destination is multicast (not routed)")   \
	X(IP6_LINK_LOCAL, "ip6_link_local", "RFC 4291 2.5.6: link-local destination is never forwarded") \
	X(IP6_HOP_LIMIT_EXCEEDED, "ip6_hop_limit_exceeded", "RFC 8200 3: hop limit would reach 0") \
	X(L2_BROADCAST, "l2_broadcast", "RFC 1812 5.3.4: received as link-layer broadcast/multicast, not forwarded (only punted)") \
	X(L2_OTHER_HOST, "l2_other_host", "RFC 1812 5.3.4: destination MAC is neither the port's nor a macvlan's: another host's frame (no route verdict, no punt, no ICMP error)") \
	X(NO_ROUTE, "no_route", "no FIB entry covers the destination")              \
	X(BLACKHOLE, "blackhole", "route of type blackhole")                        \
	X(UNREACHABLE, "unreachable", "route of type unreachable")                  \
	X(PROHIBIT, "prohibit", "route of type prohibit")                           \
	X(NEIGH_UNRESOLVED, "neigh_unresolved", "nexthop's neighbour MAC is not known yet") \
	X(LOCAL, "local", "addressed to the router, but the port has no exception interface") \
	X(PUNT_POLICED, "punt_policed", "exception traffic above the punt rate of its class") \
	X(PUNT_QUEUE_FULL, "punt_queue_full", "the exception thread's ring was full")       \
	X(MTU_EXCEEDED, "mtu_exceeded", "packet larger than the egress port's MTU") \
	X(NH_INVALID, "nh_invalid", "FIB pointed at a free nexthop (control-plane bug)") \
	X(TX_FULL, "tx_full", "egress queue did not accept the packet")

enum fp_drop_reason {
#define FP_X_ENUM(e, name, doc) FP_DROP_##e,
	FP_DROP_REASONS(FP_X_ENUM)
#undef FP_X_ENUM
	FP_DROP_MAX
};

#endif /* FP_COUNTERS_H */
