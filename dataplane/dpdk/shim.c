/*
 * shim.c: C helpers for teamgw's DPDK binding. See shim.h.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <rte_branch_prediction.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_eth_ring.h>

#include "shim.h"

/* No data and no pool: a stray free of it faults at once instead of
 * corrupting a mempool. */
struct rte_mbuf tg_end_mark = { .buf_addr = &tg_end_mark, .refcnt = 1, .nb_segs = 1 };

struct tg_io *tg_io_new(int socket)
{
	struct tg_io *io = rte_zmalloc_socket("tg_io", sizeof(struct tg_io), RTE_CACHE_LINE_SIZE, socket);

	if (io != NULL)
		io->rx_pkts[0] = &tg_end_mark;
	return io;
}

void tg_io_free(struct tg_io *io)
{
	rte_free(io);
}

static inline void tg_txq_send(struct tg_txq *q, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t done = 0;

	while (done < n) {
		uint16_t sent = rte_eth_tx_burst(q->port, q->queue, pkts + done, n - done);
		if (sent == 0)
			break;
		done += sent;
	}
	q->sent += done;
	if (done < n) {
		rte_pktmbuf_free_bulk(pkts + done, n - done);
		q->dropped += n - done;
	}
}

/*
 * tg_send_prefetched sends a queue's own buffer (not a vector pushed whole,
 * rx_run) for a queue that asked for it (IO.PrefetchTx: the worker's member
 * queues on PMDs that free what they send at once), in chunks of
 * TG_PREFETCH_CHUNK mbufs, asking for the second cache line of each mbuf of
 * a chunk (the next-segment pointer every free reads) just before handing
 * it over; the classifier has just read the first. Measured with net_null
 * members in txbench, whose feed hands out shared mbufs (refcount 2, so
 * each free is an atomic decrement that waits for its lines): a vector
 * split over 4 or 8 members reaches its mbufs out of address order, where
 * the hardware prefetchers do not follow, and the free stalled on that
 * line; asked for together, a chunk's misses overlap (1.0x -> 1.2-1.3x
 * net_bonding at 8 members). Where the line is in cache already (mbufs
 * fresh from the pool) the prefetch costs a few percent.
 */
#define TG_PREFETCH_CHUNK 64

static inline void tg_send_prefetched(struct tg_txq *q)
{
	uint16_t off, i, n;

	for (off = 0; off < q->n; off += n) {
		n = RTE_MIN((uint16_t)(q->n - off), (uint16_t)TG_PREFETCH_CHUNK);
		/* Unrolled: a load and a prefetch an mbuf, not five instructions. */
#pragma GCC unroll 8
		for (i = 0; i < n; i++)
			rte_mbuf_prefetch_part2(q->pkts[off + i]);
		tg_txq_send(q, q->pkts + off, n);
	}
}

/* tg_txq_flush sends the run of the received vector rx that Go queued on q
 * without copying it (IO.PushVector), then q's own buffer. */
static inline void tg_txq_flush(struct tg_txq *q, struct rte_mbuf **rx)
{
	if (q->rx_run) {
		tg_txq_send(q, rx, q->rx_run);
		q->rx_run = 0;
	}
	if (q->n) {
		if (q->prefetch)
			tg_send_prefetched(q);
		else
			tg_txq_send(q, q->pkts, q->n);
		q->n = 0;
	}
}

/* tg_io_inject moves frames the control plane queued into the TX buffers of
 * their ports (mbuf->port names the destination port). */
static inline void tg_io_inject(struct tg_io *io)
{
	struct rte_mbuf *m[TG_BURST];
	unsigned int n, i;
	uint16_t j;

	n = rte_ring_sc_dequeue_burst(io->inject, (void **)m, TG_BURST, NULL);
	for (i = 0; i < n; i++) {
		struct tg_txq *q = NULL;
		for (j = 0; j < io->n_tx; j++) {
			if (io->tx[j].port == m[i]->port) {
				q = &io->tx[j];
				break;
			}
		}
		if (q == NULL) {
			rte_pktmbuf_free(m[i]);
			io->inject_unroutable++;
			continue;
		}
		if (q->n >= TG_TXQ_CAP) {
			rte_pktmbuf_free(m[i]);
			io->inject_dropped++;
			continue;
		}
		q->pkts[q->n++] = m[i];
	}
}

