/* C unit tests of the fast path: header checks, TTL/checksum arithmetic,
 * left-right FIB apply, nexthop resolution and ECMP stickiness.
 * Runs under `meson test` with an EAL on no hugepages and a net_null port. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_arp.h>
#include <rte_ip.h>

#include "fp.h"
#include "fp_ajb_dp.h"
#include "fp_icmp.h"
#include "fp_pkt.h"
#include "fp_ports.h"
#include "fp_punt.h"
#include "fp_rcu.h" /* test_grace_stall plays a worker on the QSBR variable */
#include "fp_workers.h"

static int passed, failed;

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (cond) {                                               \
			passed++;                                         \
		} else {                                                  \
			failed++;                                         \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
		}                                                         \
	} while (0)


/* Build Ethernet + IPv4 + UDP (8 bytes payload) into buf; returns length. */
static uint16_t
mk4(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t ttl, uint16_t sport)
{
	memset(buf, 0, 64);
	struct rte_ether_hdr *eth = (void *)buf;
	memset(eth->dst_addr.addr_bytes, 0xaa, 6);
	memset(eth->src_addr.addr_bytes, 0xbb, 6);
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip = (void *)(eth + 1);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(20 + 8 + 8);
	ip->time_to_live = ttl;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(src);
	ip->dst_addr = rte_cpu_to_be_32(dst);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	uint16_t *udp = (void *)(ip + 1);
	udp[0] = rte_cpu_to_be_16(sport);
	udp[1] = RTE_BE16(53);
	udp[2] = RTE_BE16(16);
	return 14 + 36;
}

static uint16_t
mk6(uint8_t *buf, const uint8_t *dst, uint8_t hl)
{
	memset(buf, 0, 128);
	struct rte_ether_hdr *eth = (void *)buf;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
	struct rte_ipv6_hdr *ip = (void *)(eth + 1);
	ip->vtc_flow = RTE_BE32(6u << 28);
	ip->payload_len = RTE_BE16(8);
	ip->proto = IPPROTO_UDP;
	ip->hop_limits = hl;
	ip->src_addr[0] = 0x20;
	ip->src_addr[1] = 0x01;
	ip->src_addr[15] = 1;
	memcpy(ip->dst_addr, dst, 16);
	return 14 + 40 + 8;
}

static void
test_ttl_checksum(void)
{
	uint8_t buf[64];
	int bad = 0;
	srand(1);
	for (int i = 0; i < 100000; i++) {
		uint8_t ttl = (uint8_t)(2 + rand() % 254);
		mk4(buf, (uint32_t)rand(), (uint32_t)rand(), ttl, (uint16_t)rand());
		struct rte_ipv4_hdr *ip = (void *)(buf + 14);
		ip->packet_id = (uint16_t)rand();
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		fp_ip4_ttl_dec(ip);
		if (ip->time_to_live != ttl - 1 || rte_raw_cksum(ip, 20) != 0xffff)
			bad++;
	}
	CHECK(bad == 0, "incremental checksum wrong in %d of 100000 headers", bad);
}

/* The header sum of the burst loop's check equals DPDK's word-by-word
 * sum on any 20 bytes (all-ones words force every carry) and with options. */
static void
test_header_sum(void)
{
	uint8_t hdr[60];
	int bad = 0;
	srand(2);
	for (int i = 0; i < 200000; i++) {
		for (unsigned j = 0; j < sizeof(hdr); j++)
			hdr[j] = i % 7 == 0 ? 0xff : (uint8_t)rand();
		uint32_t ihl = i % 5 == 0 ? 20 + 4 * (uint32_t)(rand() % 11) : 20;
		if (fp_ip4_hdr_sum(hdr, ihl) != rte_raw_cksum(hdr, ihl))
			bad++;
		struct rte_ipv4_hdr *ip = (void *)hdr;
		ip->hdr_checksum = 0;
		ip->hdr_checksum = ~rte_raw_cksum(hdr, ihl);
		if (fp_ip4_hdr_sum(hdr, ihl) != 0xffff)
			bad++;
	}
	CHECK(bad == 0, "header sum differs from rte_raw_cksum in %d cases", bad);
}

static void
test_bucket(void)
{
	uint32_t n = 7, hits[7] = {0};
	for (uint32_t h = 0; h < 70000; h++)
		hits[fp_bucket(h * 2654435761u, n)]++;
	for (uint32_t i = 0; i < n; i++)
		CHECK(hits[i] > 9000 && hits[i] < 11000, "bucket %u got %u of 70000", i, hits[i]);
	CHECK(fp_bucket(UINT32_MAX, 3) == 2, "top hash must map to last bucket");
}

static uint16_t port;

static uint32_t
verdict_of(uint8_t *frame, uint16_t len, uint16_t *oport)
{
	uint32_t v = 0;
	uint16_t p = 0;
	uint8_t *f[1] = {frame};
	if (len >= 6) { /* addressed to the receiving port, as a router expects */
		struct rte_ether_addr pm;
		rte_eth_macaddr_get(port, &pm);
		memcpy(frame, pm.addr_bytes, 6);
	}
	int rc = fp_process_frames(0, port, f, &len, 1, &v, &p);
	CHECK(rc == 0, "fp_process_frames: %d", rc);
	if (oport)
		*oport = p;
	return v;
}

#define DROP(r) (FP_VERDICT_DROP_BASE + FP_DROP_##r)

