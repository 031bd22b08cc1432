package main

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"fibd/cmd/internal/ctl"
	"fibd/conf"
	"fibd/router"
)

// policyOf is the announcement policy of a configuration.
func policyOf(c *conf.Config) router.Policy {
	priv := c.PrivateRanges
	if len(priv) == 0 {
		priv = router.DefaultPrivate
	}
	return router.Policy{Bits: c.RouterSubsAnnounce, AnnounceRejected: c.AuthAnnounceReject, Private: priv}
}

// announceTables are the announcement tables: fibd_announce_table_* or,
// unset, router_kernel_table + 1 (inet) and + 2 (subs). Never
// router_kernel_table itself by default: the routing daemon exports its
// routes there with its one kernel protocol of that table (BIRD 2 refuses
// a second: "Multiple kernel syncers").
func (d *daemon) announceTables() map[router.Dir]uint32 {
	t := map[router.Dir]uint32{router.DirInet: d.cfg.AnnounceTableInet, router.DirSubs: d.cfg.AnnounceTableSubs}
	if t[router.DirInet] == 0 {
		t[router.DirInet] = d.kernelTable() + 1
	}
	if t[router.DirSubs] == 0 {
		t[router.DirSubs] = d.kernelTable() + 2
	}
	return t
}

// startAnnouncements prepares announcements through every exception
// interface of each direction and announces the NAT pools and the gateways.
func (d *daemon) startAnnouncements() {
	devs := map[router.Dir][]string{}
	for _, rd := range d.cfg.RouterDevices {
		dev, _ := d.cfg.DeviceByName(rd.Device)
		dir := router.DirSubs
		if dev.Dir == conf.DirInet {
			dir = router.DirInet
		}
		if !slices.Contains(devs[dir], rd.Peer) {
			devs[dir] = append(devs[dir], rd.Peer)
		}
	}
	tables := d.announceTables()
	d.announcer = router.NewAnnouncer(d.cfg.RouterNetns, tables, d.cfg.RouterSubsMetrics, devs)
	d.log.Info().Uint32("table_inet", tables[router.DirInet]).Uint32("table_subs", tables[router.DirSubs]).
		Strs("devs_inet", devs[router.DirInet]).Strs("devs_subs", devs[router.DirSubs]).Msg("announcements")
	// What an earlier run announced and never withdrew (a crash) goes.
	if n, err := d.announcer.Sweep(); err != nil || n > 0 {
		d.log.Warn().Err(err).Int("removed", n).Msg("announcements left by an earlier run")
	}
	d.mu.Lock()
	d.policy = policyOf(d.cfg)
	pol := d.policy
	d.mu.Unlock()
	d.syncConfigured(pol, nil, d.cfg)
}

// syncConfigured makes the announcements of the NAT pools (bit 4) and the
// subscriber gateways (bit 8) those of nc: what old had and nc has not is
// withdrawn, the rest announced (again). old is nil at start. The manual
// announces the pools "when the SSG starts and when adding/removing/
// modifying NAT profiles": here at start and at every reload.
func (d *daemon) syncConfigured(pol router.Policy, old, nc *conf.Config) {
	if old != nil {
		for _, gone := range [][]netip.Prefix{old.NATPools, old.SubsGateways} {
			for _, p := range gone {
				if slices.Contains(nc.NATPools, p) || slices.Contains(nc.SubsGateways, p) {
					continue
				}
				if err := d.announcer.Set(p, 0); err != nil {
					d.log.Error().Err(err).Stringer("prefix", p).Msg("withdrawing a NAT pool or gateway no longer configured")
				} else {
					d.log.Info().Stringer("prefix", p).Msg("NAT pool or gateway withdrawn")
				}
			}
		}
	}
	for _, s := range configured(nc) {
		dirs := pol.Dirs(s)
		if err := d.announcer.Set(s.Prefix, dirs); err != nil {
			d.log.Error().Err(err).Stringer("prefix", s.Prefix).Bool("pool", s.Pool).Msg("NAT pool or gateway not announced")
		}
	}
}

// configured are the announcements the configuration makes: its NAT
// pools and subscriber gateways.
func configured(c *conf.Config) []router.Subscriber {
	var out []router.Subscriber
	for _, p := range c.NATPools {
		out = append(out, router.Subscriber{Prefix: p, Override: -1, Pool: true})
	}
	for _, p := range c.SubsGateways {
		out = append(out, router.Subscriber{Prefix: p, Override: -1, Gateway: true})
	}
	return out
}