/* tg_io_flush sends everything buffered and releases dropped frames. */
void tg_io_flush(struct tg_io *io)
{
	uint16_t j;

	if (io->n_drop) {
		rte_pktmbuf_free_bulk(io->drop, io->n_drop);
		io->n_drop = 0;
	}
	if (io->n_ctl) {
		unsigned int q = 0;
		if (io->ctl != NULL)
			q = rte_ring_sp_enqueue_burst(io->ctl, (void **)io->ctl_pkts, io->n_ctl, NULL);
		if (q < io->n_ctl) {
			rte_pktmbuf_free_bulk(io->ctl_pkts + q, io->n_ctl - q);
			io->ctl_dropped += io->n_ctl - q;
		}
		io->n_ctl = 0;
	}
	if (io->inject != NULL)
		tg_io_inject(io);
	for (j = 0; j < io->n_tx; j++)
		if (io->tx[j].n || io->tx[j].rx_run)
			tg_txq_flush(&io->tx[j], io->rx_pkts);
}

/*
 * tg_io_step is the one cgo crossing of a worker iteration: it flushes what
 * the previous vector produced, then polls the RX queues round-robin and
 * returns the first non-empty vector (up to TG_VECTOR packets from one queue).
 * Each rx_burst asks for all the room left in the vector: a PMD that hands
 * out more than TG_BURST at a time (net_null, net_ring) fills it in one call;
 * one that returns at most TG_BURST (many vector PMDs) is asked again while
 * it returns full bursts, as before.
 */
static inline void tg_feed_fill(struct tg_feed *f)
{
	uint32_t want = TG_VECTOR, i;

	if (rte_ring_free_count(f->ring) < want)
		return;
	for (i = 0; i < want; i++) {
		struct rte_mbuf *m = f->pkts[f->cursor];
		rte_mbuf_refcnt_update(m, 1);
		memcpy(rte_pktmbuf_mtod(m, uint8_t *), f->hdr, sizeof(f->hdr));
		f->cursor = f->cursor + 1 == f->n ? 0 : f->cursor + 1;
		if (rte_ring_sp_enqueue(f->ring, m) != 0) {
			rte_mbuf_refcnt_update(m, -1);
			break;
		}
	}
}

uint16_t tg_io_step(struct tg_io *io)
{
	uint16_t k;

	tg_io_flush(io);
	if (unlikely(io->feed != NULL))
		tg_feed_fill(io->feed);
	io->steps++;
	io->nb_rx = 0;
	for (k = 0; k < io->n_rx; k++) {
		uint16_t i = io->next_rx;
		struct tg_rxq *q = &io->rx[i];
		uint16_t nb = 0, got;

		io->next_rx = (uint16_t)(i + 1 == io->n_rx ? 0 : i + 1);
		do {
			got = rte_eth_rx_burst(q->port, q->queue, io->rx_pkts + nb, TG_VECTOR - nb);
			nb += got;
		} while (got >= TG_BURST && nb < TG_VECTOR);
		if (nb) {
			q->packets += nb;
			io->last_rx = i;
			io->nb_rx = nb;
			io->rx_pkts[nb] = &tg_end_mark;
			return nb;
		}
	}
	io->idle_steps++;
	io->rx_pkts[0] = &tg_end_mark;
	return 0;
}

/*
 * tg_io_ref_loop is the reference: the same step and the same forwarding
 * (every received packet to tx[0]) written in C, for the benchmark that
 * measures what the Go worker loop costs over it.
 */
uint64_t tg_io_ref_loop(struct tg_io *io, uint64_t steps)
{
	uint64_t total = 0, s;

	for (s = 0; s < steps; s++) {
		uint16_t n = tg_io_step(io), i;
		struct tg_txq *q = &io->tx[0];
		for (i = 0; i < n; i++)
			q->pkts[q->n++] = io->rx_pkts[i];
		total += n;
	}
	tg_io_flush(io);
	return total;
}

/*
 * tg_io_alloc fills io->alloc with n fresh mbufs from mp (n <= TG_VECTOR):
 * all of them, or none when the pool is short.
 */
unsigned int tg_io_alloc(struct tg_io *io, struct rte_mempool *mp, unsigned int n)
{
	if (n > TG_VECTOR)
		n = TG_VECTOR;
	return rte_pktmbuf_alloc_bulk(mp, io->alloc, n) == 0 ? n : 0;
}

