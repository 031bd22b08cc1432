/* Port setup and statistics: thin wrappers over ethdev that also record
 * what the fast path needs per port (fp_ports.h: MAC, MTU, tx queues, the
 * exception binding, VLANs, ingress interface ids, addresses). The only
 * writer of fp_ports[] and fp_pool. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "fp_ports.h"
#include "fp_rcu.h"

struct fp_port_state fp_ports[FP_MAX_PORTS];
struct rte_mempool *fp_pool;

int
fp_port_count(void)
{
	return rte_eth_dev_count_avail();
}

int
fp_port_by_name(const char *name, uint16_t *port_id)
{
	return rte_eth_dev_get_port_by_name(name, port_id);
}

int
fp_port_info(uint16_t port_id, struct fp_port_info *info)
{
	struct rte_eth_dev_info di;
	memset(info, 0, sizeof(*info));
	int rc = rte_eth_dev_info_get(port_id, &di);
	if (rc < 0)
		return rc;
	rte_eth_dev_get_name_by_port(port_id, info->name);
	snprintf(info->driver, sizeof(info->driver), "%s", di.driver_name);
	info->max_rxq = di.max_rx_queues;
	info->max_txq = di.max_tx_queues;
	info->rx_offload_capa = di.rx_offload_capa;
	info->rss_offloads = di.flow_type_rss_offloads;
	info->socket = rte_eth_dev_socket_id(port_id);
	rte_eth_dev_get_mtu(port_id, &info->mtu);
	struct rte_ether_addr mac;
	if (rte_eth_macaddr_get(port_id, &mac) == 0)
		memcpy(info->mac, mac.addr_bytes, 6);
	return 0;
}

int
fp_pool_create(const char *name, uint32_t n, int socket)
{
	if (fp_pool != NULL)
		return -EEXIST;
	fp_pool = rte_pktmbuf_pool_create(name, n, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					  socket < 0 ? SOCKET_ID_ANY : socket);
	return fp_pool == NULL ? -rte_errno : 0;
}

#define ERR(...) (snprintf(errbuf, errlen, __VA_ARGS__))

int
fp_port_setup(const struct fp_port_conf *c, char *errbuf, int errlen)
{
	uint16_t pid = c->port_id;
	struct rte_eth_dev_info di;
	int rc;

	if (pid >= FP_MAX_PORTS) {
		ERR("port id %u above the build's max_ports %d", pid, FP_MAX_PORTS);
		return -EINVAL;
	}
	if (fp_pool == NULL) {
		ERR("no mbuf pool");
		return -EINVAL;
	}
	rc = rte_eth_dev_info_get(pid, &di);
	if (rc < 0) {
		ERR("dev_info: %s", rte_strerror(-rc));
		return rc;
	}
	if (c->n_rxq == 0 || c->n_rxq > di.max_rx_queues ||
	    c->n_txq == 0 || c->n_txq > di.max_tx_queues) {
		ERR("needs %u rx / %u tx queues, device has %u / %u", c->n_rxq, c->n_txq,
		    di.max_rx_queues, di.max_tx_queues);
		return -EINVAL;
	}

	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (c->rss && c->n_rxq > 1) {
		uint64_t hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) &
			      di.flow_type_rss_offloads;
		if (hf != 0) {
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
			conf.rx_adv_conf.rss_conf.rss_hf = hf;
		}
	}
	/* Let the NIC verify IPv4 checksums when it can (fp_ip4_check trusts
	 * RTE_MBUF_F_RX_IP_CKSUM_GOOD), and accept jumbo frames as chains so
	 * they reach the MTU check instead of vanishing in the PMD. */
	conf.rxmode.offloads = di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	if (c->scatter)
		conf.rxmode.offloads |= di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER;
	if (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
	/* Chains received with scatter must be transmittable as chains. */
	if (conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_SCATTER)
		conf.txmode.offloads |= di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;

	rc = rte_eth_dev_configure(pid, c->n_rxq, c->n_txq, &conf);
	if (rc < 0) {
		ERR("configure: %s", rte_strerror(-rc));
		return rc;
	}
	uint16_t nb_rxd = c->nb_rxd, nb_txd = c->nb_txd;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nb_rxd, &nb_txd);
	if (rc < 0) {
		ERR("descriptors: %s", rte_strerror(-rc));
		return rc;
	}
	int socket = rte_eth_dev_socket_id(pid);
	if (socket < 0)
		socket = SOCKET_ID_ANY;
	for (uint16_t q = 0; q < c->n_rxq; q++) {
		struct rte_eth_rxconf rxc = di.default_rxconf;
		rxc.offloads = conf.rxmode.offloads;
		rc = rte_eth_rx_queue_setup(pid, q, nb_rxd, socket, &rxc, fp_pool);
		if (rc < 0) {
			ERR("rx queue %u: %s", q, rte_strerror(-rc));
			return rc;
		}
	}
	for (uint16_t q = 0; q < c->n_txq; q++) {
		struct rte_eth_txconf txc = di.default_txconf;
		txc.offloads = conf.txmode.offloads;
		rc = rte_eth_tx_queue_setup(pid, q, nb_txd, socket, &txc);
		if (rc < 0) {
			ERR("tx queue %u: %s", q, rte_strerror(-rc));
			return rc;
		}
	}
	if (c->promisc) {
		rc = rte_eth_promiscuous_enable(pid);
		if (rc < 0 && rc != -ENOTSUP) {
			ERR("promiscuous: %s", rte_strerror(-rc));
			return rc;
		}
	}

	struct fp_port_state *ps = &fp_ports[pid];
	rte_eth_macaddr_get(pid, &ps->mac);
	uint16_t mtu = RTE_ETHER_MTU;
	rte_eth_dev_get_mtu(pid, &mtu);
	ps->mtu = mtu;
	ps->n_txq = c->n_txq;
	ps->tx_poll = c->tx_poll;
	ps->bond = c->bond;
	ps->configured = true;
	return 0;
}

