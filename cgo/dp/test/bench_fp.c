/* Not a test: the cost of fibd's routing step per packet, without the
 * PMDs. fp_route_burst() decides bursts of 32 UDP frames that sit in the
 * cache, as a worker's do right after rx: header checks, the bulk lookup,
 * nexthop, MAC rewrite and TTL. The forwarding bench (test/bench) measures
 * the whole worker through net_pcap and net_null, where the PMDs take
 * about half the time and starts differ by up to 40%; this one isolates
 * fibd's own code, so a change to the loop shows in a figure that holds
 * still between runs.
 *
 *   bench_fp [routes]   (routes per family, default 65536)
 *
 * Prints ns per packet for IPv4 and IPv6, best of ROUNDS rounds. Built by
 * fp_ab.sh with -DFP_AB, it times fp_route_burst of an earlier revision
 * (old_fp_route_burst) in the same process, rounds taken in turn, so that
 * the machine's moods fall on both alike. */
#define _GNU_SOURCE /* nftw (eal_rundir.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "fp.h"
#include "fp_ports.h"
#include "fp_workers.h"

#include "eal_rundir.h"

#define PKTS 128 /* frames in flight, one destination each */
#define PASSES 50 /* decisions of each frame per round (TTL 255 -> 205) */
#define ROUNDS 200
#define NHS 4

static uint16_t port;
static struct rte_mbuf *pkts[PKTS];
static uint64_t rng = 88172645463325252ull;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench_fp: %s: %d\n", what, rc);
	exit(1);
}

/* Frame i of family fam towards route r (of n): 64-byte IPv4 or 62-byte
 * IPv6 UDP, addressed to the port's MAC, TTL 255. */
static void
frame(struct rte_mbuf *m, int fam, uint32_t r, const struct rte_ether_addr *mac)
{
	rte_pktmbuf_reset(m);
	uint16_t len = fam == 4 ? 60 : 62;
	uint8_t *b = (uint8_t *)rte_pktmbuf_append(m, len);
	memset(b, 0, len);
	struct rte_ether_hdr *eth = (void *)b;
	rte_ether_addr_copy(mac, &eth->dst_addr);
	memset(eth->src_addr.addr_bytes, 0x02, 6);
	m->port = port;
	if (fam == 4) {
		eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
		struct rte_ipv4_hdr *ip = (void *)(eth + 1);
		ip->version_ihl = 0x45;
		ip->total_length = rte_cpu_to_be_16(len - 14);
		ip->time_to_live = 255;
		ip->next_proto_id = IPPROTO_UDP;
		ip->src_addr = RTE_BE32(0xc0000201);
		/* 16.0.0.0/24 + r: one /24 each */
		ip->dst_addr = rte_cpu_to_be_32((0x10000000u + (r << 8)) | (rnd() & 0xff));
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	} else {
		eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
		struct rte_ipv6_hdr *ip = (void *)(eth + 1);
		ip->vtc_flow = RTE_BE32(6u << 28);
		ip->payload_len = rte_cpu_to_be_16(len - 14 - 40);
		ip->proto = IPPROTO_UDP;
		ip->hop_limits = 255;
		ip->src_addr[0] = 0x20;
		ip->src_addr[1] = 0x01;
		ip->src_addr[15] = 1;
		/* 2001:db8:RRRR::/48 */
		ip->dst_addr[0] = 0x20;
		ip->dst_addr[1] = 0x01;
		ip->dst_addr[2] = (uint8_t)(r >> 24);
		ip->dst_addr[3] = (uint8_t)(r >> 16);
		ip->dst_addr[4] = (uint8_t)(r >> 8);
		ip->dst_addr[5] = (uint8_t)r;
		for (int k = 6; k < 16; k++)
			ip->dst_addr[k] = (uint8_t)rnd();
	}
}

static void
routes(uint32_t n)
{
	struct fp_route_op *ops = calloc(2 * (size_t)n, sizeof(*ops));
	int32_t *res = calloc(2 * (size_t)n, sizeof(*res));
	if (ops == NULL || res == NULL)
		die("calloc", 0);
	for (uint32_t r = 0; r < n; r++) {
		struct fp_route_op *o4 = &ops[2 * r], *o6 = &ops[2 * r + 1];
		uint32_t a = 0x10000000u + (r << 8);
		*o4 = (struct fp_route_op){.op = FP_ROUTE_ADD, .family = 4, .depth = 24, .nh = 1 + r % NHS,
					   .addr = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8)}};
		*o6 = (struct fp_route_op){.op = FP_ROUTE_ADD, .family = 6, .depth = 48, .nh = 1 + r % NHS,
					   .addr = {0x20, 0x01, (uint8_t)(r >> 24), (uint8_t)(r >> 16),
						    (uint8_t)(r >> 8), (uint8_t)r}};
	}
	int nf = fp_table_apply(0, ops, 2 * n, res);
	if (nf != 0)
		die("routes failed", nf);
	free(ops);
	free(res);
}

