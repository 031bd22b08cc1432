/* fibd fast path: the C API that the Go control plane (package cgo) calls.
 *
 * Division of labour: everything per packet happens in C on worker lcores;
 * Go only makes control calls (set up ports, start/stop workers, apply a
 * batch of FIB changes, publish a nexthop, read counters). None of these
 * functions is meant to be called per packet.
 *
 * Concurrency model:
 *  - Workers read FIB tables and nexthops without locks.
 *  - There is one writer. All control calls that change or read tables take
 *    fp_ctl_lock internally, so Go may call them from any goroutine.
 *  - Each FIB table exists twice (left-right). A batch is applied to the
 *    copy workers do not use, the copies are swapped with one atomic store,
 *    a QSBR grace period passes, and the batch is replayed on the other copy.
 *  - Nexthops are immutable objects behind an array of RCU pointers;
 *    replacing one frees the old object after a grace period.
 */
#ifndef FP_H
#define FP_H

#include <stdbool.h>
#include <stdint.h>

#include "fp_config.h"
#include "fp_counters.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- EAL ---------------------------------------------------------------- */

/* rte_eal_init on the calling thread; returns the number of parsed args or
 * -rte_errno. errbuf receives a message on failure. */
int fp_eal_init(int argc, char **argv, char *errbuf, int errlen);
int fp_eal_cleanup(void);
/* Worker lcore ids (all EAL lcores but the main one), up to max. */
int fp_worker_lcores(unsigned int *ids, int max);
unsigned int fp_main_lcore(void);

/* ---- Nexthops ----------------------------------------------------------- */

enum fp_nh_type {
	FP_NH_NONE = 0,      /* free slot; a lookup that lands here is a bug */
	FP_NH_FORWARD,       /* send out of port to dst MAC */
	FP_NH_ECMP,          /* pick a member by flow hash */
	FP_NH_UNRESOLVED,    /* on port, neighbour MAC unknown yet */
	FP_NH_LOCAL,         /* addressed to the router itself */
	FP_NH_BLACKHOLE,
	FP_NH_UNREACHABLE,
	FP_NH_PROHIBIT,
	FP_NH_PUNT,          /* to the exception interface of port (router_device subnet) */
	FP_NH_THROW,         /* a throw route: the lookup in this table ends; the ip rules
	                      * go on with the next rule; alone, as no route */
};

/* The FIB's miss value. rte_fib stores nexthops in 31 bits (the low bit of a
 * table entry marks an extension), so indices stay below 2^30. */
#define FP_NH_MISS 0u

struct fp_nh_conf {
	uint8_t type;            /* enum fp_nh_type */
	uint16_t port;           /* FORWARD, UNRESOLVED, PUNT */
	uint8_t dst_mac[6];      /* FORWARD */
	uint16_t vlan;           /* FORWARD, UNRESOLVED: 802.1Q VID to tag with, 0 = none */
	uint16_t n_buckets;      /* ECMP: entries used in buckets[] */
	uint32_t buckets[FP_ECMP_BUCKETS]; /* ECMP: member nexthop indices */
};

/* Publish nexthop idx (1..FP_MAX_NEXTHOPS-1). Replacing an existing one is
 * atomic for workers; the old object is freed after the next grace period.
 * type FP_NH_NONE frees the slot. Returns 0 or -errno. */
int fp_nh_set(uint32_t idx, const struct fp_nh_conf *conf);
int fp_nh_get(uint32_t idx, struct fp_nh_conf *conf);

/* ---- FIB tables ---------------------------------------------------------- */

struct fp_table_conf {
	uint32_t id;            /* kernel table number, informative */
	uint32_t max_routes4;   /* router_max_ip4_route_count */
	uint32_t max_routes6;   /* router_max_ip6_route_count */
	uint32_t tbl8_4;        /* DIR-24-8 tbl8 groups; 0 = derived */
	uint32_t tbl8_6;        /* TRIE tbl8 groups; 0 = derived */
	uint32_t own;           /* 1: fibd's own LPM (fp_lpm.h), one copy
				 * updated in place; 0: rte_fib left-right
				 * (fibd_fib=dpdk) */
};

