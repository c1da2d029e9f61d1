package control

import "time"

// stallAfter is how long a worker lcore may go without a poll before it
// counts as stalled. A worker polls every few microseconds, or every
// idle_sleep when idle, so two seconds without one means it is stuck (a
// blocked system call, a kernel that starves its core, a bug).
const stallAfter = 2 * time.Second

// workerWatch follows one worker's poll counter.
type workerWatch struct {
	steps   uint64
	since   time.Time // when steps last moved
	stalled bool
}

// observe takes the worker's poll count at now and reports whether the
// stalled state changed (then stalled says which way).
func (w *workerWatch) observe(steps uint64, now time.Time) bool {
	if w.since.IsZero() || steps != w.steps {
		w.steps, w.since = steps, now
		if w.stalled {
			w.stalled = false
			return true
		}
		return false
	}
	if !w.stalled && now.Sub(w.since) >= stallAfter {
		w.stalled = true
		return true
	}
	return false
}

// watchWorkers raises an event when a worker stops polling and when it
// polls again (the team's traffic on that worker's queues stops meanwhile;
// the other workers and the control plane go on).
func (d *Daemon) watchWorkers() {
	now := d.now()
	if len(d.watch) != len(d.workers) {
		d.watch = make([]workerWatch, len(d.workers))
	}
	for i, w := range d.workers {
		ww := &d.watch[i]
		if !ww.observe(w.IOCounters().Steps, now) {
			continue
		}
		if ww.stalled {
			d.event(EventWorkerStalled, "worker lcore stalled: no poll for "+stallAfter.String(), "worker", i, "core", d.cfg.EAL.WorkerCores[i])
		} else {
			d.event(EventWorkerResumed, "worker lcore polls again", "worker", i)
		}
	}
}
