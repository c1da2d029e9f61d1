/*
 * shim.h: the small C side of teamgw's DPDK binding.
 *
 * Everything that DPDK declares as a static inline function, a macro, a
 * bitfield or a thread-local is wrapped here so that Go sees plain functions
 * and plain structs. The burst I/O vector (struct tg_io) lives in C memory so
 * that one cgo call moves a whole vector of packets without tripping the cgo
 * pointer checks (see DESIGN.md, "Hot-path rules").
 */
#ifndef TEAMGW_SHIM_H
#define TEAMGW_SHIM_H

#include <stdint.h>
#include <rte_config.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

/* A burst: what a PMD that caps its bursts hands out at most per
 * rte_eth_rx_burst call; a step polls a queue again after a full one. */
#define TG_BURST 32
/* One tg_io_step receives at most TG_VECTOR packets (several bursts from one
 * queue), so one cgo crossing and the Go side's work per vector are
 * amortised over up to 256 packets (the frame size of VPP, for the same
 * reason). */
#define TG_VECTOR 256
/* Packets a TX queue buffers between two steps: a full vector plus control
 * frames injected by the control plane, rounded up to a power of two. */
#define TG_TXQ_CAP 512
/* RX and TX queues one worker can own: 4 teams of 8 members, a TAP and
 * 64 VLAN TAPs each. */
#define TG_MAX_QUEUES 296
/* Frames one step hands to the control plane or frees. */
#define TG_SIDE_CAP TG_VECTOR

struct tg_rxq {
	uint16_t port;
	uint16_t queue;
	uint32_t _pad;
	uint64_t packets;
};

struct tg_txq {
	uint16_t port;
	uint16_t queue;
	uint16_t n;
	uint16_t rx_run; /* the vector's first rx_run packets go out before pkts */
	uint16_t prefetch; /* prefetch the mbufs of pkts before sending them */
	uint64_t sent;
	uint64_t dropped; /* the PMD refused them (queue full) */
	struct rte_mbuf *pkts[TG_TXQ_CAP];
} __rte_cache_aligned;

/*
 * struct tg_feed is a benchmark traffic source: before each poll, a step
 * refills ring (the RX ring of a net_ring port) with the next prebuilt
 * mbufs, taking a reference on each so transmitting frees nothing. A
 * forwarding path may rewrite a frame's MAC addresses (SLB source MACs),
 * so the feed puts the prebuilt ones back before each reuse; every frame
 * of a feed has the same addresses.
 */
struct tg_feed {
	struct rte_ring *ring;
	struct rte_mbuf **pkts;
	uint32_t n;
	uint32_t cursor;
	uint8_t hdr[12]; /* MAC addresses restored before each reuse */
};

/*
 * struct tg_io is one worker's I/O state. Go fills tx[i].pkts, drop and ctl
 * between steps; tg_io_step flushes them and receives the next vector.
 */
struct tg_io {
	uint16_t n_rx;
	uint16_t n_tx;
	uint16_t next_rx;  /* round-robin position */
	uint16_t last_rx;  /* queue the current vector came from */
	uint16_t nb_rx;    /* packets in rx_pkts */
	uint16_t n_drop;   /* mbufs to free at the next step */
	uint16_t n_ctl;    /* mbufs to hand to the control ring */
	uint16_t _pad;
	uint64_t steps;
	uint64_t idle_steps;
	uint64_t inject_unroutable; /* injected frames for a port we have no queue on */
	uint64_t inject_dropped;    /* injected frames whose TX buffer was full */
	uint64_t ctl_dropped;       /* control ring full */
	struct rte_ring *inject;    /* control -> worker, multi-producer, may be NULL */
	struct rte_ring *ctl;       /* worker -> control, single-producer, may be NULL */
	struct tg_feed *feed;       /* benchmark source, NULL in service */
	struct tg_rxq rx[TG_MAX_QUEUES];
	struct tg_txq tx[TG_MAX_QUEUES];
	/* The received vector; rx_pkts[nb_rx] is tg_end_mark, also after an
	 * idle step (nb_rx 0). */
	struct rte_mbuf *rx_pkts[TG_VECTOR + 1];
	struct rte_mbuf *drop[TG_SIDE_CAP];
	struct rte_mbuf *ctl_pkts[TG_SIDE_CAP];
	struct rte_mbuf *alloc[TG_VECTOR]; /* fresh mbufs for frames from a TAP */
};

