// Command fibd is a DPDK software router. It forwards IPv4 and IPv6 on
// worker lcores along FIBs that the control plane fills from a routing
// daemon's kernel table (or, in labs, from a static file).
//
// Usage, testpmd style:
//
//	fibd [EAL options] -- [fibd options]
//	fibd [fibd options]          (EAL options from fibd_eal_args)
//	fibd peering addr -mux M ... (the PEERING testbed's address plan)
//
// The devices (in_dev/out_dev, fibd_vdev) always come from the
// configuration; EAL options select lcores, memory and the like.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"fibd/conf"
)

type options struct {
	config    string
	static    string
	lab       bool
	duration  time.Duration
	statsJSON string
	idleSleep time.Duration
	logLevel  string
	logJSON   bool
	check     bool
	print     string
	quiet     bool
}

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// splitArgs separates EAL arguments (before "--") from fibd's own.
func splitArgs(args []string) (eal, own []string, hasEAL bool) {
	for i, a := range args {
		if a == "--" {
			return args[:i], args[i+1:], true
		}
	}
	return nil, args, false
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("fibd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fibd [EAL options] -- [fibd options]\n\nfibd options:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.config, "c", "/etc/dpi/fastdpi.conf", "configuration file (fastdpi.conf syntax, or .toml)")
	fs.StringVar(&o.static, "static", "", "static routing state in iproute2 batch syntax (labs: no kernel, no BIRD)")
	fs.BoolVar(&o.lab, "lab", false, "stop once every rx_pcap input is drained, then print counters")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (0: run until signalled)")
	fs.StringVar(&o.statsJSON, "stats-json", "", "write final counters as JSON to this file")
	fs.DurationVar(&o.idleSleep, "idle-sleep", -1, "idle worker back-off (overrides fibd_idle_sleep_us; 0 busy-polls)")
	fs.StringVar(&o.logLevel, "log-level", "", "debug, info, warn or error (overrides fibd_log_level)")
	fs.BoolVar(&o.logJSON, "log-json", false, "log JSON lines instead of console text")
	fs.BoolVar(&o.check, "check", false, "validate the configuration (and static file) and exit")
	fs.StringVar(&o.print, "print", "", "with -check: print these comma-separated values (parameters, or pci, hugepages_mb, file_prefix, huge_dir), one per line")
	fs.BoolVar(&o.quiet, "q", false, "do not print the counter report")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	switch {
	case fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q (EAL options go before --)", fs.Arg(0))
	case o.print != "" && !o.check:
		err = fmt.Errorf("-print goes with -check")
	}
	if err != nil {
		fmt.Fprintln(stderr, "fibd:", err)
		return nil, err
	}
	return o, nil
}

func newLogger(o *options, cfg *conf.Config, w io.Writer) zerolog.Logger {
	level := cfg.LogLevel
	if o.logLevel != "" {
		level = o.logLevel
	}
	lv, err := zerolog.ParseLevel(level)
	if err != nil {
		lv = zerolog.InfoLevel
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	zerolog.DurationFieldUnit = time.Millisecond
	var out io.Writer = w
	if !o.logJSON {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(out).Level(lv).With().Timestamp().Logger()
}

// logAdvice logs the configuration's remarks (at start and reload).
func logAdvice(log zerolog.Logger, cfg *conf.Config) {
	for _, a := range cfg.Advice() {
		ev := log.Info()
		if a.Warn {
			ev = log.Warn()
		}
		ev.Str("config", cfg.File).Msg(a.Text)
	}
}

func run(argv []string, stdout, stderr io.Writer) int {
	if len(argv) > 1 && argv[1] == "peering" {
		return runPeering(argv[2:], stdout, stderr)
	}
	ealArgs, own, hasEAL := splitArgs(argv[1:])
	o, err := parseOptions(own, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg, err := conf.Load(o.config)
	if err != nil {
		// One line per problem, file:line: param: message; nothing starts.
		for _, e := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, e)
		}
		return 2
	}
	log := newLogger(o, cfg, stderr)
	if !hasEAL {
		ealArgs = cfg.EALArgs
	}
	if o.idleSleep >= 0 {
		cfg.WorkerIdleSleep = o.idleSleep
	}

	d := &daemon{log: log, cfg: cfg, opt: o, stdout: stdout}
	if o.check {
		if err := d.check(); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		if o.print != "" {
			if err := d.printValues(stdout, o.print, ealArgs); err != nil {
				fmt.Fprintln(stderr, err)
				return 2
			}
			return 0
		}
		for _, a := range cfg.Advice() {
			fmt.Fprintf(stdout, "%s: %s\n", cfg.File, a.Text)
		}
		fmt.Fprintf(stdout, "%s: configuration OK\n", cfg.File)
		return 0
	}

	logAdvice(log, cfg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := d.run(ctx, argv[0], ealArgs); err != nil {
		log.Error().Err(err).Msg("fibd failed")
		return 1
	}
	return 0
}