enum fp_op { FP_ROUTE_ADD = 1, FP_ROUTE_DEL = 2 };

/* One route change. addr is network byte order; IPv4 uses addr[0..3]. */
struct fp_route_op {
	uint8_t op;      /* enum fp_op */
	uint8_t family;  /* 4 or 6 */
	uint8_t depth;   /* prefix length */
	uint8_t pad;
	uint32_t nh;     /* nexthop index for ADD */
	uint8_t addr[16];
};

int fp_table_create(uint16_t tidx, const struct fp_table_conf *conf);
int fp_table_destroy(uint16_t tidx);
/* Apply n ops to both copies of table tidx (left-right, one grace period).
 * result[i] gets 0 or -errno for op i (-ENOSPC: table full). Returns the
 * number of failed ops, or -errno if the batch could not run at all. */
int fp_table_apply(uint16_t tidx, const struct fp_route_op *ops, uint32_t n,
		   int32_t *result);
struct fp_table_info {
	uint64_t routes4, routes6;  /* routes held */
	uint64_t rebuilds;          /* copies rebuilt from scratch */
	uint64_t clone_failures;    /* rebuilds that failed (copies may differ) */
};
int fp_table_info(uint16_t tidx, struct fp_table_info *info);
/* Rebuild both copies from scratch (left-right, one grace period). */
int fp_table_rebuild(uint16_t tidx);
/* Control-plane lookups in the active copy (for tests and the CLI).
 * Returns the nexthop index, FP_NH_MISS when there is no route. */
uint32_t fp_lookup4(uint16_t tidx, uint32_t addr_be);
uint32_t fp_lookup6(uint16_t tidx, const uint8_t addr[16]);
/* Bulk lookup benchmark helper: n lookups in the active copy. */
int fp_lookup4_bulk(uint16_t tidx, const uint32_t *addrs_host, uint32_t *nh, uint32_t n);
int fp_lookup6_bulk(uint16_t tidx, const uint8_t (*addrs)[16], uint32_t *nh, uint32_t n);
/* Wait for a grace period and free retired objects. -ETIMEDOUT when a
 * worker did not pass its quiescent point within the bound (a wedged
 * worker): then nothing was freed. While a worker is stalled, table writes
 * return -ETIMEDOUT too, and nothing that workers may read is changed. */
int fp_sync(void);
struct fp_rcu_info {
	uint64_t grace_periods;   /* completed */
	uint64_t stalls;          /* waits that timed out */
	uint64_t leaked;          /* objects never freed because of a stall */
	bool stalled;             /* the last wait timed out */
	uint64_t stalled_workers; /* bitmap: workers that made no pass then */
};
/* Readable at any time, without waiting for the control lock. */
void fp_rcu_info(struct fp_rcu_info *info);
/* Bytes allocated from the DPDK heap (all sockets): tables, nexthops,
 * mempools. Benchmarks compare it before and after building a FIB. */
uint64_t fp_heap_used(void);

/* ---- Ports ---------------------------------------------------------------- */

struct fp_port_conf {
	uint16_t port_id;
	uint16_t n_rxq;        /* queues actually configured */
	uint16_t n_txq;
	uint16_t nb_rxd;
	uint16_t nb_txd;
	uint8_t rss;           /* enable RSS over n_rxq */
	uint8_t promisc;
	uint8_t scatter;       /* accept multi-segment rx (jumbo) if supported */
	uint8_t tx_poll;       /* call tx burst every 10 ms even with nothing to send
				* (802.3ad bonding sends its LACPDUs from there) */
	uint8_t bond;          /* a bond: received frames name their member port */
};

struct fp_port_info {
	char name[64];
	char driver[32];
	uint16_t max_rxq, max_txq;
	uint16_t mtu;
	uint8_t mac[6];
	int socket;
	uint64_t rx_offload_capa;
	uint64_t rss_offloads;
};

int fp_port_count(void);
int fp_port_by_name(const char *name, uint16_t *port_id);
int fp_port_info(uint16_t port_id, struct fp_port_info *info);
/* Create the packet pool shared by all ports (one per socket in a NUMA box:
 * socket -1 means any). */
