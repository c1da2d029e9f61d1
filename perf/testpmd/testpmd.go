// Package testpmd drives DPDK's own dpdk-testpmd as a benchmark peer: one
// interactive process kept alive for a whole benchmark, whose forwarding is
// started and stopped for each round, so its rounds can alternate with
// teamgw's on the same core. Each round reports the packets testpmd
// counted, the time its forwarding core was busy (its --record-core-cycles
// figure) and, where the machine has hardware counters, the instructions
// the forwarding thread retired.
package testpmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/teamgw/teamgw/perf/insn"
)

// Binary is the testpmd executable Debian's dpdk package installs.
const Binary = "dpdk-testpmd"

// Config is one testpmd process.
type Config struct {
	// Binary defaults to Binary.
	Binary string
	// MainCore runs testpmd's command line; Core its one forwarding
	// lcore (lcore ids equal CPU numbers).
	MainCore, Core int
	// Vdevs are the virtual devices, in probe order (port ids follow it).
	Vdevs []string
	// Args are testpmd's own options (after "--"), e.g.
	// "--forward-mode=io". Start adds -i, --nb-cores=1 and
	// --record-core-cycles.
	Args []string
	// NoHuge runs the EAL on ordinary memory (tests); benchmarks use
	// hugepages as teamgw does.
	NoHuge bool
}

// Argv is the command line Start runs (without the stdbuf wrapper).
func (c Config) Argv() []string {
	bin := c.Binary
	if bin == "" {
		bin = Binary
	}
	argv := []string{bin, "-l", fmt.Sprintf("%d,%d", c.MainCore, c.Core), "--main-lcore", strconv.Itoa(c.MainCore),
		"--no-pci", "--no-telemetry", "--log-level=error"}
	if c.NoHuge {
		// --no-huge implies legacy memory, which --in-memory refuses.
		argv = append(argv, "--no-huge", "-m", "512", "--file-prefix", noHugePrefix())
	} else {
		argv = append(argv, "--in-memory")
	}
	for _, v := range c.Vdevs {
		argv = append(argv, "--vdev", v)
	}
	argv = append(argv, "--", "-i", "--nb-cores=1", "--record-core-cycles")
	return append(argv, c.Args...)
}