static const uint8_t other_mac[6] = {2, 0xbb, 0, 0, 0, 1};
static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* The verdict of frame f sent to MAC dmac (not the port's). */
static uint32_t
verdict_raw(uint8_t *frame, uint16_t len, const uint8_t *dmac)
{
	uint32_t v = 0;
	uint16_t p = 0;
	uint8_t *f[1] = {frame};
	memcpy(frame, dmac, 6);
	int rc = fp_process_frames(0, port, f, &len, 1, &v, &p);
	CHECK(rc == 0, "fp_process_frames: %d", rc);
	return v;
}

/* own: the table is fibd's own LPM (fibd_fib=own) instead of rte_fib. */
static void
test_pipeline(uint32_t own)
{
	printf("pipeline, fibd_fib=%s\n", own ? "own" : "dpdk");
	struct fp_table_conf tc = {.id = 254, .max_routes4 = 64, .max_routes6 = 64, .own = own};
	CHECK(fp_table_create(0, &tc) == 0, "table create");

	struct fp_nh_conf fwd = {.type = FP_NH_FORWARD, .port = port,
				 .dst_mac = {2, 0, 0, 0, 0, 1}};
	struct fp_nh_conf fwd2 = fwd;
	fwd2.dst_mac[5] = 2;
	struct fp_nh_conf local = {.type = FP_NH_LOCAL};
	struct fp_nh_conf bh = {.type = FP_NH_BLACKHOLE};
	struct fp_nh_conf unres = {.type = FP_NH_UNRESOLVED, .port = port};
	struct fp_nh_conf ecmp = {.type = FP_NH_ECMP, .n_buckets = 2, .buckets = {1, 2}};
	CHECK(fp_nh_set(1, &fwd) == 0, "nh 1");
	CHECK(fp_nh_set(2, &fwd2) == 0, "nh 2");
	CHECK(fp_nh_set(3, &local) == 0, "nh 3");
	CHECK(fp_nh_set(4, &bh) == 0, "nh 4");
	CHECK(fp_nh_set(5, &unres) == 0, "nh 5");
	CHECK(fp_nh_set(6, &ecmp) == 0, "nh 6");
	CHECK(fp_nh_set(0, &fwd) == -EINVAL, "index 0 is the miss value");
	struct fp_nh_conf self = {.type = FP_NH_ECMP, .n_buckets = 1, .buckets = {7}};
	CHECK(fp_nh_set(7, &self) == -EINVAL, "an ECMP group may not contain itself");

	struct fp_route_op ops[] = {
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 8, .nh = 1, .addr = {10}},
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 24, .nh = 2, .addr = {10, 1, 1}},
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 32, .nh = 3, .addr = {10, 1, 1, 1}},
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 16, .nh = 4, .addr = {10, 2}},
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 16, .nh = 5, .addr = {10, 3}},
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 16, .nh = 6, .addr = {10, 4}},
		{.op = FP_ROUTE_ADD, .family = 6, .depth = 32, .nh = 2, .addr = {0x20, 0x01, 0x0d, 0xb8}},
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 33, .nh = 1},
	};
	int32_t res[RTE_DIM(ops)];
	int nfail = fp_table_apply(0, ops, RTE_DIM(ops), res);
	CHECK(nfail == 1 && res[7] == -EINVAL, "one invalid op (depth 33): %d failed", nfail);
	uint64_t r4 = 0, r6 = 0;
	{ struct fp_table_info ti; fp_table_info(0, &ti); r4 = ti.routes4; r6 = ti.routes6; }
	CHECK(r4 == 6 && r6 == 1, "counts %lu/%lu", (unsigned long)r4, (unsigned long)r6);

	uint8_t f[2048];
	uint16_t len, op;

	len = mk4(f, 0xc0000201, 0x0a050505, 64, 1000);
	CHECK(verdict_of(f, len, &op) == FP_VERDICT_FORWARD && op == port, "10/8 forwards");
	struct rte_ether_hdr *eth = (void *)f;
	struct rte_ipv4_hdr *ip = (void *)(eth + 1);
	CHECK(eth->dst_addr.addr_bytes[5] == 1, "dst mac of nh 1");
	struct rte_ether_addr pm;
	rte_eth_macaddr_get(port, &pm);
	CHECK(rte_is_same_ether_addr(&pm, &eth->src_addr), "src mac is the port's");
	CHECK(ip->time_to_live == 63 && rte_raw_cksum(ip, 20) == 0xffff, "ttl and checksum");

	len = mk4(f, 0xc0000201, 0x0a010105, 64, 1000);
	verdict_of(f, len, NULL);
	CHECK(eth->dst_addr.addr_bytes[5] == 2, "longest prefix /24 wins");
	len = mk4(f, 0xc0000201, 0x0a010101, 1, 1000);
	CHECK(verdict_of(f, len, NULL) == DROP(LOCAL), "local /32 beats ttl 1");
	len = mk4(f, 0xc0000201, 0x0a020101, 64, 1000);
	CHECK(verdict_of(f, len, NULL) == DROP(BLACKHOLE), "blackhole");
	len = mk4(f, 0xc0000201, 0x0a030101, 64, 1000);
	CHECK(verdict_of(f, len, NULL) == DROP(NEIGH_UNRESOLVED), "unresolved");
	len = mk4(f, 0xc0000201, 0x0b000001, 64, 1000);
	CHECK(verdict_of(f, len, NULL) == DROP(NO_ROUTE), "no route");
	len = mk4(f, 0xc0000201, 0x0a050505, 1, 1000);
	CHECK(verdict_of(f, len, NULL) == DROP(IP4_TTL_EXCEEDED), "ttl 1");
	len = mk4(f, 0xc0000201, 0x0a050505, 0, 1000);
	CHECK(verdict_of(f, len, NULL) == DROP(IP4_TTL_EXCEEDED), "ttl 0");

	/* header checks */
	len = mk4(f, 0xc0000201, 0x0a050505, 64, 1000);
	ip->hdr_checksum ^= 1;
	CHECK(verdict_of(f, len, NULL) == DROP(IP4_CHECKSUM), "bad checksum");
	len = mk4(f, 0xc0000201, 0x0a050505, 64, 1000);
	ip->version_ihl = 0x44;
	CHECK(verdict_of(f, len, NULL) == DROP(IP4_IHL), "ihl 4");
	len = mk4(f, 0xc0000201, 0x0a050505, 64, 1000);
	ip->version_ihl = 0x65;
	CHECK(verdict_of(f, len, NULL) == DROP(IP4_VERSION), "version 6 in ipv4 frame");
	len = mk4(f, 0xc0000201, 0x0a050505, 64, 1000);
	ip->total_length = RTE_BE16(200);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	CHECK(verdict_of(f, len, NULL) == DROP(IP4_TRUNCATED), "total length > frame");
	len = mk4(f, 0xc0000201, 0x0a050505, 64, 1000);
	CHECK(verdict_of(f, 30, NULL) == DROP(IP4_RUNT), "runt ipv4");
	CHECK(verdict_of(f, 10, NULL) == DROP(ETH_RUNT), "runt ethernet");
	len = mk4(f, 0x7f000001, 0x0a050505, 64, 1000);
	CHECK(verdict_of(f, len, NULL) == DROP(IP4_MARTIAN_SRC), "127/8 source");
	len = mk4(f, 0xc0000201, 0xe0000005, 64, 1000);
	CHECK(verdict_of(f, len, NULL) == DROP(IP4_MULTICAST), "multicast dst");
	len = mk4(f, 0xc0000201, 0xffffffff, 64, 1000);
	CHECK(verdict_of(f, len, NULL) == DROP(IP4_BROADCAST), "broadcast dst");
	len = mk4(f, 0xc0000201, 0x0a050505, 64, 1000);
	memset(eth->dst_addr.addr_bytes, 0xff, 6);
	{ /* verdict_of addresses frames to the port: broadcast is tested by hand */
		uint32_t v = 0;
		uint16_t p = 0, l = len;
		uint8_t *fr[1] = {f};
		fp_process_frames(0, port, fr, &l, 1, &v, &p);
		CHECK(v == DROP(L2_BROADCAST), "RFC 1812 5.3.4: link-layer broadcast is not forwarded");
		eth->dst_addr.addr_bytes[0] = 0x02;
		fp_process_frames(0, port, fr, &l, 1, &v, &p);
		CHECK(v == DROP(L2_OTHER_HOST), "another host's frame is not forwarded");
	}
	/* RFC 1812 4.3.2.7, 5.3.4: another host's frame gets no route verdict
	 * (and so no ICMP error), whatever its destination */
	len = mk4(f, 0xc0000201, 0x0b000001, 64, 1000);
	CHECK(verdict_raw(f, len, other_mac) == DROP(L2_OTHER_HOST), "another host's frame, no route");
	len = mk4(f, 0xc0000201, 0x0a020101, 64, 1000);
	CHECK(verdict_raw(f, len, other_mac) == DROP(L2_OTHER_HOST), "another host's frame, blackhole");
	len = mk4(f, 0xc0000201, 0x0a010101, 64, 1000);
	CHECK(verdict_raw(f, len, other_mac) == DROP(L2_OTHER_HOST), "another host's frame, local");
	len = mk4(f, 0xc0000201, 0x0a050505, 1, 1000);
	CHECK(verdict_raw(f, len, other_mac) == DROP(L2_OTHER_HOST), "another host's frame, TTL 1");
	len = mk4(f, 0xc0000201, 0x0b000001, 64, 1000);
	CHECK(verdict_raw(f, len, bcast_mac) == DROP(L2_BROADCAST), "link-layer broadcast, no route: no error");
	len = mk4(f, 0xc0000201, 0x0a020101, 64, 1000);
	CHECK(verdict_raw(f, len, bcast_mac) == DROP(L2_BROADCAST), "link-layer broadcast, blackhole");
	len = mk4(f, 0xc0000201, 0x0a050505, 64, 1000);
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	CHECK(verdict_of(f, len, NULL) == DROP(NON_IP), "arp is not routed");
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_VLAN);
	CHECK(verdict_of(f, len, NULL) == DROP(VLAN), "802.1Q");

	/* ECMP: a flow sticks to one member; many flows use both */
	int seen[3] = {0};
	for (uint16_t sp = 1; sp <= 200; sp++) {
		uint8_t first = 0;
		for (int rep = 0; rep < 3; rep++) {
			len = mk4(f, 0xc0000201, 0x0a040001, 64, sp);
			CHECK(verdict_of(f, len, NULL) == FP_VERDICT_FORWARD, "ecmp forwards");
			uint8_t mem = eth->dst_addr.addr_bytes[5];
			if (rep == 0)
				first = mem;
			else if (mem != first)
				CHECK(0, "flow %u moved from member %u to %u", sp, first, mem);
		}
		seen[first]++;
	}
	CHECK(seen[1] > 60 && seen[2] > 60, "ecmp spread %d/%d", seen[1], seen[2]);

	/* IPv6 */
	uint8_t d6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
	len = mk6(f, d6, 64);
	CHECK(verdict_of(f, len, &op) == FP_VERDICT_FORWARD, "v6 forwards");
	struct rte_ipv6_hdr *ip6 = (void *)(eth + 1);
	CHECK(ip6->hop_limits == 63 && eth->dst_addr.addr_bytes[5] == 2, "v6 hop limit, mac");
	len = mk6(f, d6, 1);
	CHECK(verdict_of(f, len, NULL) == DROP(IP6_HOP_LIMIT_EXCEEDED), "hop limit 1");
	uint8_t ll[16] = {0xfe, 0x80};
	ll[15] = 1;
	len = mk6(f, ll, 64);
	CHECK(verdict_of(f, len, NULL) == DROP(IP6_LINK_LOCAL), "link-local dst");
	uint8_t mc[16] = {0xff, 0x02};
	len = mk6(f, mc, 64);
	CHECK(verdict_of(f, len, NULL) == DROP(IP6_MULTICAST), "multicast dst");
	len = mk6(f, d6, 64);
	ip6->payload_len = RTE_BE16(500);
	CHECK(verdict_of(f, len, NULL) == DROP(IP6_TRUNCATED), "payload length > frame");

	/* delete and replace; table full */
	struct fp_route_op del[] = {
		{.op = FP_ROUTE_DEL, .family = 4, .depth = 24, .addr = {10, 1, 1}},
		{.op = FP_ROUTE_DEL, .family = 4, .depth = 24, .addr = {10, 9, 9}},
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 8, .nh = 2, .addr = {10}},
	};
	int32_t dres[3];
	CHECK(fp_table_apply(0, del, 3, dres) == 1 && dres[1] == -ENOENT, "delete of absent route fails");
	CHECK(fp_lookup4(0, rte_cpu_to_be_32(0x0a010105)) == 2, "replaced /8 now nh 2");
	{ struct fp_table_info ti; fp_table_info(0, &ti); r4 = ti.routes4; r6 = ti.routes6; }
	CHECK(r4 == 5, "count after delete+replace: %lu", (unsigned long)r4);
	struct fp_route_op many[100];
	for (int i = 0; i < 100; i++)
		many[i] = (struct fp_route_op){.op = FP_ROUTE_ADD, .family = 4, .depth = 24,
					       .nh = 1, .addr = {20, 0, (uint8_t)i}};
	int32_t mres[100];
	int mf = fp_table_apply(0, many, 100, mres);
	CHECK(mf > 0 && mres[99] == -ENOSPC, "full table refuses: %d failed, last %d", mf, mres[99]);
	{ struct fp_table_info ti; fp_table_info(0, &ti); r4 = ti.routes4; r6 = ti.routes6; }
	CHECK(r4 <= 64, "table holds at most max_routes: %lu", (unsigned long)r4);
	CHECK(fp_table_destroy(0) == 0, "destroy");
}

/* Build an ARP request (or reply) for tip from sip into buf. */
static uint16_t
mk_arp(uint8_t *buf, uint32_t sip, uint32_t tip)
{
	memset(buf, 0, 64);
	struct rte_ether_hdr *eth = (void *)buf;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	struct rte_arp_hdr *a = (void *)(eth + 1);
	a->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = 6;
	a->arp_plen = 4;
	a->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
	a->arp_data.arp_sip = rte_cpu_to_be_32(sip);
	a->arp_data.arp_tip = rte_cpu_to_be_32(tip);
	return 60;
}

/* With an exception interface on the port: what goes to the routing
 * daemon, and what still does not. */