int fp_pool_create(const char *name, uint32_t n_mbufs, int socket);
int fp_port_setup(const struct fp_port_conf *conf, char *errbuf, int errlen);
int fp_port_start(uint16_t port_id);
int fp_port_stop(uint16_t port_id);
int fp_port_close(uint16_t port_id);

struct fp_link {
	uint32_t speed_mbps;
	uint8_t up, full_duplex, autoneg;
};
int fp_port_link(uint16_t port_id, struct fp_link *link);
/* Tell the fast path that a port's link is down (or up again): ECMP groups
 * stop picking members on it at once (fast local failover). */
int fp_port_set_link_down(uint16_t port_id, int down);

struct fp_port_stats {
	uint64_t ipackets, opackets, ibytes, obytes, imissed, ierrors, oerrors, rx_nombuf;
};
int fp_port_stats(uint16_t port_id, struct fp_port_stats *st);
int fp_port_stats_reset(uint16_t port_id);

/* ---- Workers ---------------------------------------------------------------- */

/* One worker polls a list of (port, rx queue) and transmits on queue
 * txq of every port. */
struct fp_rxq {
	uint16_t port;
	uint16_t queue;
};

struct fp_worker_conf {
	unsigned int lcore;
	uint16_t txq;                 /* tx queue this worker owns on every port */
	uint16_t n_rxq;
	struct fp_rxq rxq[FP_MAX_PORTS * 4];
};

/* Prepare the data plane for n_workers workers (QSBR, counters). */
int fp_dp_init(unsigned int n_workers);
int fp_worker_add(const struct fp_worker_conf *conf);
/* Launch all workers with rte_eal_remote_launch. Must run on the main lcore. */
int fp_workers_launch(void);
/* Ask workers to stop (they flush tx buffers and go offline) and wait. Must
 * run on the main lcore. */
int fp_workers_stop(void);
bool fp_workers_running(void);
/* Idle back-off: 0 = busy poll; else sleep this long after idle polls. */
void fp_set_idle_sleep_us(uint32_t us);
/* Port MTU and MAC as the fast path uses them (set by fp_port_setup). */
void fp_port_set_mtu(uint16_t port_id, uint16_t mtu);
/* A VLAN sub-interface of the port's exception interface exists (on) or
 * not: frames tagged with vid are routed (untagged) instead of punted as
 * they are. */
void fp_port_set_vlan(uint16_t port_id, uint16_t vid, bool on);
/* fibd's own addresses on a port (network order), the source of the ICMP
 * errors it sends there; NULL clears one. */
void fp_port_set_addrs(uint16_t port_id, const uint8_t *ip4, const uint8_t *ip6);
/* The router's addresses (bras_arp_ip, bras_ipv6_address): the source of
 * ICMP errors sent from an interface without an address of the family;
 * NULL clears one. */
void fp_set_router_addrs(const uint8_t *ip4, const uint8_t *ip6);

/* Layer-3 facts of a port for the punt policer and ICMP errors: the
 * addresses of the port's interfaces (the port's and its VLAN and macvlan
 * sub-interfaces') and the routing daemon's protocol peers. */
struct fp_ifaddr {
	uint16_t iif;       /* the interface the address is on (the port or an
			     * fp_iif id); FP_IIF_ANY: a peer (addr/len) */
	uint8_t family;     /* 4 or 6 */
	uint8_t len;        /* prefix length */
	uint8_t addr[16];   /* network order, IPv4 in the first 4 bytes; an
			     * interface address is unmasked (address/subnet) */
};
/* Replace port's entries (n = 0 clears them). Sources within one of them
 * (or IPv6 link-local sources) may be routing-protocol traffic; the first
 * address of a family of a sub-interface is the source of the ICMP errors
 * about what arrives on it. Returns 0 or -errno. */
int fp_port_set_ifaddrs(uint16_t port_id, const struct fp_ifaddr *e, uint32_t n);

