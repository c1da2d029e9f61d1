package insn

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

//go:noinline
func spin(n int) int {
	s := 0
	for i := range n {
		s += i ^ (s >> 3)
	}
	return s
}

func TestCounterGrowsWithWork(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, err := Open(0)
	if err != nil {
		t.Skip("no hardware instruction counter here:", err)
	}
	defer c.Close()
	a, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	spin(1_000_000)
	b, _ := c.Read()
	spin(10_000_000)
	d, _ := c.Read()
	if small, large := b-a, d-b; small < 1_000_000 || large < 5*small {
		t.Errorf("1M iterations counted %d instructions, 10M counted %d", small, large)
	}
}

func TestNilSpanMeasuresNothing(t *testing.T) {
	var s *Span
	s.Start()
	if s.Stop() != 0 {
		t.Error("a nil span counted something")
	}
	s.Close()
}

func TestThreadAndTaskCPUAdvanceWithWork(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	a, b := ThreadCPU(), must(TaskCPU(os.Getpid(), tid))
	spin(20_000_000)
	c, d := ThreadCPU(), must(TaskCPU(os.Getpid(), tid))
	if c <= a || d <= b {
		t.Errorf("thread CPU %v -> %v, task CPU %v -> %v", a, c, b, d)
	}
	if _, err := TaskCPU(os.Getpid(), 1<<30); err == nil {
		t.Error("a thread that does not exist has a CPU time")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