static void
test_exception(uint16_t exc_port)
{
	struct fp_table_conf tc = {.id = 254, .max_routes4 = 64, .max_routes6 = 64};
	CHECK(fp_table_create(0, &tc) == 0, "table create");
	CHECK(fp_exc_attach(port, port) == -EINVAL, "a port is not its own exception interface");
	int x = fp_exc_attach(port, exc_port);
	CHECK(x == 0, "attach: %d", x);
	CHECK(fp_exc_attach(port, exc_port) == -EEXIST, "one exception interface per port");

	struct fp_nh_conf fwd = {.type = FP_NH_FORWARD, .port = port, .dst_mac = {2, 0, 0, 0, 0, 1}};
	struct fp_nh_conf local = {.type = FP_NH_LOCAL};
	struct fp_nh_conf unres = {.type = FP_NH_UNRESOLVED, .port = port};
	struct fp_nh_conf pnt = {.type = FP_NH_PUNT, .port = port};
	CHECK(fp_nh_set(1, &fwd) == 0 && fp_nh_set(3, &local) == 0 && fp_nh_set(5, &unres) == 0 &&
		      fp_nh_set(8, &pnt) == 0,
	      "nexthops");
	struct fp_route_op ops[] = {
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 0, .nh = 1},
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 32, .nh = 3, .addr = {10, 1, 1, 1}},
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 16, .nh = 5, .addr = {10, 3}},
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 30, .nh = 8, .addr = {10, 0, 2, 0}},
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 32, .nh = 8, .addr = {224, 0, 0, 5}},
		{.op = FP_ROUTE_ADD, .family = 6, .depth = 0, .nh = 1},
		{.op = FP_ROUTE_ADD, .family = 6, .depth = 128, .nh = 8, .addr = {0xff, 0x02, [15] = 5}},
	};
	int32_t res[RTE_DIM(ops)];
	CHECK(fp_table_apply(0, ops, RTE_DIM(ops), res) == 0, "routes");

	uint8_t f[256];
	uint16_t len, op = 99;
	len = mk4(f, 0xc0000201, 0x0a010101, 1, 1000);
	CHECK(verdict_of(f, len, &op) == FP_VERDICT_PUNT && op == 0,
	      "the router's own address goes to the daemon, whatever the TTL");
	len = mk4(f, 0xc0000201, 0x0a000202, 64, 1000);
	CHECK(verdict_of(f, len, &op) == FP_VERDICT_PUNT && op == 0, "router_device subnet is punted");
	len = mk4(f, 0xc0000201, 0x0a030101, 64, 1000);
	CHECK(verdict_of(f, len, NULL) == FP_VERDICT_GLEAN, "unresolved neighbour: through the kernel (glean)");
	len = mk4(f, 0xc0000201, 0x0a030101, 1, 1000);
	CHECK(verdict_of(f, len, NULL) == DROP(IP4_TTL_EXCEEDED), "but not once its TTL is out");
	len = mk4(f, 0xc0000201, 0x0b000001, 64, 1000);
	CHECK(verdict_of(f, len, NULL) == FP_VERDICT_FORWARD, "transit still forwards");
	len = mk4(f, 0xc0000201, 0xe0000005, 1, 1000);
	CHECK(verdict_of(f, len, NULL) == FP_VERDICT_PUNT, "listed multicast (OSPF) is punted");
	len = mk4(f, 0xc0000201, 0xe0000009, 1, 1000);
	CHECK(verdict_of(f, len, NULL) == DROP(IP4_MULTICAST), "other multicast is not, default route or not");
	len = mk4(f, 0xc0000201, 0x0a050505, 64, 1000);
	struct rte_ether_hdr *eth = (void *)f;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_VLAN);
	CHECK(verdict_of(f, len, NULL) == FP_VERDICT_PUNT, "802.1Q reaches the rib interface as is");

	len = mk_arp(f, 0x0a010102, 0x0a010101);
	CHECK(verdict_of(f, len, &op) == FP_VERDICT_PUNT && op == 0, "ARP for the router's address");
	len = mk_arp(f, 0x0a000201, 0x0a000202);
	CHECK(verdict_of(f, len, NULL) == FP_VERDICT_PUNT, "ARP in a punted subnet");
	len = mk_arp(f, 0x0a050501, 0x0a050505);
	CHECK(verdict_of(f, len, NULL) == DROP(ARP_OTHER), "ARP for someone else");
	len = mk_arp(f, 0x0a050501, 0x0a050501);
	CHECK(verdict_of(f, len, NULL) == FP_VERDICT_PUNT, "gratuitous ARP");
	CHECK(verdict_of(f, 20, NULL) == DROP(ARP_INVALID), "short ARP");
	len = mk_arp(f, 0x0a010102, 0x0a010101);
	f[14 + 4] = 16;
	CHECK(verdict_of(f, len, NULL) == DROP(ARP_INVALID), "ARP with 16-byte hardware addresses");

	/* IPv6: neighbour discovery, link-local, listed multicast */
	uint8_t sn[16] = {0xff, 0x02, [11] = 1, [12] = 0xff, [15] = 1};
	len = mk6(f, sn, 255);
	struct rte_ipv6_hdr *ip6 = (void *)(eth + 1);
	ip6->proto = IPPROTO_ICMPV6;
	f[14 + 40] = 135;
	CHECK(verdict_of(f, len, NULL) == FP_VERDICT_PUNT, "neighbour solicitation");
	ip6->hop_limits = 64;
	CHECK(verdict_of(f, len, NULL) == DROP(IP6_MULTICAST), "NDP with hop limit below 255 is forged");
	uint8_t ll[16] = {0xfe, 0x80, [15] = 1};
	len = mk6(f, ll, 64);
	CHECK(verdict_of(f, len, NULL) == FP_VERDICT_PUNT, "link-local to the port's MAC");
	uint8_t o5[16] = {0xff, 0x02, [15] = 5};
	len = mk6(f, o5, 1);
	CHECK(verdict_of(f, len, NULL) == FP_VERDICT_PUNT, "OSPFv3 multicast, listed");
	uint8_t all[16] = {0xff, 0x02, [15] = 1};
	len = mk6(f, all, 1);
	CHECK(verdict_of(f, len, NULL) == DROP(IP6_MULTICAST), "ff02::1 is not listed");

	/* another host's frames: neither punted nor gleaned; broadcast ARP,
	 * NDP to a solicited-node group and OSPF to its group still are */
	len = mk4(f, 0xc0000201, 0x0a010101, 64, 1000);
	CHECK(verdict_raw(f, len, other_mac) == DROP(L2_OTHER_HOST), "another host's frame to a local address");
	len = mk4(f, 0xc0000201, 0x0a000202, 64, 179);
	CHECK(verdict_raw(f, len, other_mac) == DROP(L2_OTHER_HOST), "another host's BGP in a punted subnet");
	len = mk4(f, 0xc0000201, 0x0a030101, 64, 1000);
	CHECK(verdict_raw(f, len, other_mac) == DROP(L2_OTHER_HOST), "another host's frame to an unresolved neighbour");
	len = mk_arp(f, 0x0a010102, 0x0a010101);
	CHECK(verdict_raw(f, len, bcast_mac) == FP_VERDICT_PUNT, "broadcast ARP for the router");
	len = mk_arp(f, 0x0a010102, 0x0a010101);
	CHECK(verdict_raw(f, len, other_mac) == DROP(L2_OTHER_HOST), "ARP to another host's MAC");
	len = mk6(f, sn, 255);
	ip6->proto = IPPROTO_ICMPV6;
	f[14 + 40] = 135;
	CHECK(verdict_raw(f, len, (const uint8_t[]){0x33, 0x33, 0xff, 0, 0, 1}) == FP_VERDICT_PUNT,
	      "NS to the solicited-node group's MAC");
	len = mk4(f, 0xc0000201, 0xe0000005, 1, 1000);
	CHECK(verdict_raw(f, len, (const uint8_t[]){1, 0, 0x5e, 0, 0, 5}) == FP_VERDICT_PUNT, "OSPF to 01:00:5e:00:00:05");
	len = mk4(f, 0xc0000201, 0x0b000001, 64, 1000);
	CHECK(verdict_raw(f, len, bcast_mac) == DROP(L2_BROADCAST), "broadcast transit is not forwarded");

	/* VLAN sub-interfaces: VID 100 is mirrored, VID 200 is not */
	fp_port_set_vlan(port, 100, true);
	struct fp_nh_conf tagged = {.type = FP_NH_FORWARD, .port = port, .vlan = 100,
				    .dst_mac = {2, 0, 0, 0, 0, 7}};
	CHECK(fp_nh_set(9, &tagged) == 0, "nexthop on a VLAN");
	struct fp_nh_conf bad = tagged;
	bad.vlan = 4095;
	CHECK(fp_nh_set(10, &bad) == -EINVAL, "VID 4095 is reserved");
	struct fp_route_op vop[] = {{.op = FP_ROUTE_ADD, .family = 4, .depth = 16, .nh = 9, .addr = {10, 7}}};
	CHECK(fp_table_apply(0, vop, 1, res) == 0, "route via the VLAN");
	len = mk4(f, 0xc0000201, 0x0a070001, 64, 1000);
	uint16_t olen = len;
	{
		uint32_t v = 0;
		uint16_t p = 0, l = len;
		uint8_t *fr[1] = {f};
		struct rte_ether_addr pm0;
		rte_eth_macaddr_get(port, &pm0);
		memcpy(f, pm0.addr_bytes, 6);
		fp_process_frames(0, port, fr, &l, 1, &v, &p);
		CHECK(v == FP_VERDICT_FORWARD && l == olen + 4 && f[12] == 0x81 && f[13] == 0 && f[14] == 0 &&
			      f[15] == 100 && f[16] == 0x08 && f[17] == 0 && f[5] == 7,
		      "tagged with VID 100 on egress (len %u)", l);
		/* back in from the VLAN, to an untagged route: the tag goes */
		struct rte_ether_addr pm;
		rte_eth_macaddr_get(port, &pm);
		memcpy(f, pm.addr_bytes, 6);
		struct rte_ipv4_hdr *ip = (void *)(f + 18);
		ip->dst_addr = rte_cpu_to_be_32(0x0a050505);
		ip->time_to_live = 64;
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		l = olen + 4;
		fp_process_frames(0, port, fr, &l, 1, &v, &p);
		CHECK(v == FP_VERDICT_FORWARD && l == olen && f[12] == 0x08 && f[13] == 0,
		      "from VID 100 to an untagged route: %u, len %u", v, l);
		/* tagged, for the router: punted (re-tagged for the kernel's sub-interface) */
		memmove(f + 16, f + 12, olen - 12);
		memcpy(f, pm.addr_bytes, 6); /* the forwarded frame went to the neighbour */
		f[12] = 0x81, f[13] = 0, f[14] = 0, f[15] = 100;
		ip = (void *)(f + 18);
		ip->dst_addr = rte_cpu_to_be_32(0x0a010101);
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		l = olen + 4;
		fp_process_frames(0, port, fr, &l, 1, &v, &p);
		CHECK(v == FP_VERDICT_PUNT, "tagged frame for the router: %u", v);
		f[15] = 200;
		ip->dst_addr = rte_cpu_to_be_32(0x0a050505);
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		fp_process_frames(0, port, fr, &l, 1, &v, &p);
		CHECK(v == FP_VERDICT_PUNT, "unknown VID: to the rib interface as is: %u", v);
	}
	fp_port_set_vlan(port, 100, false);
	CHECK(fp_table_destroy(0) == 0, "destroy");
}

/* ip rules: the table of each packet by iif (a macvlan's MAC), prefixes
 * and order; a table without a route passes the packet on. */