// CommandLine is Argv quoted for a shell, for reports.
func (c Config) CommandLine() string {
	var parts []string
	for _, a := range c.Argv() {
		if strings.ContainsAny(a, " ,;*'\"") {
			a = "'" + a + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// Proc is a running interactive testpmd.
type Proc struct {
	cfg   Config
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *transcript
	ctr   *insn.Counter // the forwarding thread's; nil without counters
	tid   int           // the forwarding thread
	done  chan error
}

// Round is what one start/stop of forwarding measured.
type Round struct {
	// Packets are what testpmd counted for its mode: sent for txonly,
	// received (and forwarded) otherwise.
	Packets uint64
	// Seconds is the time the forwarding core spent in its loop.
	Seconds float64
	// CPUSeconds is the forwarding thread's CPU time (0 if unknown).
	CPUSeconds float64
	// Instructions were retired by the forwarding thread (0 without
	// hardware counters).
	Instructions uint64
}

// Mpps is the round's rate in millions of packets per second.
func (r Round) Mpps() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Packets) / r.Seconds / 1e6
}

// InsnPerPacket is the instructions per packet (0 if not counted).
func (r Round) InsnPerPacket() float64 {
	if r.Packets == 0 {
		return 0
	}
	return float64(r.Instructions) / float64(r.Packets)
}

const prompt = "testpmd> "

// Start runs testpmd and waits for its prompt. Its standard output is
// line-buffered through stdbuf so the driver sees each reply whole.
func Start(ctx context.Context, cfg Config) (*Proc, error) {
	argv := cfg.Argv()
	if _, err := exec.LookPath(argv[0]); err != nil {
		return nil, fmt.Errorf("testpmd: %w (Debian package dpdk)", err)
	}
	if sb, err := exec.LookPath("stdbuf"); err == nil {
		argv = append([]string{sb, "-oL"}, argv...)
	}
	p := &Proc{cfg: cfg, out: newTranscript(), done: make(chan error, 1)}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("testpmd: %w", err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	if _, err := p.waitFor(ctx, 0, prompt, 60*time.Second); err != nil {
		p.kill()
		return nil, err
	}
	if tid, err := p.workerThread(); err == nil {
		p.tid = tid
		p.ctr, _ = insn.Open(tid)
	}
	return p, nil
}

// workerThread finds the forwarding lcore's thread ("rte-worker-N").
func (p *Proc) workerThread() (int, error) {
	want := fmt.Sprintf("rte-worker-%d", p.cfg.Core)
	dir := fmt.Sprintf("/proc/%d/task", p.cmd.Process.Pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	for _, t := range tasks {
		comm, err := os.ReadFile(filepath.Join(dir, t.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == want {
			return strconv.Atoi(t.Name())
		}
	}
	return 0, fmt.Errorf("testpmd: no thread %s", want)
}

// Counted reports whether rounds count instructions.
func (p *Proc) Counted() bool { return p.ctr != nil }

// Run forwards for about d and returns what testpmd measured.
func (p *Proc) Run(ctx context.Context, d time.Duration) (Round, error) {
	var before, after uint64
	if p.ctr != nil {
		before, _ = p.ctr.Read()
	}
	cpu0, _ := p.threadCPU()
	off, err := p.command(ctx, "start")
	if err != nil {
		return Round{}, err
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	off, err = p.command(ctx, "stop")
	if err != nil {
		return Round{}, err
	}
	if p.ctr != nil {
		after, _ = p.ctr.Read()
	}
	cpu1, cpuErr := p.threadCPU()
	r, err := ParseStop(p.out.since(off))
	if err != nil {
		return Round{}, err
	}
	r.Instructions = after - before
	if cpuErr == nil {
		r.CPUSeconds = (cpu1 - cpu0).Seconds()
	}
	return r, nil
}

// threadCPU is the forwarding thread's CPU time so far.
func (p *Proc) threadCPU() (time.Duration, error) {
	if p.tid == 0 {
		return 0, errors.New("testpmd: forwarding thread unknown")
	}
	return insn.TaskCPU(p.cmd.Process.Pid, p.tid)
}

// command sends one line and waits for the next prompt; it returns where
// the reply starts in the transcript.
func (p *Proc) command(ctx context.Context, line string) (int, error) {
	off := p.out.len()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		return 0, fmt.Errorf("testpmd: %s: %w", line, err)
	}
	if _, err := p.waitFor(ctx, off, prompt, 30*time.Second); err != nil {
		return 0, fmt.Errorf("testpmd: %s: %w", line, err)
	}
	return off, nil
}

// waitFor waits until s appears in the transcript after off.
func (p *Proc) waitFor(ctx context.Context, off int, s string, timeout time.Duration) (int, error) {
	deadline := time.After(timeout)
	for {
		if i := p.out.index(off, s); i >= 0 {
			return i, nil
		}
		select {
		case <-p.out.grew:
		case err := <-p.done:
			p.done <- err
			return 0, fmt.Errorf("testpmd exited (%v): %s", err, tail(p.out.since(0), 2000))
		case <-deadline:
			return 0, fmt.Errorf("testpmd: no %q after %v: %s", s, timeout, tail(p.out.since(off), 2000))
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Transcript is everything testpmd printed so far.
func (p *Proc) Transcript() string { return p.out.since(0) }

// Close quits testpmd, killing it if it does not exit within 10 s.
func (p *Proc) Close() error {
	if p.ctr != nil {
		p.ctr.Close()
	}
	io.WriteString(p.stdin, "quit\n")
	p.stdin.Close()
	// A run on ordinary memory keeps a runtime directory under its file
	// prefix; nothing is left behind once testpmd has gone.
	if p.cfg.NoHuge {
		defer os.RemoveAll(filepath.Join("/var/run/dpdk", noHugePrefix()))
	}
	select {
	case err := <-p.done:
		return err
	case <-time.After(10 * time.Second):
		p.kill()
		return errors.New("testpmd: did not quit")
	}
}

// noHugePrefix is the EAL file prefix of a run on ordinary memory.
func noHugePrefix() string { return fmt.Sprintf("testpmd-%d", os.Getpid()) }

func (p *Proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

var (
	cyclesRE = regexp.MustCompile(`total cycles=(\d+) / total (\S+) packets=(\d+)\) at (\d+) MHz`)
	accumRE  = regexp.MustCompile(`(?s)Accumulated forward statistics.*?RX-packets:\s*(\d+).*?TX-packets:\s*(\d+)`)
)

// ParseStop reads testpmd's reply to "stop" (run with
// --record-core-cycles): the packets of its mode and the busy time of its
// forwarding core. A round that moved no packets has no cycles line and
// parses as zero packets.
func ParseStop(s string) (Round, error) {
	if m := cyclesRE.FindStringSubmatch(s); m != nil {
		cycles, _ := strconv.ParseUint(m[1], 10, 64)
		pkts, _ := strconv.ParseUint(m[3], 10, 64)
		mhz, _ := strconv.ParseUint(m[4], 10, 64)
		if mhz == 0 {
			return Round{}, fmt.Errorf("testpmd: clock of 0 MHz in %q", m[0])
		}
		return Round{Packets: pkts, Seconds: float64(cycles) / (float64(mhz) * 1e6)}, nil
	}
	if m := accumRE.FindStringSubmatch(s); m != nil {
		if m[1] == "0" && m[2] == "0" {
			return Round{}, nil
		}
	}
	return Round{}, fmt.Errorf("testpmd: no forwarding statistics in: %s", tail(s, 2000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// transcript accumulates a process's output and signals growth.
type transcript struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	grew chan struct{}
}

func newTranscript() *transcript { return &transcript{grew: make(chan struct{}, 1)} }

func (t *transcript) Write(b []byte) (int, error) {
	t.mu.Lock()
	t.buf.Write(b)
	t.mu.Unlock()
	select {
	case t.grew <- struct{}{}:
	default:
	}
	return len(b), nil
}

func (t *transcript) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.Len()
}

func (t *transcript) since(off int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf.Bytes()[min(off, t.buf.Len()):])
}

// index returns the end of the first s at or after off, or -1.
func (t *transcript) index(off int, s string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf.Bytes()[min(off, t.buf.Len()):]
	if i := bytes.Index(b, []byte(s)); i >= 0 {
		return off + i + len(s)
	}
	return -1
}