void tg_mbuf_layout(struct tg_mbuf_layout *l)
{
	l->buf_addr = offsetof(struct rte_mbuf, buf_addr);
	l->data_off = offsetof(struct rte_mbuf, data_off);
	l->refcnt = offsetof(struct rte_mbuf, refcnt);
	l->nb_segs = offsetof(struct rte_mbuf, nb_segs);
	l->port = offsetof(struct rte_mbuf, port);
	l->ol_flags = offsetof(struct rte_mbuf, ol_flags);
	l->packet_type = offsetof(struct rte_mbuf, packet_type);
	l->pkt_len = offsetof(struct rte_mbuf, pkt_len);
	l->data_len = offsetof(struct rte_mbuf, data_len);
	l->vlan_tci = offsetof(struct rte_mbuf, vlan_tci);
	l->buf_len = offsetof(struct rte_mbuf, buf_len);
	l->next = offsetof(struct rte_mbuf, next);
	l->tx_offload = offsetof(struct rte_mbuf, tx_offload);
	l->size = sizeof(struct rte_mbuf);
	l->io_size = sizeof(struct tg_io);
	l->txq_size = sizeof(struct tg_txq);
}

struct rte_mempool *tg_pool_create(const char *name, unsigned int n, unsigned int cache, uint16_t data_room, int socket, int *err)
{
	struct rte_mempool *mp = rte_pktmbuf_pool_create(name, n, cache, 0, data_room, socket);
	*err = mp == NULL ? rte_errno : 0;
	return mp;
}

void tg_pool_free(struct rte_mempool *mp)
{
	rte_mempool_free(mp);
}

struct rte_mbuf *tg_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

void tg_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

unsigned int tg_mempool_in_use(struct rte_mempool *mp)
{
	return rte_mempool_in_use_count(mp);
}

unsigned int tg_mempool_avail(struct rte_mempool *mp)
{
	return rte_mempool_avail_count(mp);
}

int tg_link_get_nowait(uint16_t port, struct tg_link *l)
{
	struct rte_eth_link link;
	int rc;

	memset(&link, 0, sizeof(link));
	rc = rte_eth_link_get_nowait(port, &link);
	if (rc < 0)
		return rc;
	l->speed = link.link_speed;
	l->up = link.link_status == RTE_ETH_LINK_UP;
	l->full_duplex = link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
	l->autoneg = link.link_autoneg == RTE_ETH_LINK_AUTONEG;
	return 0;
}

int tg_dev_info(uint16_t port, struct tg_dev_info *info)
{
	struct rte_eth_dev_info di;
	int rc;

	memset(info, 0, sizeof(*info));
	rc = rte_eth_dev_info_get(port, &di);
	if (rc < 0)
		return rc;
	if (di.driver_name != NULL)
		strncpy(info->driver, di.driver_name, sizeof(info->driver) - 1);
	rte_eth_dev_get_name_by_port(port, info->name);
	info->max_rx_queues = di.max_rx_queues;
	info->max_tx_queues = di.max_tx_queues;
	info->max_mtu = di.max_mtu;
	info->min_mtu = di.min_mtu;
	info->speed_capa = di.speed_capa;
	info->dev_flags = di.dev_flags != NULL ? *di.dev_flags : 0;
	info->rx_offload_capa = di.rx_offload_capa;
	info->tx_offload_capa = di.tx_offload_capa;
	info->flow_type_rss_offloads = di.flow_type_rss_offloads;
	info->rx_desc_max = di.rx_desc_lim.nb_max;
	info->tx_desc_max = di.tx_desc_lim.nb_max;
	info->max_mac_addrs = di.max_mac_addrs;
	return 0;
}