static void
test_rules(void)
{
	struct fp_table_conf tc = {.id = 254, .max_routes4 = 64, .max_routes6 = 64};
	struct fp_table_conf tc1 = {.id = 10001, .max_routes4 = 64, .max_routes6 = 64};
	int rc0 = fp_table_create(0, &tc), rc1 = fp_table_create(1, &tc1);
	CHECK(rc0 == 0 && rc1 == 0, "tables: %d %d", rc0, rc1);
	struct fp_nh_conf main_nh = {.type = FP_NH_FORWARD, .port = port, .dst_mac = {2, 0, 0, 0, 0, 0x54}};
	struct fp_nh_conf up_nh = {.type = FP_NH_FORWARD, .port = port, .dst_mac = {2, 0, 0, 0, 0, 0x01}};
	struct fp_nh_conf local = {.type = FP_NH_LOCAL}, throw = {.type = FP_NH_THROW};
	CHECK(fp_nh_set(1, &main_nh) == 0 && fp_nh_set(2, &up_nh) == 0 && fp_nh_set(3, &local) == 0 &&
	      fp_nh_set(4, &throw) == 0, "nexthops");
	struct fp_nh_conf bogus = {.type = FP_NH_THROW + 1};
	CHECK(fp_nh_set(5, &bogus) == -EINVAL, "a nexthop of no known type");
	struct fp_route_op t0[] = {
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 0, .nh = 1},
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 32, .nh = 3, .addr = {100, 64, 0, 1}},
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 24, .nh = 4, .addr = {203, 0, 113}},
	};
	struct fp_route_op t1[] = {
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 16, .nh = 2, .addr = {198, 18}},
		{.op = FP_ROUTE_ADD, .family = 4, .depth = 24, .nh = 4, .addr = {198, 18, 5}},
	};
	int32_t res[3];
	CHECK(fp_table_apply(0, t0, 3, res) == 0 && fp_table_apply(1, t1, 2, res) == 0, "routes");

	/* frames to 02:00:00:00:aa:01 arrive on interface 40, a macvlan */
	struct fp_iif mv = {.kind = FP_IIF_MAC, .mac = {2, 0, 0, 0, 0xaa, 1}, .iif = 40};
	CHECK(fp_port_set_iifs(port, &mv, 1) == 0, "iifs");
	struct fp_rule rules[] = {
		{.prio = 0, .iif = FP_IIF_ANY, .action = FP_RULE_LOCAL, .tidx = 0},
		{.prio = 100, .iif = 40, .action = FP_RULE_LOOKUP, .tidx = 1},
		{.prio = 200, .iif = FP_IIF_ANY, .action = FP_RULE_BLACKHOLE, .dst_len = 16, .dst = {10, 9}},
		{.prio = 300, .iif = FP_IIF_ANY, .action = FP_RULE_UNREACHABLE, .src_len = 24, .src = {192, 0, 2}},
		{.prio = 32766, .iif = FP_IIF_ANY, .action = FP_RULE_LOOKUP, .tidx = 0},
	};
	CHECK(fp_rules_set(4, rules, RTE_DIM(rules)) == 0, "rules");
	struct fp_rule bad = {.iif = FP_IIF_ANY, .action = FP_RULE_LOOKUP, .tidx = FP_MAX_TABLES};
	CHECK(fp_rules_set(4, &bad, 1) == -EINVAL, "a rule naming no table");

	uint8_t f[256];
	uint16_t len;
	uint32_t v;
	uint16_t p;
	uint8_t *fr[1] = {f};
	struct rte_ether_hdr *eth = (void *)f;
	const uint8_t macvlan[6] = {2, 0, 0, 0, 0xaa, 1};
#define SEND(dmac, src, dst)                                                  \
	do {                                                                  \
		len = mk4(f, src, dst, 64, 1000);                             \
		memcpy(eth->dst_addr.addr_bytes, dmac, 6);                    \
		fp_process_frames(0, port, fr, &len, 1, &v, &p);              \
	} while (0)
	struct rte_ether_addr pm;
	rte_eth_macaddr_get(port, &pm);
	SEND(macvlan, 0x0a000001, 0xc6120001);
	CHECK(v == FP_VERDICT_FORWARD && eth->dst_addr.addr_bytes[5] == 0x01, "via the macvlan: table 10001");
	SEND(pm.addr_bytes, 0x0a000001, 0xc6120001);
	CHECK(v == FP_VERDICT_FORWARD && eth->dst_addr.addr_bytes[5] == 0x54, "via the port: the main table");
	SEND(macvlan, 0x0a000001, 0x0b000001);
	CHECK(v == FP_VERDICT_FORWARD && eth->dst_addr.addr_bytes[5] == 0x54,
	      "no route in 10001: on to the next rules, the main table");
	SEND(macvlan, 0x0a000001, 0xc6120501);
	CHECK(v == FP_VERDICT_FORWARD && eth->dst_addr.addr_bytes[5] == 0x54,
	      "a throw route in 10001: on to the next rules, the main table: %u", v);
	SEND(pm.addr_bytes, 0x0a000001, 0xcb007101);
	CHECK(v == DROP(NO_ROUTE), "a throw route in the last table: no route: %u", v);
	SEND(macvlan, 0x0a000001, 0x64400001);
	CHECK(v == FP_VERDICT_PUNT, "the local rule comes first, whatever the iif: %u", v);
	SEND(pm.addr_bytes, 0x0a000001, 0x0a090001);
	CHECK(v == DROP(BLACKHOLE), "blackhole rule: %u", v);
	SEND(pm.addr_bytes, 0xc0000207, 0x0b000001);
	CHECK(v == DROP(UNREACHABLE), "unreachable rule by source: %u", v);
	SEND(((uint8_t[]){2, 0, 0, 0, 0xaa, 2}), 0x0a000001, 0x0b000001);
	CHECK(v == DROP(L2_OTHER_HOST), "a MAC nobody has");
	SEND(other_mac, 0x0a000001, 0x0a090001);
	CHECK(v == DROP(L2_OTHER_HOST), "another host's frame meets no blackhole rule: %u", v);
	SEND(other_mac, 0xc0000207, 0x0b000001);
	CHECK(v == DROP(L2_OTHER_HOST), "another host's frame meets no unreachable rule: %u", v);
	SEND(other_mac, 0x0a000001, 0x64400001);
	CHECK(v == DROP(L2_OTHER_HOST), "another host's frame is not local: %u", v);
	SEND(bcast_mac, 0x0a000001, 0x0a090001);
	CHECK(v == DROP(L2_BROADCAST), "link-layer broadcast meets no blackhole rule: %u", v);

	/* the same decisions from the control plane's lookup */
	uint16_t iifs[3] = {40, port, 40};
	uint8_t src[3][16] = {{10, 0, 0, 1}, {10, 0, 0, 1}, {10, 0, 0, 1}},
		dst[3][16] = {{198, 18, 0, 1}, {198, 18, 0, 1}, {198, 18, 5, 1}};
	uint32_t nh[3];
	CHECK(fp_rules_lookup(4, iifs, src, dst, nh, 3) == 0 && nh[0] == 2 && nh[1] == 1 && nh[2] == 1,
	      "rules lookup: %u %u %u", nh[0], nh[1], nh[2]);

	CHECK(fp_table_destroy(1) == -EBUSY, "a table a rule names is not freed");
	CHECK(fp_lookup4(1, rte_cpu_to_be_32(0xc6120001)) == 2, "and keeps its routes");
	CHECK(fp_rules_set(4, NULL, 0) == 0, "rules removed");
	SEND(macvlan, 0x0a000001, 0xc6120001);
	CHECK(v == FP_VERDICT_FORWARD && eth->dst_addr.addr_bytes[5] == 0x54, "without rules: one table");
	SEND(pm.addr_bytes, 0x0a000001, 0xcb007101);
	CHECK(v == DROP(NO_ROUTE), "without rules, a throw route is no route: %u", v);
#undef SEND
	fp_port_set_iifs(port, NULL, 0);
	fp_sync();
	CHECK(fp_table_destroy(0) == 0 && fp_table_destroy(1) == 0, "destroy");
}

static int32_t
add4(uint16_t tidx, uint32_t ip, uint8_t depth, uint32_t nh)
{
	struct fp_route_op op = {.op = FP_ROUTE_ADD, .family = 4, .depth = depth, .nh = nh};
	ip = rte_cpu_to_be_32(ip);
	memcpy(op.addr, &ip, 4);
	int32_t res = -1;
	int rc = fp_table_apply(tidx, &op, 1, &res);
	return rc < 0 ? rc : res;
}

/* A reader thread on the QSBR variable, standing in for a worker. */
enum { READER_RUN, READER_HANG, READER_EXIT };
static _Atomic int reader_mode;

static void *
reader_main(void *arg)
{
	(void)arg;
	rte_rcu_qsbr_thread_register(fp_qs, 0);
	rte_rcu_qsbr_thread_online(fp_qs, 0);
	for (int m; (m = atomic_load(&reader_mode)) != READER_EXIT;) {
		if (m == READER_RUN)
			rte_rcu_qsbr_quiescent(fp_qs, 0);
		rte_pause();
	}
	rte_rcu_qsbr_thread_offline(fp_qs, 0);
	rte_rcu_qsbr_thread_unregister(fp_qs, 0);
	return NULL;
}

/* A worker that stops passing its quiescent point (a wedged PMD) must not
 * hang the control plane: grace periods time out, are counted, and no copy
 * that the worker may still read is written or freed until it moves on;
 * then the copy that missed changes is brought up to date. */
static void
test_grace_stall(void)
{
	CHECK(fp_dp_init(1) == 0, "data plane init");
	struct fp_table_conf tc = {.id = 300, .max_routes4 = 64, .max_routes6 = 64};
	CHECK(fp_table_create(3, &tc) == 0, "table create");
	CHECK(add4(3, 0x0a000000, 8, 1) == 0, "a route while nothing reads");

	atomic_store(&reader_mode, READER_HANG);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, reader_main, NULL) == 0, "reader thread");
	rte_delay_ms(10);
	CHECK(fp_sync() == -ETIMEDOUT, "a stalled reader makes the grace period time out");
	struct fp_rcu_info ri;
	fp_rcu_info(&ri);
	CHECK(ri.stalled && ri.stalls == 1, "stall counted: stalled %d stalls %lu", ri.stalled,
	      (unsigned long)ri.stalls);
	uint64_t t0 = rte_get_timer_cycles();
	CHECK(add4(3, 0x0b000000, 8, 2) == -ETIMEDOUT, "no table write while a reader is stalled");
	CHECK((rte_get_timer_cycles() - t0) * 10 < rte_get_timer_hz(),
	      "a write refused during a stall returns at once, not after another full wait");
	CHECK(fp_lookup4(3, rte_cpu_to_be_32(0x0b000001)) == FP_NH_MISS, "nothing was written");

	/* it moves on: writes resume */
	atomic_store(&reader_mode, READER_RUN);
	CHECK(add4(3, 0x0b000000, 8, 2) == 0, "writes resume");
	fp_rcu_info(&ri);
	CHECK(!ri.stalled && ri.stalled_workers == 0, "stall cleared");

	/* it hangs while a change is published: the change is in the copy in
	 * use, the old copy is left stale and repaired once the reader moves
	 * on, before it is published again */
	uint64_t stalls = ri.stalls;
	atomic_store(&reader_mode, READER_HANG);
	rte_delay_ms(10);
	CHECK(add4(3, 0x0c000000, 8, 3) == 0, "the write goes to the copy nobody reads");
	CHECK(fp_lookup4(3, rte_cpu_to_be_32(0x0c000001)) == 3, "and is published");
	fp_rcu_info(&ri);
	CHECK(ri.stalled && ri.stalls == stalls + 1, "the wait after publishing stalled");
	atomic_store(&reader_mode, READER_RUN);
	CHECK(add4(3, 0x0d000000, 8, 4) == 0, "writes resume, from the stale copy repaired");
	CHECK(add4(3, 0x0e000000, 8, 5) == 0, "and again, from the other copy");
	for (uint32_t i = 0; i < 5; i++)
		CHECK(fp_lookup4(3, rte_cpu_to_be_32(0x0a000001 + (i << 24))) == i + 1,
		      "route %u.0.0.0/8 in the copy in use", 10 + i);

	/* a table no rule names any more is freed only after a grace period:
	 * a stalled reader keeps it, and the table keeps answering */
	atomic_store(&reader_mode, READER_HANG);
	rte_delay_ms(10);
	CHECK(fp_table_destroy(3) == -EAGAIN, "no free while a reader is stalled");
	CHECK(fp_lookup4(3, rte_cpu_to_be_32(0x0a000001)) == 1, "the table is still whole");
	atomic_store(&reader_mode, READER_RUN);
	CHECK(fp_table_destroy(3) == 0, "freed once the reader moves on");
	CHECK(fp_table_destroy(3) == -ENOENT, "and gone");
	atomic_store(&reader_mode, READER_EXIT);
	pthread_join(th, NULL);
	CHECK(fp_sync() == 0, "grace periods end");
}

