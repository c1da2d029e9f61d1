package insn

import (
	"runtime"
	"testing"
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
