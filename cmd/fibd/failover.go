package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	"github.com/vishvananda/netlink"

	"fibd/ports"
)

// linkPoll is how often the link watcher reads each port's link when no
// notification comes (PMD ports have no event fibd listens to).
const linkPoll = 10 * time.Millisecond

// watchLinks is fast local failover: it tells the fast path, as soon as it
// sees it, that a port's link went down or up (dpdk.PortID.SetLinkDown),
// so ECMP groups stop picking members on a dead port before any routing
// daemon or netlink message reacts. A port over a kernel interface
// (af_packet) is told by the kernel's link notification; every port is
// also polled every linkPoll.
func watchLinks(ctx context.Context, log zerolog.Logger, set *ports.Set) {
	log = log.With().Str("component", "failover").Logger()
	updates := make(chan netlink.LinkUpdate, 64)
	if err := netlink.LinkSubscribeWithOptions(updates, ctx.Done(), netlink.LinkSubscribeOptions{}); err != nil {
		log.Warn().Err(err).Msg("no link notifications: links are polled only")
		updates = nil
	}
	down := make([]bool, len(set.Ports))
	check := func() {
		for i, p := range set.Ports {
			l, err := p.Link()
			if err != nil || !l.Up == down[i] {
				continue
			}
			if err := p.ID.SetLinkDown(!l.Up); err != nil {
				log.Error().Err(err).Str("device", p.Dev.Name).Msg("link state not given to the fast path")
				continue
			}
			down[i] = !l.Up
			log.Info().Str("device", p.Dev.Name).Bool("up", l.Up).
				Msg("link changed: ECMP groups skip or take back this port's members")
		}
	}
	t := time.NewTicker(linkPoll)
	defer t.Stop()
	for {
		check()
		select {
		case <-ctx.Done():
			return
		case _, ok := <-updates:
			if !ok {
				updates = nil
			}
		case <-t.C:
		}
	}
}