static int
open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 4096; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

/* Capture files handed to a running exception thread, as fast as the
 * control plane can, never lose or leak a descriptor: each handover either
 * becomes the thread's file or is closed by the next one. */
static void
test_capture_handover(void)
{
	struct fp_worker_conf wc = {.lcore = rte_lcore_id(), .txq = 0};
	CHECK(fp_worker_add(&wc) == 0, "a worker for the exception thread");
	int base = open_fds();
	CHECK(fp_exc_start() == 0, "exception thread");
	int bad = 0;
	for (int i = 0; i < 200000; i++) {
		int fd = open("/dev/null", O_WRONLY);
		bad += fd < 0 || fp_exc_capture(0, fd, 3) != 0;
		if (i % 1000 == 0)
			rte_delay_us_sleep(50); /* let the thread take some */
	}
	CHECK(bad == 0, "%d handovers failed", bad);
	CHECK(fp_exc_capture(0, -1, 0) == 0, "capture off");
	CHECK(fp_exc_stop() == 0, "exception thread stops");
	CHECK(open_fds() == base, "every handed-over file closed: %d open, %d before", open_fds(), base);
}

/* An exception interface made again (a new TAP in a new router netns)
 * takes the old one's place only while the exception thread is stopped;
 * the is_exc flags follow it. */
static void
test_exc_reattach(uint16_t exc_port)
{
	struct fp_exc_stats st;
	CHECK(fp_exc_start() == 0, "exception thread");
	CHECK(fp_exc_reattach(0, exc_port) == -EBUSY, "no reattach while the thread runs");
	CHECK(fp_exc_stop() == 0, "exception thread stops");
	CHECK(fp_exc_reattach(1, exc_port) == -EINVAL, "no such exception");
	CHECK(fp_exc_reattach(0, port) == -EINVAL, "a data port is not its own exception interface");
	CHECK(fp_exc_reattach(0, exc_port) == 0, "the same port again (its id reused)");
	CHECK(fp_ports[exc_port].is_exc, "still the exception interface");
	/* the old port closed, a new one in its place under another id */
	uint16_t nport;
	char err[256];
	CHECK(rte_eal_hotplug_add("vdev", "net_null2", "") == 0, "net_null2");
	CHECK(fp_port_by_name("net_null2", &nport) == 0 && nport != exc_port, "net_null2: %u", nport);
	CHECK(fp_exc_reattach(0, nport) == -ENODEV, "an unconfigured port is refused");
	struct fp_port_conf pc = {.port_id = nport, .n_rxq = 1, .n_txq = 1, .nb_rxd = 128, .nb_txd = 128};
	CHECK(fp_port_setup(&pc, err, sizeof(err)) == 0, "new exception port setup: %s", err);
	CHECK(fp_port_start(nport) == 0, "new exception port start");
	fp_port_stop(exc_port);
	fp_port_close(exc_port);
	CHECK(fp_exc_reattach(0, nport) == 0, "reattached");
	CHECK(!fp_ports[exc_port].is_exc && fp_ports[nport].is_exc, "is_exc moved to the new port");
	CHECK(fp_exc_stats(0, &st) == 0 && st.exc_port == nport && st.port == port, "stats name the new port");
	CHECK(fp_exc_start() == 0 && fp_exc_stop() == 0, "the thread runs on the new port");
	CHECK(fp_exc_reattach(0, FP_EXC_NONE) == 0 && !fp_ports[nport].is_exc, "detached");
	CHECK(fp_exc_stats(0, &st) == 0 && st.exc_port == FP_EXC_NONE, "stats: no port");
	CHECK(fp_exc_start() == 0 && fp_exc_stop() == 0, "the thread runs without it");
	CHECK(fp_exc_reattach(0, nport) == 0 && fp_ports[nport].is_exc, "attached again");
}

/* ---- ICMP errors (fp_icmp_error on its own) ------------------------------- */

static struct fp_wctx icw;
static struct rte_mempool *in_pool;

/* The error fp_icmp_error builds about frame f (received on port, tagged
 * with VID vlan when not 0, stripped as a worker strips it), or NULL. */
static struct rte_mbuf *
icmp_for(const uint8_t *f, uint16_t len, uint16_t reason, uint16_t vlan)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(in_pool);
	if (m == NULL)
		return NULL;
	uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, len);
	memcpy(d, f, len);
	memcpy(d + 6, (uint8_t[]){2, 0, 0, 0, 0x99, 0x99}, 6); /* a host's unicast MAC */
	m->port = port;
	if (vlan) {
		m->ol_flags |= RTE_MBUF_F_RX_VLAN_STRIPPED;
		m->vlan_tci = vlan;
	}
	struct rte_mbuf *r = fp_icmp_error(&icw, m, reason, UINT16_MAX);
	rte_pktmbuf_free(m);
	return r;
}

/* Source IPv4 address of an error (host order), 0 for none. */
static uint32_t
src4_of(struct rte_mbuf *r)
{
	if (r == NULL)
		return 0;
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(r, const void *, 14);
	uint32_t a = rte_be_to_cpu_32(ip->src_addr);
	rte_pktmbuf_free(r);
	return a;
}

/* IPv6 frame with an 8-byte hop-by-hop header (or a fragment header of
 * offset frag when frag != 0xffff) before an ICMPv6 message of type t. */
static uint16_t
mk6_ext(uint8_t *buf, uint8_t hl, uint8_t t, uint16_t frag)
{
	uint8_t d[16] = {0x20, 0x01, 0x0d, 0xb8, 9, [15] = 1};
	mk6(buf, d, hl);
	struct rte_ipv6_hdr *ip = (void *)(buf + 14);
	uint8_t *x = buf + 14 + 40;
	memset(x, 0, 16);
	ip->proto = frag == 0xffff ? 0 : 44;
	ip->payload_len = RTE_BE16(16);
	x[0] = IPPROTO_ICMPV6;
	if (frag == 0xffff) {
		x[2] = 1, x[3] = 4; /* PadN */
	} else {
		x[2] = (uint8_t)(frag >> 8);
		x[3] = (uint8_t)(frag & 0xf8);
	}
	x[8] = t;
	return 14 + 40 + 16;
}

static void
test_icmp(void)
{
	struct rte_ether_addr pm;
	rte_eth_macaddr_get(port, &pm);
	in_pool = rte_mempool_lookup("test_pool");
	CHECK(in_pool != NULL, "pool");
	const uint8_t a4[4] = {192, 0, 2, 1};
	fp_port_set_addrs(port, a4, NULL); /* no IPv6 address on the port */
	const uint8_t r4[4] = {188, 227, 73, 40};
	const uint8_t r6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 1};
	uint8_t f[256];
	uint16_t len;
	struct rte_ether_hdr *eth = (void *)f;
	struct rte_ipv4_hdr *ip = (void *)(eth + 1);
	icw.icmp_last = rte_rdtsc();
	icw.icmp_tokens = 1000;

	/* RFC 1812 4.3.2.7: only about frames sent to the router's own MAC */
	len = mk4(f, 0xc0000263, 0x0a050505, 1, 1000);
	memcpy(f, pm.addr_bytes, 6);
	CHECK(src4_of(icmp_for(f, len, FP_DROP_IP4_TTL_EXCEEDED, 0)) == 0xc0000201, "an error from the port's address");
	memcpy(f, other_mac, 6);
	CHECK(icmp_for(f, len, FP_DROP_NO_ROUTE, 0) == NULL, "no error about another host's frame");
	memcpy(f, bcast_mac, 6);
	CHECK(icmp_for(f, len, FP_DROP_NO_ROUTE, 0) == NULL, "no error about a link-layer broadcast");

	/* a token is spent only on an error that is due */
	icw.icmp_last = rte_rdtsc();
	icw.icmp_tokens = 1;
	len = mk4(f, 0xc0000263, 0x0a050505, 1, 1000);
	memcpy(f, pm.addr_bytes, 6);
	ip->fragment_offset = RTE_BE16(100);
	uint64_t limited = icw.st.icmp_ratelimited;
	CHECK(icmp_for(f, len, FP_DROP_IP4_TTL_EXCEEDED, 0) == NULL, "no error about a non-first fragment");
	CHECK(icw.icmp_tokens >= 1 && icw.st.icmp_ratelimited == limited,
	      "a fragment that gets no error spends no token (%lu left)", (unsigned long)icw.icmp_tokens);
	ip->fragment_offset = 0;
	CHECK(src4_of(icmp_for(f, len, FP_DROP_IP4_TTL_EXCEEDED, 0)) == 0xc0000201,
	      "so the next expiring packet still gets its error");
	icw.icmp_tokens = 1000;

	/* ICMPv6: no error about an error behind extension headers; the
	 * router's address when the port has none of the family */
	len = mk6_ext(f, 1, 1, 0xffff);
	memcpy(f, pm.addr_bytes, 6);
	CHECK(icmp_for(f, len, FP_DROP_IP6_HOP_LIMIT_EXCEEDED, 0) == NULL, "no address: no error");
	fp_set_router_addrs(r4, r6);
	CHECK(icmp_for(f, len, FP_DROP_IP6_HOP_LIMIT_EXCEEDED, 0) == NULL,
	      "no error about an ICMPv6 error behind a hop-by-hop header");
	len = mk6_ext(f, 1, 128, 0xffff);
	memcpy(f, pm.addr_bytes, 6);
	struct rte_mbuf *r = icmp_for(f, len, FP_DROP_IP6_HOP_LIMIT_EXCEEDED, 0);
	CHECK(r != NULL, "an echo request behind a hop-by-hop header gets its error");
	if (r != NULL) {
		const struct rte_ipv6_hdr *ri = rte_pktmbuf_mtod_offset(r, const void *, 14);
		CHECK(memcmp(ri->src_addr, r6, 16) == 0, "from bras_ipv6_address");
		rte_pktmbuf_free(r);
	}
	len = mk6_ext(f, 1, 128, 8);
	memcpy(f, pm.addr_bytes, 6);
	CHECK(icmp_for(f, len, FP_DROP_IP6_HOP_LIMIT_EXCEEDED, 0) == NULL, "no error about a non-first IPv6 fragment");
	len = mk6_ext(f, 1, 1, 0);
	memcpy(f, pm.addr_bytes, 6);
	CHECK(icmp_for(f, len, FP_DROP_IP6_HOP_LIMIT_EXCEEDED, 0) == NULL,
	      "no error about an ICMPv6 error in a first fragment");

	/* the source is the sub-interface's address, else the router's */
	struct fp_iif iifs[] = {
		{.kind = FP_IIF_MAC, .mac = {2, 0, 0, 0, 0xaa, 1}, .iif = 40},
		{.kind = FP_IIF_VLAN, .vid = 100, .iif = 41},
		{.kind = FP_IIF_VLAN, .vid = 200, .iif = 42},
	};
	CHECK(fp_port_set_iifs(port, iifs, RTE_DIM(iifs)) == 0, "iifs");
	struct fp_ifaddr ia[] = {
		{.iif = 40, .family = 4, .len = 24, .addr = {100, 64, 0, 1}},
		{.iif = 41, .family = 4, .len = 24, .addr = {10, 100, 0, 1}},
		{.iif = port, .family = 4, .len = 24, .addr = {192, 0, 2, 1}},
	};
	CHECK(fp_port_set_ifaddrs(port, ia, RTE_DIM(ia)) == 0, "ifaddrs");
	struct fp_ifaddr bad = {.family = 4, .len = 33};
	CHECK(fp_port_set_ifaddrs(port, &bad, 1) == -EINVAL, "a /33");
	len = mk4(f, 0xc0000263, 0x0a050505, 1, 1000);
	memcpy(f, iifs[0].mac, 6);
	r = icmp_for(f, len, FP_DROP_IP4_TTL_EXCEEDED, 0);
	CHECK(r != NULL && memcmp(rte_pktmbuf_mtod(r, uint8_t *) + 6, iifs[0].mac, 6) == 0,
	      "an error about a macvlan's frame comes from the macvlan's MAC");
	CHECK(src4_of(r) == 0x64400001, "... and from its address");
	memcpy(f, pm.addr_bytes, 6);
	CHECK(src4_of(icmp_for(f, len, FP_DROP_IP4_TTL_EXCEEDED, 100)) == 0x0a640001, "VLAN 100: its address");
	CHECK(src4_of(icmp_for(f, len, FP_DROP_IP4_TTL_EXCEEDED, 200)) == 0xbce34928,
	      "VLAN 200 has none: bras_arp_ip");
	CHECK(src4_of(icmp_for(f, len, FP_DROP_IP4_TTL_EXCEEDED, 0)) == 0xc0000201, "the port: its own");

	/* a reply that finds no mbuf is counted: the pool (fp_port.c's, so
	 * drained rather than swapped) keeps one mbuf, for the frame itself */
	static struct rte_mbuf *held[4096];
	unsigned int nheld = 0;
	while (nheld < RTE_DIM(held) && (held[nheld] = rte_pktmbuf_alloc(fp_pool)) != NULL)
		nheld++;
	if (nheld > 0)
		rte_pktmbuf_free(held[--nheld]);
	uint64_t failed0 = icw.st.icmp_alloc_failed;
	CHECK(nheld < RTE_DIM(held) && icmp_for(f, len, FP_DROP_IP4_TTL_EXCEEDED, 0) == NULL &&
		      icw.st.icmp_alloc_failed == failed0 + 1,
	      "icmp_alloc_failed counts it");
	rte_pktmbuf_free_bulk(held, nheld);

	fp_set_router_addrs(NULL, NULL);
	fp_port_set_addrs(port, NULL, NULL);
	fp_port_set_ifaddrs(port, NULL, 0);
	fp_port_set_iifs(port, NULL, 0);
	fp_sync();
}