/* tg_end_mark follows the last packet of a received vector: an mbuf with
 * no data (data_len 0), so that a loop over the vector that stops at a
 * frame too short to test needs no bound of its own. */
extern struct rte_mbuf tg_end_mark;

struct tg_io *tg_io_new(int socket);
void tg_io_free(struct tg_io *io);
uint16_t tg_io_step(struct tg_io *io);
void tg_io_flush(struct tg_io *io);
uint64_t tg_io_ref_loop(struct tg_io *io, uint64_t steps);
unsigned int tg_io_alloc(struct tg_io *io, struct rte_mempool *mp, unsigned int n);

/* Layout facts the Go side hard-codes and checks at start-up. */
struct tg_mbuf_layout {
	uint32_t buf_addr, data_off, refcnt, nb_segs, port, ol_flags;
	uint32_t packet_type, pkt_len, data_len, vlan_tci, buf_len, next, tx_offload, size;
	uint32_t io_size, txq_size;
};
void tg_mbuf_layout(struct tg_mbuf_layout *l);

struct rte_mbuf *tg_pktmbuf_alloc(struct rte_mempool *mp);
void tg_pktmbuf_free(struct rte_mbuf *m);
unsigned int tg_mempool_in_use(struct rte_mempool *mp);
unsigned int tg_mempool_avail(struct rte_mempool *mp);

struct tg_link {
	uint32_t speed;
	uint8_t up, full_duplex, autoneg, _pad;
};
int tg_link_get_nowait(uint16_t port, struct tg_link *l);

struct tg_dev_info {
	char driver[64];
	char name[128];
	uint16_t max_rx_queues, max_tx_queues;
	uint32_t max_mtu, min_mtu;
	uint32_t speed_capa;
	uint32_t dev_flags;
	uint64_t rx_offload_capa, tx_offload_capa, flow_type_rss_offloads;
	uint16_t rx_desc_max, tx_desc_max;
	uint16_t max_mac_addrs;
};
int tg_dev_info(uint16_t port, struct tg_dev_info *info);

struct tg_port_conf {
	uint16_t rx_queues, tx_queues, rx_desc, tx_desc;
	uint32_t mtu;
	uint8_t rss, lsc, _pad[2];
	/* in: the TX offloads wanted; out: those the device took */
	uint64_t tx_offloads;
};
int tg_port_configure(uint16_t port, struct tg_port_conf *c, struct rte_mempool *mp);
int tg_port_remove(uint16_t port);

int tg_lsc_register(uint16_t port, int fd);
int tg_lsc_unregister(uint16_t port, int fd);

struct rte_ring *tg_ring_create(const char *name, unsigned int count, int socket, int single_producer, int single_consumer, int *err);
void tg_ring_free(struct rte_ring *r);
struct rte_mempool *tg_pool_create(const char *name, unsigned int n, unsigned int cache, uint16_t data_room, int socket, int *err);
void tg_pool_free(struct rte_mempool *mp);
int tg_ring_enqueue_one(struct rte_ring *r, struct rte_mbuf *m);
unsigned int tg_ring_dequeue(struct rte_ring *r, struct rte_mbuf **m, unsigned int n);
unsigned int tg_ring_count(struct rte_ring *r);

int tg_eth_from_rings(const char *name, struct rte_ring *rx, struct rte_ring *tx);

struct tg_feed *tg_feed_new(struct rte_ring *ring, struct rte_mempool *mp, const uint8_t *frames, const uint16_t *lens, uint32_t n, uint16_t stride);
void tg_feed_free(struct tg_feed *f);

#endif