/* tg_port_configure configures the device and sets up all its queues. */
int tg_port_configure(uint16_t port, struct tg_port_conf *c, struct rte_mempool *mp)
{
	struct rte_eth_dev_info di;
	struct rte_eth_conf conf;
	uint16_t rxd = c->rx_desc, txd = c->tx_desc, q;
	int rc, socket;

	rc = rte_eth_dev_info_get(port, &di);
	if (rc < 0)
		return rc;
	memset(&conf, 0, sizeof(conf));
	if (c->rss && c->rx_queues > 1 && di.flow_type_rss_offloads != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & di.flow_type_rss_offloads;
	}
	if (c->lsc && di.dev_flags != NULL && (*di.dev_flags & RTE_ETH_DEV_INTR_LSC))
		conf.intr_conf.lsc = 1;
	if (c->mtu)
		conf.rxmode.mtu = c->mtu;
	conf.txmode.offloads = c->tx_offloads & di.tx_offload_capa;
	c->tx_offloads = conf.txmode.offloads;
	rc = rte_eth_dev_configure(port, c->rx_queues, c->tx_queues, &conf);
	if (rc < 0)
		return rc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
	if (rc < 0)
		return rc;
	socket = rte_eth_dev_socket_id(port);
	if (socket < 0)
		socket = 0;
	for (q = 0; q < c->rx_queues; q++) {
		rc = rte_eth_rx_queue_setup(port, q, rxd, socket, NULL, mp);
		if (rc < 0)
			return rc;
	}
	for (q = 0; q < c->tx_queues; q++) {
		rc = rte_eth_tx_queue_setup(port, q, txd, socket, NULL);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* tg_port_remove closes the port and detaches its device (hot unplug). */
int tg_port_remove(uint16_t port)
{
	struct rte_eth_dev_info di;
	struct rte_device *dev;
	int rc;

	rc = rte_eth_dev_info_get(port, &di);
	if (rc < 0)
		return rc;
	dev = di.device;
	rc = rte_eth_dev_close(port);
	if (rc < 0)
		return rc;
	if (dev == NULL)
		return 0;
	return rte_dev_remove(dev);
}

/* The LSC callback runs on DPDK's interrupt thread: it only writes the port
 * id into a pipe that a Go goroutine reads. */
static int tg_lsc_cb(uint16_t port, enum rte_eth_event_type ev, void *arg, void *ret)
{
	int fd = (int)(intptr_t)arg;
	ssize_t w;

	(void)ev;
	(void)ret;
	w = write(fd, &port, sizeof(port));
	(void)w;
	return 0;
}

int tg_lsc_register(uint16_t port, int fd)
{
	return rte_eth_dev_callback_register(port, RTE_ETH_EVENT_INTR_LSC, tg_lsc_cb, (void *)(intptr_t)fd);
}

int tg_lsc_unregister(uint16_t port, int fd)
{
	return rte_eth_dev_callback_unregister(port, RTE_ETH_EVENT_INTR_LSC, tg_lsc_cb, (void *)(intptr_t)fd);
}

struct rte_ring *tg_ring_create(const char *name, unsigned int count, int socket, int sp, int sc, int *err)
{
	unsigned int flags = 0;
	struct rte_ring *r;

	if (sp)
		flags |= RING_F_SP_ENQ;
	if (sc)
		flags |= RING_F_SC_DEQ;
	r = rte_ring_create(name, count, socket, flags);
	*err = r == NULL ? rte_errno : 0;
	return r;
}

void tg_ring_free(struct rte_ring *r)
{
	rte_ring_free(r);
}

int tg_ring_enqueue_one(struct rte_ring *r, struct rte_mbuf *m)
{
	return rte_ring_enqueue(r, m) == 0;
}

unsigned int tg_ring_dequeue(struct rte_ring *r, struct rte_mbuf **m, unsigned int n)
{
	return rte_ring_dequeue_burst(r, (void **)m, n, NULL);
}

unsigned int tg_ring_count(struct rte_ring *r)
{
	return rte_ring_count(r);
}

/* tg_eth_from_rings returns the new port id or a negative errno. */
int tg_eth_from_rings(const char *name, struct rte_ring *rx, struct rte_ring *tx)
{
	struct rte_ring *rxq[1] = {rx}, *txq[1] = {tx};
	int rc = rte_eth_from_rings(name, rxq, 1, txq, 1, 0);

	return rc < 0 ? -rte_errno : rc;
}

/* tg_feed_new builds n mbufs from frames (frame i at frames + i*stride,
 * lens[i] bytes) and a feed that cycles through them into ring. */
struct tg_feed *tg_feed_new(struct rte_ring *ring, struct rte_mempool *mp, const uint8_t *frames, const uint16_t *lens, uint32_t n, uint16_t stride)
{
	struct tg_feed *f = rte_zmalloc("tg_feed", sizeof(*f), RTE_CACHE_LINE_SIZE);
	uint32_t i;

	if (f == NULL)
		return NULL;
	f->pkts = rte_zmalloc("tg_feed_pkts", sizeof(struct rte_mbuf *) * n, RTE_CACHE_LINE_SIZE);
	if (f->pkts == NULL) {
		rte_free(f);
		return NULL;
	}
	f->ring = ring;
	f->n = n;
	if (n > 0 && lens[0] >= sizeof(f->hdr))
		memcpy(f->hdr, frames, sizeof(f->hdr));
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		char *p;
		if (m == NULL || (p = rte_pktmbuf_append(m, lens[i])) == NULL) {
			if (m != NULL)
				rte_pktmbuf_free(m);
			f->n = i;
			tg_feed_free(f);
			return NULL;
		}
		memcpy(p, frames + (size_t)i * stride, lens[i]);
		f->pkts[i] = m;
	}
	return f;
}

void tg_feed_free(struct tg_feed *f)
{
	uint32_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++)
		if (f->pkts[i] != NULL)
			rte_pktmbuf_free(f->pkts[i]);
	rte_free(f->pkts);
	rte_free(f);
}