/* ---- punt classes ------------------------------------------------------------ */

static struct fp_policer pw; /* a worker's policer */

static unsigned int
class_of(const uint8_t *f, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(in_pool);
	memcpy(rte_pktmbuf_append(m, len), f, len);
	m->port = port;
	unsigned int c = fp_punt_class(m);
	rte_pktmbuf_free(m);
	return c;
}

static bool
police_of(const uint8_t *f, uint16_t len, bool glean)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(in_pool);
	memcpy(rte_pktmbuf_append(m, len), f, len);
	m->port = port;
	bool ok = fp_punt_police(&pw, m, 0, glean);
	rte_pktmbuf_free(m);
	return ok;
}

/* IPv4 frame of protocol proto (TCP, UDP: ports sport -> dport). */
static uint16_t
mk4p(uint8_t *f, uint32_t src, uint8_t proto, uint8_t ttl, uint16_t sport, uint16_t dport)
{
	uint16_t len = mk4(f, src, 0x0a000202, ttl, sport);
	struct rte_ipv4_hdr *ip = (void *)(f + 14);
	ip->next_proto_id = proto;
	uint16_t *l4 = (void *)(ip + 1);
	l4[1] = rte_cpu_to_be_16(dport);
	return len;
}

static void
test_punt_classes(void)
{
	in_pool = rte_mempool_lookup("test_pool");
	struct fp_ifaddr ia[] = {
		{.iif = port, .family = 4, .len = 30, .addr = {10, 0, 2, 2}},
		{.iif = port, .family = 6, .len = 64, .addr = {0x20, 0x01, 0x0d, 0xb8, 0, 2, [15] = 2}},
		{.iif = FP_IIF_ANY, .family = 4, .len = 32, .addr = {198, 51, 100, 7}},
	};
	CHECK(fp_port_set_ifaddrs(port, ia, RTE_DIM(ia)) == 0, "ifaddrs");
	uint8_t f[256];
	uint16_t len;
	const uint32_t peer = 0x0a000201, stranger = 0xcb007109, multihop = 0xc6336407;

	len = mk4p(f, stranger, IPPROTO_TCP, 64, 179, 40000);
	CHECK(class_of(f, len) == FP_PUNT_OTHER, "source port 179 from a stranger is not BGP");
	len = mk4p(f, stranger, IPPROTO_TCP, 64, 40000, 179);
	CHECK(class_of(f, len) == FP_PUNT_OTHER, "nor is destination port 179");
	len = mk4p(f, peer, IPPROTO_TCP, 1, 179, 40000);
	CHECK(class_of(f, len) == FP_PUNT_PROTO, "BGP from the connected subnet");
	len = mk4p(f, multihop, IPPROTO_TCP, 60, 40000, 179);
	CHECK(class_of(f, len) == FP_PUNT_PROTO, "BGP from a known multihop peer");
	len = mk4p(f, stranger, IPPROTO_TCP, 255, 179, 40000);
	CHECK(class_of(f, len) == FP_PUNT_PROTO, "TTL 255 (GTSM): on the link");
	len = mk4p(f, peer, 89, 1, 0, 0);
	CHECK(class_of(f, len) == FP_PUNT_PROTO, "OSPF, TTL 1, on-link");
	len = mk4p(f, peer, 89, 2, 0, 0);
	CHECK(class_of(f, len) == FP_PUNT_OTHER, "OSPF with TTL 2");
	len = mk4p(f, stranger, 89, 1, 0, 0);
	CHECK(class_of(f, len) == FP_PUNT_OTHER, "OSPF from off the link");
	len = mk4p(f, stranger, 112, 255, 0, 0);
	CHECK(class_of(f, len) == FP_PUNT_PROTO, "VRRP, TTL 255");
	len = mk4p(f, peer, 112, 64, 0, 0);
	CHECK(class_of(f, len) == FP_PUNT_OTHER, "VRRP below TTL 255");
	len = mk4p(f, peer, IPPROTO_UDP, 254, 49152, 3784);
	CHECK(class_of(f, len) == FP_PUNT_OTHER, "single-hop BFD below TTL 255");
	len = mk4p(f, peer, IPPROTO_UDP, 255, 49152, 3784);
	CHECK(class_of(f, len) == FP_PUNT_PROTO, "single-hop BFD, TTL 255");
	uint8_t d6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 2, [15] = 2};
	len = mk6(f, d6, 1);
	struct rte_ipv6_hdr *ip6 = (void *)(f + 14);
	ip6->proto = IPPROTO_TCP;
	((uint16_t *)(ip6 + 1))[0] = RTE_BE16(179);
	memcpy(ip6->src_addr, (uint8_t[16]){0xfe, 0x80, [15] = 1}, 16);
	CHECK(class_of(f, len) == FP_PUNT_PROTO, "BGP from a link-local address");
	memcpy(ip6->src_addr, (uint8_t[16]){0x20, 0x01, 0x0d, 0xb8, 0, 2, [15] = 1}, 16);
	CHECK(class_of(f, len) == FP_PUNT_PROTO, "BGP from the connected IPv6 subnet");
	memcpy(ip6->src_addr, (uint8_t[16]){0x20, 0x01, 0x0d, 0xb8, 0, 9, [15] = 1}, 16);
	CHECK(class_of(f, len) == FP_PUNT_OTHER, "BGP from an IPv6 stranger");
	len = mk_arp(f, 0x0a000201, 0x0a000202);
	CHECK(class_of(f, len) == FP_PUNT_ND, "ARP");

	/* glean: a few per destination, the class's own rate for all (the
	 * other classes at fibd's defaults) */
	CHECK(fp_punt_set_rate(FP_PUNT_PROTO, 100000, 10000) == 0 && fp_punt_set_rate(FP_PUNT_ND, 10000, 1000) == 0 &&
		      fp_punt_set_rate(FP_PUNT_OTHER, 10000, 1000) == 0,
	      "rates");
	CHECK(fp_punt_set_rate(FP_PUNT_GLEAN, 1000000, 100000) == 0, "glean rate");
	unsigned int ok = 0;
	for (int i = 0; i < 10; i++) {
		len = mk4(f, stranger, 0x0a030101, 64, 1000);
		ok += police_of(f, len, true);
	}
	CHECK(ok == 4, "one destination: %u of 10 gleaned", ok);
	CHECK(pw.policed[0][FP_PUNT_GLEAN] == 6, "policed as glean: %lu", (unsigned long)pw.policed[0][FP_PUNT_GLEAN]);
	CHECK(pw.policed[0][FP_PUNT_OTHER] == 0, "... not as other");
	ok = 0;
	for (uint32_t i = 0; i < 200; i++) {
		len = mk4(f, stranger, 0x0a040000 + i, 64, 1000);
		ok += police_of(f, len, true);
	}
	CHECK(ok == 200, "distinct destinations: %u of 200", ok);
	memset(&pw, 0, sizeof(pw));
	CHECK(fp_punt_set_rate(FP_PUNT_GLEAN, 250, 64) == 0, "glean rate");
	ok = 0;
	for (uint32_t i = 0; i < 254; i++) {
		len = mk4(f, stranger, 0x0a050000 + i, 64, 1000);
		ok += police_of(f, len, true);
	}
	CHECK(ok >= 64 && ok < 100, "a scan of a /24 is held to the glean rate: %u of 254", ok);
	len = mk_arp(f, 0x0a000201, 0x0a000202);
	CHECK(police_of(f, len, false), "ARP still passes after the scan");
	len = mk4p(f, stranger, IPPROTO_TCP, 64, 179, 40000);
	for (int i = 0; i < 5000; i++)
		police_of(f, len, false);
	CHECK(pw.policed[0][FP_PUNT_OTHER] > 0 && pw.policed[0][FP_PUNT_PROTO] == 0,
	      "a flood from port 179 is policed as other (%lu), not proto",
	      (unsigned long)pw.policed[0][FP_PUNT_OTHER]);
	len = mk4p(f, peer, IPPROTO_TCP, 1, 179, 40000);
	CHECK(police_of(f, len, false), "the peer's BGP still passes");
	fp_port_set_ifaddrs(port, NULL, 0);
	fp_sync();
}