// applyAnnouncements applies the hot announcement parameters of nc
// (called by reload with d.mu held): auth_announce_reject, the NAT pools,
// the gateways, router_subs_metrics. Whichever changed, the pools and the
// gateways are announced again.
func (d *daemon) applyAnnouncements(_ []string, cur, nc *conf.Config) error {
	if d.announcer == nil {
		return nil
	}
	d.policy = policyOf(nc)
	if err := d.announcer.SetMetric(nc.RouterSubsMetrics); err != nil {
		d.log.Error().Err(err).Msg("router_subs_metrics: announcing again with the new metric")
	}
	d.syncConfigured(d.policy, cur, nc)
	return nil
}

// inPool says whether p lies inside one of pools.
func inPool(p netip.Prefix, pools []netip.Prefix) bool {
	for _, pool := range pools {
		if pool.Bits() <= p.Bits() && pool.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// authEvent is one authorisation event of the announcement line protocol
// (README, "Announcements from authorisation"):
//
//	accept IP [VasExperts-Route-Announce=0|1] [VasExperts-Service-Profile=11[:profile][,N...]]
//	reject IP [VasExperts-Route-Announce=0|1] [VasExperts-Service-Profile=...]
//	stop   IP
//
// service=N[,N...] and nat=0|1 are short forms of the service list.
type authEvent struct {
	kind string // accept, reject, stop
	sub  router.Subscriber
}

// parseAuthEvent reads an event's options; kind is the verb.
func parseAuthEvent(kind string, p netip.Prefix, opts map[string]string) (authEvent, error) {
	ev := authEvent{kind: kind, sub: router.Subscriber{Prefix: p, Override: -1, Rejected: kind == "reject"}}
	for k, v := range opts {
		switch strings.ToLower(k) {
		case "vasexperts-route-announce", "announce":
			if v != "0" && v != "1" {
				return ev, fmt.Errorf("%s=%s: want 0 or 1", k, v)
			}
			ev.sub.Override = int(v[0] - '0')
		case "vasexperts-service-profile", "service":
			for _, f := range strings.Split(v, ",") {
				num, _, _ := strings.Cut(f, ":") // 11:profile_name
				n, err := strconv.Atoi(strings.TrimSpace(num))
				if err != nil || n < 0 {
					return ev, fmt.Errorf("%s=%s: want service numbers N[:profile], separated by ','", k, v)
				}
				ev.sub.NAT = ev.sub.NAT || n == router.ServiceNAT
			}
		case "nat":
			if v != "0" && v != "1" {
				return ev, fmt.Errorf("%s=%s: want 0 or 1", k, v)
			}
			ev.sub.NAT = v == "1"
		default:
			return ev, fmt.Errorf("option %s=%s: want VasExperts-Route-Announce=0|1, VasExperts-Service-Profile=N[:profile][,...], service=N[,...] or nat=0|1", k, v)
		}
	}
	if kind == "stop" && len(opts) > 0 {
		return ev, errors.New("stop takes no options")
	}
	return ev, nil
}

// cmdAnnounceAuth answers the authorisation events accept, reject and
// stop: an AAA/RADIUS script feeds them (fdpi_cli router announce batch,
// one event a line), and the manual's decision table decides.
func cmdAnnounceAuth(kind string) func(q *query, c *ctl.Command, o *output) error {
	return func(q *query, c *ctl.Command, o *output) error {
		p, err := q.announceTarget(c)
		if err != nil {
			return err
		}
		ev, err := parseAuthEvent(kind, p, c.Opts)
		if err != nil {
			return err
		}
		type eventJSON struct {
			result
			Prefix string `json:"prefix"`
			Event  string `json:"event"`
			Dir    string `json:"dir"` // as in announce show; none: not announced
		}
		if kind == "stop" {
			if err := q.Announce(p, 0); err != nil {
				return err
			}
			x := eventJSON{done(p.String() + " withdrawn"), p.String(), kind, router.Dir(0).String()}
			return o.answer(x, x.result)
		}
		if err := announceAllowed(p, q.Config().NATPools); err != nil || inPool(p, q.Config().NATPools) {
			if err == nil {
				err = fmt.Errorf("refused: %s is inside a fibd_nat_pool, not a subscriber address", p)
			}
			return err
		}
		dirs, _, err := q.AnnounceFor(ev.sub)
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("%s announced to %s", p, dirs)
		if dirs == 0 {
			msg = p.String() + " not announced"
		}
		x := eventJSON{done(msg), p.String(), kind, dirs.String()}
		return o.answer(x, x.result)
	}
}

// cmdAnnounceBatch: fdpi_cli itself reads the batch and sends its lines
// one by one; fibd only lists the command in help.
func cmdAnnounceBatch(q *query, c *ctl.Command, o *output) error {
	return errors.New("announce batch is read by fdpi_cli from its standard input, one event a line")
}
