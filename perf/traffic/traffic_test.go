package traffic

import (
	"bytes"
	"testing"
)

func TestMixIsDeterministicAndDistinct(t *testing.T) {
	a := Mix(4096, 1, [6]byte{2}, [6]byte{4})
	b := Mix(4096, 1, [6]byte{2}, [6]byte{4})
	seen := map[string]bool{}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("frame %d differs between two runs with the same seed", i)
		}
		if len(a[i]) != 60 && len(a[i]) != 62 {
			t.Errorf("frame %d is %d bytes", i, len(a[i]))
		}
		seen[string(a[i][14:])] = true
	}
	if len(seen) < 4000 {
		t.Errorf("only %d distinct flows of 4096", len(seen))
	}
}