/* A burst decides each frame exactly as that frame alone: the plain lane
 * and the burst's nexthop slots (fp_route_burst) must change nothing.
 * The mix has nexthops whose indices share a slot (41, 49, 57: 8 apart),
 * an ECMP group of two of them, a VLAN egress, an unresolved neighbour, a
 * blackhole, no route, TTL 1, a frame over the MTU, a broadcast frame and
 * IPv6 beside IPv4, in bursts of 32 and a short last one. */
static void
test_burst_equals_single(void)
{
	enum { N = 77, T = 5 };
	struct fp_table_conf tc = {.id = 500, .max_routes4 = 64, .max_routes6 = 64, .own = 1};
	CHECK(fp_table_create(T, &tc) == 0, "table create");
	static const uint32_t fwd[] = {41, 49, 57};
	for (unsigned i = 0; i < RTE_DIM(fwd); i++) {
		struct fp_nh_conf c = {.type = FP_NH_FORWARD, .port = port, .dst_mac = {2, 0, 0, 0, 0, (uint8_t)fwd[i]}};
		CHECK(fp_nh_set(fwd[i], &c) == 0, "nh %u", fwd[i]);
	}
	struct fp_nh_conf vlan = {.type = FP_NH_FORWARD, .port = port, .dst_mac = {2, 0, 0, 0, 0, 42}, .vlan = 100};
	struct fp_nh_conf ecmp = {.type = FP_NH_ECMP, .n_buckets = 2, .buckets = {41, 49}};
	struct fp_nh_conf unres = {.type = FP_NH_UNRESOLVED, .port = port};
	struct fp_nh_conf bh = {.type = FP_NH_BLACKHOLE};
	CHECK(fp_nh_set(42, &vlan) == 0 && fp_nh_set(43, &ecmp) == 0 && fp_nh_set(44, &unres) == 0 &&
	      fp_nh_set(45, &bh) == 0, "nexthops");
	for (uint32_t nh = 41; nh <= 57; nh++) {
		if (nh > 45 && nh != 49 && nh != 57)
			continue;
		CHECK(add4(T, 0x0a000000 | nh << 16, 16, nh) == 0, "route 10.%u/16", nh);
		struct fp_route_op op = {.op = FP_ROUTE_ADD, .family = 6, .depth = 48, .nh = nh,
					 .addr = {0x20, 0x01, 0x0d, 0xb8, 0, (uint8_t)nh}};
		int32_t res = -1;
		CHECK(fp_table_apply(T, &op, 1, &res) == 0 && res == 0, "route 2001:db8:%x::/48", nh);
	}
	static const uint8_t second[] = {41, 49, 57, 42, 43, 44, 45, 99 /* no route */};
	struct rte_ether_addr pm;
	rte_eth_macaddr_get(port, &pm);
	static uint8_t frames[N][1600], alone[N][1600];
	uint8_t *fp[N];
	uint16_t len[N], alen[N];
	uint32_t v[N], av[N];
	uint16_t op[N], aop[N];
	uint64_t x = 12345;
	for (unsigned i = 0; i < N; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint8_t nh = second[(x >> 33) % RTE_DIM(second)];
		uint8_t ttl = (x >> 40) % 7 == 0 ? 1 : 64;
		if ((x >> 45) % 3 == 0) {
			uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, nh, 0, 0, 0, 0, 0, 0, 0, 0, 0, (uint8_t)i};
			len[i] = mk6(frames[i], dst, ttl);
		} else {
			len[i] = mk4(frames[i], 0xc0000201, 0x0a000000 | (uint32_t)nh << 16 | i, ttl, (uint16_t)(1000 + i));
		}
		memcpy(frames[i], pm.addr_bytes, 6);
		if ((x >> 50) % 11 == 0) { /* over the port's MTU */
			struct rte_ipv4_hdr *ip = (void *)(frames[i] + 14);
			if (ip->version_ihl == 0x45) {
				ip->total_length = rte_cpu_to_be_16(1580);
				ip->hdr_checksum = 0;
				ip->hdr_checksum = rte_ipv4_cksum(ip);
				len[i] = 1594;
			}
		}
		if ((x >> 55) % 13 == 0)
			memset(frames[i], 0xff, 6); /* link-layer broadcast */
		memcpy(alone[i], frames[i], len[i]);
		alen[i] = len[i];
		fp[i] = frames[i];
	}
	for (unsigned i = 0; i < N; i++) {
		uint8_t *f1[1] = {alone[i]};
		CHECK(fp_process_frames(T, port, f1, &alen[i], 1, &av[i], &aop[i]) == 0, "frame %u alone", i);
	}
	CHECK(fp_process_frames(T, port, fp, len, N, v, op) == 0, "the burst");
	unsigned fwdn = 0;
	for (unsigned i = 0; i < N; i++) {
		fwdn += av[i] == FP_VERDICT_FORWARD;
		CHECK(v[i] == av[i], "frame %u: verdict %u in a burst, %u alone", i, v[i], av[i]);
		if (v[i] != av[i] || v[i] == FP_VERDICT_DROP_BASE + FP_DROP_NO_ROUTE)
			continue;
		CHECK(op[i] == aop[i], "frame %u: port %u in a burst, %u alone", i, op[i], aop[i]);
		if (v[i] == FP_VERDICT_FORWARD)
			CHECK(len[i] == alen[i] && memcmp(frames[i], alone[i], len[i]) == 0,
			      "frame %u: rewritten differently in a burst", i);
	}
	CHECK(fwdn >= N / 3, "the mix forwards a fair share: %u of %d", fwdn, N);
	CHECK(fp_table_destroy(T) == 0, "destroy");
	static const uint32_t gone[] = {43, 41, 42, 44, 45, 49, 57}; /* the group before its members */
	for (unsigned i = 0; i < RTE_DIM(gone); i++)
		CHECK(fp_nh_set(gone[i], &(struct fp_nh_conf){.type = FP_NH_NONE}) == 0, "free nh %u", gone[i]);
}

/* 802.1Q at ingress (vlan_ingress): a priority tag (VID 0) is the port's
 * own untagged frame, as Linux takes it; a frame a PMD both re-tagged and
 * flagged as stripped (DPDK 22.11 af_packet) is tagged once, not twice. */
static void
test_vlan_ingress(void)
{
	struct fp_table_conf tc = {.id = 400, .max_routes4 = 64, .max_routes6 = 64};
	CHECK(fp_table_create(4, &tc) == 0, "table create");
	struct fp_nh_conf fwd = {.type = FP_NH_FORWARD, .port = port, .dst_mac = {2, 0, 0, 0, 0, 0x21}};
	CHECK(fp_nh_set(21, &fwd) == 0, "nexthop");
	CHECK(add4(4, 0x0a000000, 8, 21) == 0, "route");
	static struct fp_wctx vw;
	vw.tidx = 4;
	struct rte_mempool *pool = rte_pktmbuf_pool_create("vlan_in", 63, 0, 0, 2048, SOCKET_ID_ANY);
	CHECK(pool != NULL, "pool");
	uint8_t f[128];
	uint16_t len = mk4(f, 0xc6336401, 0x0a010101, 64, 1000);
	memcpy(f, fp_ports[port].mac.addr_bytes, 6); /* to the port */
	/* tagged: dst, src, 0x8100, TCI, then the IPv4 ethertype and the rest */
	uint8_t tagged[132];
	memcpy(tagged, f, 12);
	tagged[12] = 0x81, tagged[13] = 0x00;
	memcpy(tagged + 16, f + 12, len - 12);
	struct {
		const char *what;
		uint16_t tci;        /* the tag in the frame */
		bool in_frame;       /* the frame carries it */
		bool flagged;        /* the PMD flags it stripped, with tci */
		uint16_t want;       /* verdict */
		uint16_t want_type;  /* ethertype of the frame afterwards */
	} cases[] = {
		{"priority-tagged (VID 0, PCP 5)", 0xa000, true, false, FP_V_FORWARD, RTE_ETHER_TYPE_IPV4},
		{"priority tag stripped by the PMD", 0xa000, false, true, FP_V_FORWARD, RTE_ETHER_TYPE_IPV4},
		{"af_packet: re-tagged and flagged stripped (VID 100)", 100, true, true, FP_V_PUNT, RTE_ETHER_TYPE_VLAN},
		{"stripped by the PMD only (VID 100)", 100, false, true, FP_V_PUNT, RTE_ETHER_TYPE_VLAN},
	};
	for (unsigned int c = 0; c < RTE_DIM(cases); c++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		if (m == NULL) {
			CHECK(false, "%s: mbuf", cases[c].what);
			continue;
		}
		uint16_t l = cases[c].in_frame ? len + 4 : len;
		uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, l);
		memcpy(d, cases[c].in_frame ? tagged : f, l);
		if (cases[c].in_frame) {
			d[14] = cases[c].tci >> 8;
			d[15] = cases[c].tci & 0xff;
		}
		if (cases[c].flagged) {
			m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
			m->vlan_tci = cases[c].tci;
		}
		m->port = port;
		uint16_t v = 0, op = 0;
		fp_route_burst(&vw, &m, 1, &v, &op);
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
		uint16_t type = rte_be_to_cpu_16(eth->ether_type);
		CHECK(v == cases[c].want, "%s: verdict %#x, want %#x", cases[c].what, v, cases[c].want);
		CHECK(type == cases[c].want_type, "%s: ethertype %#x afterwards, want %#x", cases[c].what, type,
		      cases[c].want_type);
		if (type == RTE_ETHER_TYPE_VLAN) {
			const struct rte_vlan_hdr *vh = (const void *)(eth + 1);
			CHECK(rte_be_to_cpu_16(vh->eth_proto) == RTE_ETHER_TYPE_IPV4 &&
				      rte_be_to_cpu_16(vh->vlan_tci) == cases[c].tci &&
				      !(m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED),
			      "%s: tagged once, with its own tag, and not flagged to be tagged again", cases[c].what);
		}
		rte_pktmbuf_free(m);
	}
	rte_mempool_free(pool);
	fp_nh_set(21, &(struct fp_nh_conf){.type = FP_NH_NONE});
	fp_sync();
	CHECK(fp_table_destroy(4) == 0, "destroy");
}