/* Per-worker counters. */
struct fp_worker_stats {
	uint64_t rx;            /* packets received */
	uint64_t tx;            /* packets handed to tx and accepted */
	uint64_t forwarded;     /* packets routed (before tx) */
	uint64_t polls;         /* loop passes */
	uint64_t idle_polls;    /* passes that received nothing */
	uint64_t sleeps;        /* back-off sleeps */
	uint64_t icmp_sent;     /* ICMP errors sent */
	uint64_t icmp_ratelimited; /* ICMP errors the rate limit held back */
	uint64_t icmp_alloc_failed; /* ICMP errors not sent: no mbuf for the reply */
	uint64_t punted;        /* packets handed to the exception thread */
	uint64_t injected;      /* packets from exception interfaces sent out */
	uint64_t drop[FP_DROP_MAX];
};
int fp_worker_stats(unsigned int widx, struct fp_worker_stats *st);
void fp_stats_reset(void);
const char *fp_drop_name(unsigned int reason);
unsigned int fp_worker_count(void);

/* ---- Exception path ---------------------------------------------------------
 *
 * Frames for the routing daemon (the router_device's subnets, the kernel's
 * own addresses, ARP/NDP, listed multicast, link-local, packets whose
 * neighbour is not resolved yet) leave the workers through one ring per
 * worker to the exception thread, which writes them as they are to the
 * port's exception interface (a TAP in router_netns, or the fibd end of an
 * operator's veth). What the routing daemon sends there goes back through
 * one ring per worker and leaves the port as it is. Workers police punts
 * per class, so a flood towards a punted address cannot crowd out the
 * routing protocols, the exception thread or forwarding. */

enum fp_punt_class {
	FP_PUNT_PROTO = 0,  /* BGP, OSPF, BFD, LDP, RIP, VRRP from what can be a peer
			     * (fp_port_set_ifaddrs, TTL rules) */
	FP_PUNT_ND,         /* ARP and IPv6 neighbour discovery */
	FP_PUNT_OTHER,      /* everything else (ping, protocol ports from anyone else, ...) */
	FP_PUNT_GLEAN,      /* packets towards a neighbour not resolved yet (also
			     * limited per destination) */
	FP_PUNT_CLASSES
};

/* Attach exception interface port exc_port (a started port the workers do
 * not poll) to data port port. Returns the exception index or -errno.
 * Must be called before the workers are launched. */
int fp_exc_attach(uint16_t port, uint16_t exc_port);
/* Replace exception idx's interface port by exc_port (a started port the
 * workers do not poll), e.g. a TAP made again in a new router netns, or by
 * FP_EXC_NONE while there is none (punts to it are dropped and counted):
 * only while the exception thread is stopped (-EBUSY otherwise). */
#define FP_EXC_NONE UINT16_MAX
int fp_exc_reattach(unsigned int idx, uint16_t exc_port);
/* Punt policer: rate (packets/s, all workers together) and burst of one
 * class; rate 0 punts nothing of that class. Safe while running. */
int fp_punt_set_rate(unsigned int cls, uint32_t pps, uint32_t burst);
/* Start/stop the exception thread (after fp_workers_launch / before
 * fp_workers_stop). The thread inherits the caller's CPU affinity. */
int fp_exc_start(void);
int fp_exc_stop(void);

/* Capture (router_tap_pcap): frames from the exception interface
 * (FP_CAP_FROM_EXC) and to it (FP_CAP_TO_EXC) are appended to fd as pcap
 * records; the caller wrote the file header. The exception thread takes
 * fd over (and closes the previous one); fd -1 stops capturing. */
#define FP_CAP_FROM_EXC 1u
#define FP_CAP_TO_EXC 2u
int fp_exc_capture(unsigned int idx, int fd, unsigned int dirs);

struct fp_exc_stats {
	uint16_t port, exc_port;
	uint64_t captured;      /* frames written to the capture file */
	uint64_t cap_errors;    /* ... that could not be */
	uint64_t to_exc;        /* punted frames written to the exception interface */
	uint64_t to_exc_drop;   /* ... that it did not accept */
	uint64_t from_exc;      /* frames the exception interface sent */
	uint64_t from_exc_drop; /* ... lost because the inject ring was full */
	uint64_t policed[FP_PUNT_CLASSES]; /* punts held back by the policer, per class */
};
/* Counters of exception idx (0..fp_exc_count()-1). */
int fp_exc_stats(unsigned int idx, struct fp_exc_stats *st);
unsigned int fp_exc_count(void);