void
fp_port_set_mtu(uint16_t pid, uint16_t mtu)
{
	if (pid < FP_MAX_PORTS)
		fp_ports[pid].mtu = mtu;
}

void
fp_port_set_vlan(uint16_t pid, uint16_t vid, bool on)
{
	if (pid >= FP_MAX_PORTS || vid >= 4096)
		return;
	uint64_t bit = 1ull << (vid % 64);
	if (on)
		atomic_fetch_or(&fp_ports[pid].vlans[vid / 64], bit);
	else
		atomic_fetch_and(&fp_ports[pid].vlans[vid / 64], ~bit);
}

void
fp_port_set_addrs(uint16_t pid, const uint8_t *ip4, const uint8_t *ip6)
{
	if (pid >= FP_MAX_PORTS)
		return;
	struct fp_port_state *ps = &fp_ports[pid];
	/* Workers may read these while they change: an error sent meanwhile
	 * may carry a mixed source address, never a crash. */
	ps->has4 = false;
	ps->has6 = false;
	if (ip4 != NULL) {
		memcpy(&ps->ip4, ip4, 4);
		ps->has4 = true;
	}
	if (ip6 != NULL) {
		memcpy(ps->ip6, ip6, 16);
		ps->has6 = true;
	}
}

int
fp_port_set_ifaddrs(uint16_t pid, const struct fp_ifaddr *e, uint32_t n)
{
	if (pid >= FP_MAX_PORTS)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if ((e[i].family != 4 && e[i].family != 6) || e[i].len > (e[i].family == 4 ? 32 : 128))
			return -EINVAL;
	struct fp_ifaddrs *a = NULL;
	if (n > 0) {
		a = rte_zmalloc("fp_ifaddrs", sizeof(*a) + n * sizeof(a->e[0]), RTE_CACHE_LINE_SIZE);
		if (a == NULL)
			return -ENOMEM;
		a->n = n;
		memcpy(a->e, e, n * sizeof(a->e[0]));
	}
	fp_ctl_lock_take();
	fp_retire(atomic_exchange_explicit(&fp_ports[pid].ifaddrs, a, memory_order_release));
	fp_ctl_lock_give();
	return 0;
}

int
fp_port_set_iifs(uint16_t pid, const struct fp_iif *iifs, uint32_t n)
{
	if (pid >= FP_MAX_PORTS)
		return -EINVAL;
	struct fp_iif_map *m = NULL;
	if (n > 0) {
		m = rte_zmalloc("fp_iifs", sizeof(*m) + n * sizeof(m->e[0]), RTE_CACHE_LINE_SIZE);
		if (m == NULL)
			return -ENOMEM;
		m->n = n;
		memcpy(m->e, iifs, n * sizeof(m->e[0]));
	}
	fp_ctl_lock_take();
	fp_retire(atomic_exchange_explicit(&fp_ports[pid].iifs, m, memory_order_release));
	fp_ctl_lock_give();
	return 0;
}

void
fp_port_bind_exc(uint16_t port, uint16_t exc)
{
	fp_ports[port].exc = exc;
	fp_ports[port].has_exc = true;
}

void
fp_port_mark_exc(uint16_t port, bool is_exc)
{
	fp_ports[port].is_exc = is_exc;
}

int
fp_port_start(uint16_t pid)
{
	return rte_eth_dev_start(pid);
}

int
fp_port_stop(uint16_t pid)
{
	return rte_eth_dev_stop(pid);
}

int
fp_port_close(uint16_t pid)
{
	if (pid < FP_MAX_PORTS)
		fp_ports[pid].configured = false;
	return rte_eth_dev_close(pid);
}

int
fp_port_link(uint16_t pid, struct fp_link *l)
{
	struct rte_eth_link link;
	memset(l, 0, sizeof(*l));
	int rc = rte_eth_link_get_nowait(pid, &link);
	if (rc < 0)
		return rc;
	l->speed_mbps = link.link_speed;
	l->up = link.link_status == RTE_ETH_LINK_UP;
	l->full_duplex = link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
	l->autoneg = link.link_autoneg == RTE_ETH_LINK_AUTONEG;
	return 0;
}

int
fp_port_set_link_down(uint16_t pid, int down)
{
	if (pid >= FP_MAX_PORTS)
		return -EINVAL;
	atomic_store_explicit(&fp_ports[pid].link_down, down != 0, memory_order_release);
	return 0;
}

int
fp_port_stats(uint16_t pid, struct fp_port_stats *st)
{
	struct rte_eth_stats s;
	int rc = rte_eth_stats_get(pid, &s);
	if (rc < 0)
		return rc;
	st->ipackets = s.ipackets;
	st->opackets = s.opackets;
	st->ibytes = s.ibytes;
	st->obytes = s.obytes;
	st->imissed = s.imissed;
	st->ierrors = s.ierrors;
	st->oerrors = s.oerrors;
	st->rx_nombuf = s.rx_nombuf;
	return 0;
}

int
fp_port_stats_reset(uint16_t pid)
{
	return rte_eth_stats_reset(pid);
}