/* ajb_save_ip (fp_ajb.c): matching by source or destination in IPv4 and
 * IPv6 masks, the original copied before the rewrite and the sent copy
 * after it, one record for a packet that is not forwarded, drained in
 * order; a full ring counts ajb_ring_full and loses whole pairs; no mbuf
 * is leaked. Needs fp_dp_init (worker slot 0). */
static void
test_ajb(void)
{
	struct fp_ajb_mask bad = {.family = 4, .len = 33};
	CHECK(fp_ajb_set(&bad, 1) == -EINVAL, "a /33 is refused");
	CHECK(fp_ajb_active() == NULL, "off until masks are set");
	struct fp_ajb_mask m[2] = {{.family = 4, .len = 8, .addr = {10}},
				   {.family = 6, .len = 16, .addr = {0x20, 0x01}}};
	CHECK(fp_ajb_set(m, 2) == 0, "set masks");
	const struct fp_ajb_set *s = fp_ajb_active();
	CHECK(s != NULL, "on");

	struct rte_mbuf *pkts[4];
	CHECK(rte_pktmbuf_alloc_bulk(fp_pool, pkts, 4) == 0, "mbufs");
	uint8_t f[4][128];
	uint16_t len[4];
	uint8_t dst6[16] = {0x30, 0x01};
	len[0] = mk4(f[0], 0x0a010101, 0xc6336401, 64, 1); /* source in 10/8 */
	len[1] = mk4(f[1], 0xc0000201, 0xc6336401, 64, 2); /* neither */
	len[2] = mk6(f[2], dst6, 64);                      /* source 2001::1 in 2001::/16 */
	len[3] = mk4(f[3], 0xc0000201, 0x0a020202, 64, 3); /* destination in 10/8, dropped */
	for (int i = 0; i < 4; i++)
		memcpy(rte_pktmbuf_append(pkts[i], len[i]), f[i], len[i]);
	fp_ajb_rx(0, s, pkts, 4);
	/* the rewrite the worker does in between */
	for (int i = 0; i < 3; i++)
		rte_pktmbuf_mtod(pkts[i], uint8_t *)[5] = 0x42;
	rte_pktmbuf_mtod_offset(pkts[0], struct rte_ipv4_hdr *, 14)->time_to_live = 63;
	uint16_t verdict[4] = {FP_V_FORWARD, FP_V_FORWARD, FP_V_FORWARD, FP_DROP_BLACKHOLE};
	fp_ajb_tx(0, pkts, 4, verdict);

	static uint8_t buf[1 << 16];
	int more;
	int used = fp_ajb_drain(buf, sizeof(buf), &more);
	const struct {
		int pkt;
		uint8_t sent;
	} want[] = {{0, 0}, {0, 1}, {2, 0}, {2, 1}, {3, 0}};
	int n = 0;
	for (int off = 0; off + (int)sizeof(struct fp_ajb_rec) <= used; n++) {
		struct fp_ajb_rec r;
		memcpy(&r, buf + off, sizeof(r));
		const uint8_t *d = buf + off + sizeof(r);
		if (n < (int)RTE_DIM(want)) {
			int p = want[n].pkt;
			const uint8_t *w = want[n].sent ? rte_pktmbuf_mtod(pkts[p], uint8_t *) : f[p];
			CHECK(r.sent == want[n].sent && r.len == len[p] && memcmp(d, w, r.len) == 0,
			      "record %d: packet %d %s", n, p, want[n].sent ? "as sent" : "as received");
			CHECK(r.ns > 1700000000ull * 1000000000ull, "record %d has a wall-clock time", n);
		}
		off += sizeof(r) + RTE_ALIGN_CEIL(r.len, 8);
	}
	CHECK(n == 5 && !more, "5 records (two pairs, one original), got %d", n);
	struct fp_ajb_stats st;
	fp_ajb_stats(&st);
	CHECK(st.packets == 3 && st.records == 5 && st.ring_full == 0 && st.no_mbuf == 0 && st.drained == 5 &&
		      st.masks == 2,
	      "stats %lu packets %lu records", (unsigned long)st.packets, (unsigned long)st.records);

	/* a ring that nobody drains: pairs until it is full, then counted losses */
	const unsigned int rounds = FP_AJB_RING_SIZE; /* 2 records each */
	for (unsigned int i = 0; i < rounds; i++) {
		fp_ajb_rx(0, s, pkts, 1);
		fp_ajb_tx(0, pkts, 1, verdict);
	}
	fp_ajb_stats(&st);
	unsigned int fit = (FP_AJB_RING_SIZE - 1) / 2;
	CHECK(st.packets == 3 + fit && st.ring_full == rounds - fit,
	      "ring full: %lu packets, %lu ajb_ring_full", (unsigned long)st.packets, (unsigned long)st.ring_full);
	unsigned int drained = 0, rounds_left = 100;
	do {
		used = fp_ajb_drain(buf, 4096, &more); /* small: exercises the carry-over */
		for (int off = 0; off + (int)sizeof(struct fp_ajb_rec) <= used; drained++) {
			struct fp_ajb_rec r;
			memcpy(&r, buf + off, sizeof(r));
			CHECK(r.sent == (drained & 1), "pairs stay in order (%u)", drained);
			off += sizeof(r) + RTE_ALIGN_CEIL(r.len, 8);
		}
	} while ((more || used > 0) && --rounds_left);
	CHECK(drained == 2 * fit, "drained %u records, want %u", drained, 2 * fit);
	struct rte_mempool *mp = rte_mempool_lookup("fp_ajb");
	CHECK(mp != NULL && rte_mempool_avail_count(mp) == FP_AJB_MBUFS, "every copy back in the pool: %u",
	      mp ? rte_mempool_avail_count(mp) : 0);

	CHECK(fp_ajb_set(NULL, 0) == 0 && fp_ajb_active() == NULL, "off again");
	rte_pktmbuf_free_bulk(pkts, 4);
}

/* A bulk batch on an own table is recorded in address order, yet the ops
 * of one prefix apply in the batch's order, also when their addresses
 * carry different host bits (fp_table_apply does not require them masked):
 * ADD 10.1.2.3/8 then DEL 10.0.0.0/8 leaves no /8. The batch runs from
 * high addresses to low, so the two orders differ everywhere else. */
static void
test_bulk_order(void)
{
	enum { T = 6, FILL = 20000 };
	struct fp_table_conf tc = {.id = 600, .max_routes4 = 65536, .max_routes6 = 64, .own = 1};
	CHECK(fp_table_create(T, &tc) == 0, "table create");
	struct fp_nh_conf bh = {.type = FP_NH_BLACKHOLE};
	CHECK(fp_nh_set(61, &bh) == 0 && fp_nh_set(62, &bh) == 0, "nexthops");
	struct fp_route_op *ops = calloc(FILL + 4, sizeof(*ops));
	int32_t *res = calloc(FILL + 4, sizeof(*res));
	uint32_t n = 0;
	for (int i = FILL - 1; i >= 0; i--) /* 20.x.y.0/24, high to low */
		ops[n++] = (struct fp_route_op){.op = FP_ROUTE_ADD, .family = 4, .depth = 24, .nh = 61,
						.addr = {20, (uint8_t)(i >> 8), (uint8_t)i}};
	ops[n++] = (struct fp_route_op){.op = FP_ROUTE_ADD, .family = 4, .depth = 8, .nh = 61, .addr = {10, 1, 2, 3}};
	ops[n++] = (struct fp_route_op){.op = FP_ROUTE_DEL, .family = 4, .depth = 8, .addr = {10}};
	ops[n++] = (struct fp_route_op){.op = FP_ROUTE_ADD, .family = 4, .depth = 16, .nh = 61, .addr = {30, 0, 9}};
	ops[n++] = (struct fp_route_op){.op = FP_ROUTE_ADD, .family = 4, .depth = 16, .nh = 62, .addr = {30, 0}};
	CHECK(fp_table_apply(T, ops, n, res) == 0, "bulk batch: %d failed", (int)(res[FILL] | res[FILL + 1]));
	CHECK(fp_lookup4(T, rte_cpu_to_be_32(0x0a010203)) == FP_NH_MISS, "10/8 added then deleted: %u",
	      fp_lookup4(T, rte_cpu_to_be_32(0x0a010203)));
	CHECK(fp_lookup4(T, rte_cpu_to_be_32(0x1e000101)) == 62, "30.0/16 replaced last: %u",
	      fp_lookup4(T, rte_cpu_to_be_32(0x1e000101)));
	CHECK(fp_lookup4(T, rte_cpu_to_be_32(0x14000001)) == 61 &&
		      fp_lookup4(T, rte_cpu_to_be_32(0x144e1f01)) == 61,
	      "the fill is there");
	struct fp_table_info ti;
	fp_table_info(T, &ti);
	CHECK(ti.routes4 == FILL + 1, "routes held %lu, want %u", (unsigned long)ti.routes4, FILL + 1);
	free(ops);
	free(res);
	CHECK(fp_table_destroy(T) == 0, "destroy");
	struct fp_nh_conf none = {.type = FP_NH_NONE};
	CHECK(fp_nh_set(61, &none) == 0 && fp_nh_set(62, &none) == 0, "free nexthops");
}

int
main(int argc, char **argv)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=fptest%d", getpid());
	char *eal[] = {argv[0], "--no-huge", "-m", "1024", "--no-pci", "--vdev", "net_null0", "--vdev", "net_null1",
		       prefix, "--log-level", "lib.eal:warning", "-l", "0"};
	char err[256];
	(void)argc;
	if (fp_eal_init(RTE_DIM(eal), eal, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	CHECK(fp_pool_create("test_pool", 1024, -1) == 0, "pool");
	CHECK(fp_port_by_name("net_null0", &port) == 0, "net_null0");
	struct fp_port_conf pc = {.port_id = port, .n_rxq = 1, .n_txq = 1, .nb_rxd = 128,
				  .nb_txd = 128};
	CHECK(fp_port_setup(&pc, err, sizeof(err)) == 0, "port setup: %s", err);

	test_ttl_checksum();
	test_header_sum();
	test_bucket();
	test_pipeline(0);
	test_pipeline(1);
	uint16_t exc_port;
	CHECK(fp_port_by_name("net_null1", &exc_port) == 0, "net_null1");
	pc.port_id = exc_port;
	CHECK(fp_port_setup(&pc, err, sizeof(err)) == 0, "exception port setup: %s", err);
	test_exception(exc_port);
	test_rules();
	test_icmp();
	test_punt_classes();
	test_vlan_ingress();
	test_burst_equals_single();
	test_bulk_order();
	test_grace_stall();
	test_capture_handover();
	test_ajb();
	test_exc_reattach(exc_port);

	fp_port_close(port);
	fp_eal_cleanup();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