typedef void route_fn(struct fp_wctx *, struct rte_mbuf **, uint16_t, uint16_t *, uint16_t *);
#ifdef FP_AB
route_fn old_fp_route_burst;
#define VARIANTS 2
static route_fn *const variant[VARIANTS] = {fp_route_burst, old_fp_route_burst};
static const char *const variant_name[VARIANTS] = {"this tree", "old"};
#else
#define VARIANTS 1
static route_fn *const variant[VARIANTS] = {fp_route_burst};
static const char *const variant_name[VARIANTS] = {""};
#endif

/* Best ns per packet of each variant, rounds taken in turn. */
static void
run(int fam, uint32_t n, const struct rte_ether_addr *mac, double *best)
{
	static struct fp_wctx w;
	uint16_t verdict[FP_BURST], oport[FP_BURST];
	for (int v = 0; v < VARIANTS; v++)
		best[v] = 1e30;
	for (int round = 0; round < ROUNDS * VARIANTS; round++) {
		route_fn *route = variant[round % VARIANTS];
		for (unsigned i = 0; i < PKTS; i++)
			frame(pkts[i], fam, rnd() % n, mac);
		uint64_t fwd = 0, t0 = rte_rdtsc_precise();
		for (int p = 0; p < PASSES; p++) {
			for (unsigned b = 0; b < PKTS; b += FP_BURST) {
				route(&w, &pkts[b], FP_BURST, verdict, oport);
				for (unsigned k = 0; k < FP_BURST; k++)
					fwd += verdict[k] == FP_V_FORWARD;
			}
		}
		uint64_t t1 = rte_rdtsc_precise();
		if (fwd != (uint64_t)PASSES * PKTS)
			die("frames not forwarded", (int)((uint64_t)PASSES * PKTS - fwd));
		double ns = (double)(t1 - t0) * 1e9 / (double)rte_get_tsc_hz() / ((double)PASSES * PKTS);
		if (ns < best[round % VARIANTS])
			best[round % VARIANTS] = ns;
	}
}

static void
report(const char *fam, const double *best)
{
	printf("  %s", fam);
	for (int v = 0; v < VARIANTS; v++)
		printf("  %s%s%.2f ns/packet", variant_name[v], VARIANTS > 1 ? " " : "", best[v]);
	if (VARIANTS > 1)
		printf("  (%+.1f%%)", (best[0] / best[1] - 1) * 100);
	printf("\n");
}

int
main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 65536;
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=fpbench%d", getpid());
	char lcore[24]; /* the last CPU: the first takes the system's interrupts */
	snprintf(lcore, sizeof(lcore), "%ld", sysconf(_SC_NPROCESSORS_ONLN) - 1);
	char *eal[] = {argv[0], "--no-huge", "-m", "2048", "--no-pci", "--vdev", "net_null0",
		       prefix, "--log-level", "lib.eal:warning", "-l", lcore};
	char err[256];
	if (n == 0 || n > (1u << 20))
		die("routes per family: 1 to 1048576", (int)n);
	if (fp_eal_init(RTE_DIM(eal), eal, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (fp_pool_create("bench_pool", 8192, -1) != 0 || fp_port_by_name("net_null0", &port) != 0)
		die("pool or port", -1);
	struct fp_port_conf pc = {.port_id = port, .n_rxq = 1, .n_txq = 1, .nb_rxd = 128, .nb_txd = 128};
	if (fp_port_setup(&pc, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct rte_ether_addr mac;
	rte_eth_macaddr_get(port, &mac);
	struct fp_table_conf tc = {.id = 254, .max_routes4 = n + 16, .max_routes6 = n + 16, .own = 1};
	if (fp_table_create(0, &tc) != 0)
		die("table", -1);
	for (uint32_t i = 1; i <= NHS; i++) {
		/* to the port's own MAC: the rewritten frame is decided again */
		struct fp_nh_conf nh = {.type = FP_NH_FORWARD, .port = port};
		memcpy(nh.dst_mac, mac.addr_bytes, 6);
		if (fp_nh_set(i, &nh) != 0)
			die("nexthop", (int)i);
	}
	routes(n);
	if (rte_pktmbuf_alloc_bulk(fp_pool, pkts, PKTS) != 0)
		die("mbufs", PKTS);
	printf("fp_route_burst, fibd_fib=own, %u IPv4 /24 + %u IPv6 /48 routes, %d nexthops, "
	       "%d frames in cache (one destination each), bursts of %d, best of %d rounds\n",
	       n, n, NHS, PKTS, FP_BURST, ROUNDS);
	double best[VARIANTS];
	run(4, n, &mac, best);
	report("IPv4", best);
	run(6, n, &mac, best);
	report("IPv6", best);
	rte_pktmbuf_free_bulk(pkts, PKTS);
	fp_port_close(port);
	eal_cleanup_rundir(fp_eal_cleanup);
	return 0;
}
