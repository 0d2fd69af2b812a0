// Command fakeapi is the local Microsoft API of bench/scale: the Entra ID v2 token endpoint
// (client credentials), Graph security alerts_v2 and Defender for Endpoint alerts for thousands
// of tenants on 127.0.0.1 over TLS (HTTP/2 and HTTP/1.1). Its records follow from the seed and
// the clock alone, so `fakeapi verify` knows every record it can have served; it logs the time
// of every list request per (tenant, stream) for the poll-gap and first-cycle figures.
//
//	fakeapi serve -dir DIR -tenants N [options]   (writes DIR/info.json when it listens)
//	fakeapi verify -info DIR/info.json -state FILE -output FILE -start MS
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// info is what serve writes to DIR/info.json for bench/scale and verify.
type info struct {
	URL     string   `json:"url"`
	Control string   `json:"control_url"` // plain HTTP: /_bench/stats, /_bench/report
	CAFile  string   `json:"ca_file"`
	PID     int      `json:"pid"`
	Params  Params   `json:"params"`
	Tenants []tenant `json:"tenants"`
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: fakeapi serve -dir DIR -tenants N [options]\n"+
		"       fakeapi verify -info FILE -state FILE -output FILE -start MS\n"+
		"run `fakeapi serve -h` or `fakeapi verify -h` for the options\n")
	os.Exit(2)
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("fakeapi: ")
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "serve":
		if err := serve(os.Args[2:]); err != nil {
			log.Fatal(err)
		}
	case "verify":
		os.Exit(verify(os.Args[2:]))
	default:
		usage()
	}
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	dir := fs.String("dir", "", "directory for info.json, ca.pem and secrets/ (required)")
	addr := fs.String("addr", "127.0.0.1:0", "API address, TLS (127.0.0.1 only; port 0: any free)")
	controlAddr := fs.String("control-addr", "127.0.0.1:0", "control address, plain HTTP (127.0.0.1 only)")
	var p Params
	fs.IntVar(&p.Tenants, "tenants", 1000, "number of tenants (t00001 ...)")
	fs.StringVar(&p.Seed, "seed", "bench", "seed of ids, secrets and records")
	fs.IntVar(&p.History, "history", 5, "records per stream created before the start")
	since := fs.Duration("live-since", 30*time.Minute, "live records began this long before the start")
	span := fs.Duration("history-span", 20*time.Hour, "the history is spread over this long before them")
	fs.Float64Var(&p.Active, "active", 0.05, "fraction of streams that get new records")
	every := fs.Duration("every", time.Minute, "an active stream gets one new record this often")
	fs.Float64Var(&p.Updated, "updated", 0.25, "fraction of new records updated once")
	after := fs.Duration("update-after", 5*time.Minute, "... this long after their creation")
	lifetime := fs.Duration("token-lifetime", 3599*time.Second, "access token lifetime (expires_in)")
	fs.Parse(args)
	if *dir == "" || p.Tenants < 1 || p.History < 0 || p.Active < 0 || p.Active > 1 ||
		p.Updated < 0 || p.Updated > 1 || *every <= 0 || *span < time.Hour || *since < 0 ||
		*lifetime < time.Second {
		fs.Usage()
		return errors.New("bad options: -dir is required; -tenants >= 1; fractions in [0, 1]; " +
			"-history-span >= 1h")
	}
	for _, a := range []string{*addr, *controlAddr} {
		if host, _, err := net.SplitHostPort(a); err != nil || host != "127.0.0.1" {
			return fmt.Errorf("%s: the benchmark API listens on 127.0.0.1 only", a)
		}
	}
	p.HistorySpanMs, p.EveryMs, p.UpdateAfterMs = span.Milliseconds(), every.Milliseconds(),
		after.Milliseconds()
	p.T0 = time.Now().Add(-*since).Truncate(time.Second).UnixMilli()
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	m := newModel(p)
	tenants := makeTenants(m)
	if err := writeSecrets(tenants, filepath.Join(*dir, "secrets")); err != nil {
		return err
	}
	caFile := filepath.Join(*dir, "ca.pem")
	cert, err := makeTLS(caFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	cln, err := net.Listen("tcp", *controlAddr)
	if err != nil {
		return err
	}
	srv := &server{model: m, tenants: tenants, index: indexTenants(tenants),
		signer: newSigner(int64(lifetime.Seconds())), log: newRequestLog(p.Tenants * nStreams),
		stats: &counters{}}
	srv.base = "https://" + ln.Addr().String()
	hs := &http.Server{
		Handler:           srv,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       10 * time.Minute,
		ErrorLog:          log.Default(),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				srv.stats.conns.Add(1)
			}
		},
	}
	cs := &http.Server{Handler: http.HandlerFunc(srv.control), ReadHeaderTimeout: 30 * time.Second}
	doc, _ := json.Marshal(info{URL: srv.base, Control: "http://" + cln.Addr().String(),
		CAFile: caFile, PID: os.Getpid(), Params: p, Tenants: tenants})
	if err := writeAtomic(filepath.Join(*dir, "info.json"), doc); err != nil {
		return err
	}
	log.Printf("listening on %s: %d tenants, %d streams each", srv.base, p.Tenants, nStreams)
	done := make(chan error, 2)
	go func() { done <- hs.ServeTLS(ln, "", "") }() // HTTP/2 by ALPN, else HTTP/1.1
	go func() { done <- cs.Serve(cln) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-done:
		return err
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cs.Close()
	hs.Shutdown(ctx)
	return nil
}
