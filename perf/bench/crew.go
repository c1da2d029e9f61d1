package bench

import (
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/perf/insn"
)

// Crew is a set of measuring threads, one per CPU, each locked to its
// goroutine, pinned and registered with the EAL as a worker lcore is, so
// mempool caches work. Thread i runs the i-th part of each job.
type Crew struct {
	jobs    []chan job
	results chan crewResult
}

type job struct {
	steps int
	run   func(i, steps int) uint64
}

type crewResult struct {
	i       int
	pkts    uint64
	insn    uint64
	cpu     time.Duration
	elapsed time.Duration
	err     error
}

// NewCrew starts one thread per CPU in cores.
func NewCrew(cores []int) (*Crew, error) {
	c := &Crew{results: make(chan crewResult, len(cores))}
	for i, core := range cores {
		ch := make(chan job)
		c.jobs = append(c.jobs, ch)
		go c.thread(i, core, ch)
		if r := <-c.results; r.err != nil {
			c.Close()
			return nil, r.err
		}
	}
	return c, nil
}

// Size is the number of threads.
func (c *Crew) Size() int { return len(c.jobs) }

// thread runs jobs on a pinned, registered OS thread. It never unlocks:
// its affinity changed, so the runtime discards the thread at the end.
func (c *Crew) thread(i, core int, jobs chan job) {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(core)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		c.results <- crewResult{i: i, err: fmt.Errorf("bench: pin to CPU %d: %w", core, err)}
		return
	}
	if _, err := dpdk.RegisterThread(); err != nil {
		c.results <- crewResult{i: i, err: err}
		return
	}
	defer dpdk.UnregisterThread()
	span := insn.NewSpan()
	defer span.Close()
	c.results <- crewResult{i: i}
	for j := range jobs {
		start, cpu := time.Now(), insn.ThreadCPU()
		span.Start()
		n := j.run(i, j.steps)
		ins := span.Stop()
		c.results <- crewResult{i: i, pkts: n, insn: ins, cpu: insn.ThreadCPU() - cpu, elapsed: time.Since(start)}
	}
}

// Measure runs run(i, steps) on every thread at once and returns the
// packets they handled together, the time until the last finished, their
// CPU time and their instructions.
func (c *Crew) Measure(steps int, run func(i, steps int) uint64) Measurement {
	for _, ch := range c.jobs {
		ch <- job{steps: steps, run: run}
	}
	var m Measurement
	var longest time.Duration
	for range c.jobs {
		r := <-c.results
		m.Packets += r.pkts
		m.Instructions += r.insn
		m.CPUSeconds += r.cpu.Seconds()
		longest = max(longest, r.elapsed)
	}
	m.Seconds = longest.Seconds()
	return m
}

// Do runs f once on thread i (setup that must happen on a registered
// lcore, such as filling a pool through its cache).
func (c *Crew) Do(i int, f func()) {
	c.jobs[i] <- job{run: func(int, int) uint64 { f(); return 0 }}
	<-c.results
}

// Close ends the threads.
func (c *Crew) Close() {
	for _, ch := range c.jobs {
		close(ch)
	}
	c.jobs = nil
}