/* ---- Policy routing (ip rules) ------------------------------------------------
 *
 * With a rule set published for a family, each packet's table is chosen
 * as the kernel does: the rules are tried in order; the first whose
 * selectors match decides; a "lookup" rule whose table has no route for
 * the destination passes the packet to the next rule. Without a rule set,
 * every packet is looked up in the worker's table (the fast, usual case).
 *
 * The ingress interface of a packet (the rules' iif) is its port, or the
 * macvlan interface whose MAC it was sent to, or the VLAN sub-interface
 * its tag names: ids from FP_MAX_PORTS up, given by fp_port_set_iifs(). */

#define FP_IIF_ANY 0xffff

enum fp_rule_action {
	FP_RULE_LOOKUP = 1,     /* look up table tidx; no route: next rule */
	FP_RULE_LOCAL,          /* the kernel's local table: tidx, but only its local and punt routes */
	FP_RULE_BLACKHOLE,
	FP_RULE_UNREACHABLE,
	FP_RULE_PROHIBIT,
};

struct fp_rule {
	uint32_t prio;          /* informative: rules are given in order */
	uint16_t iif;           /* FP_IIF_ANY, a port or an interface id */
	uint16_t tidx;          /* LOOKUP, LOCAL */
	uint8_t action;         /* enum fp_rule_action */
	uint8_t src_len, dst_len;
	uint8_t pad;
	uint8_t src[16], dst[16]; /* network order, IPv4 in the first 4 bytes */
};

/* Publish the rules of family 4 or 6 (n = 0 removes them: one table). */
int fp_rules_set(uint8_t family, const struct fp_rule *rules, uint32_t n);

/* Ingress interfaces of a port's frames: sent to mac (kind FP_IIF_MAC), or
 * tagged with vid (FP_IIF_VLAN), they arrive on interface iif. */
enum fp_iif_kind { FP_IIF_MAC = 1, FP_IIF_VLAN };
struct fp_iif {
	uint8_t kind;
	uint8_t mac[6];
	uint16_t vid;
	uint16_t iif;
};
int fp_port_set_iifs(uint16_t port_id, const struct fp_iif *iifs, uint32_t n);

/* Control-plane lookups through the rules (CLI, tests, benchmarks): the
 * nexthop index each (iif, src, dst) gets, FP_NH_MISS for none, or a drop
 * reason + FP_VERDICT_DROP_BASE for a rule that drops. Addresses are in
 * network order, 16 bytes each (IPv4 in the first 4). */
int fp_rules_lookup(uint8_t family, const uint16_t *iif, const uint8_t (*src)[16],
		    const uint8_t (*dst)[16], uint32_t *nh, uint32_t n);

/* ---- Packet path without ports (tests, fuzzing) ----------------------------- */

/* Run the complete per-packet pipeline over raw frames received on in_port,
 * in a private worker context: verdict per frame (FP_VERDICT_FORWARD,
 * FP_VERDICT_PUNT, FP_VERDICT_GLEAN or a drop reason + 1000), egress port or exception, and the frame as it would leave
 * (rewritten in place, lens[] updated when trimmed or tagged: each frame
 * needs room for 4 more bytes). The table is tidx.
 * Returns 0 or -errno. */
#define FP_VERDICT_FORWARD 0
#define FP_VERDICT_PUNT 1          /* port[] gets the exception index */
#define FP_VERDICT_GLEAN 2         /* a punt for an unresolved neighbour (ditto) */
#define FP_VERDICT_DROP_BASE 1000
int fp_process_frames(uint16_t tidx, uint16_t in_port, uint8_t **frames, uint16_t *lens,
		      uint32_t n, uint32_t *verdict, uint16_t *port);

#ifdef __cplusplus
}
#endif
#endif /* FP_H */
