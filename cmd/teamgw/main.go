// Command teamgw is the teaming gateway daemon: it reads a TOML config,
// brings up the teams and serves them in the foreground until SIGINT or
// SIGTERM. `teamgw -config FILE -check` only validates the config.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/teamgw/teamgw/configs"
	"github.com/teamgw/teamgw/control"
)

func main() {
	os.Exit(run())
}

func run() int {
	configPath := flag.String("config", "/etc/teamgw/teamgw.toml", "configuration `file`")
	check := flag.Bool("check", false, "validate the configuration and exit")
	flag.Parse()

	cfg, err := configs.Load(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "teamgw:", err)
		return 2
	}
	if *check {
		fmt.Printf("teamgw: %s: configuration is valid (%d teams)\n", *configPath, len(cfg.Teams))
		return 0
	}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, nil)
	if cfg.Control.LogFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, nil)
	}
	log := slog.New(h)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := control.CheckNotRunning(cfg.Control.Socket); err != nil {
		fmt.Fprintln(os.Stderr, "teamgw:", err)
		return 1
	}
	d, err := control.Start(cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "teamgw:", err)
		return 1
	}
	d.SetConfigPath(*configPath)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if _, err := d.Reload(ctx); err != nil {
				log.Warn("reload", "err", err)
			}
		}
	}()
	api, err := control.ListenAPI(d, cfg.Control.Socket)
	if err != nil {
		d.Stop()
		fmt.Fprintln(os.Stderr, "teamgw:", err)
		return 1
	}
	go api.Serve(ctx)
	if cfg.Control.Metrics != configs.MetricsOff {
		mx, err := control.ListenMetrics(d, cfg.Control.Metrics, api)
		if err != nil {
			api.Close()
			os.Remove(cfg.Control.Socket)
			d.Stop()
			fmt.Fprintln(os.Stderr, "teamgw:", err)
			return 1
		}
		defer mx.Close()
	}
	err = d.Run(ctx)
	api.Close()
	os.Remove(cfg.Control.Socket)
	d.Stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "teamgw:", err)
		return 1
	}
	return 0
}
