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

func TestTxOnlyIs256UDPFlowsOf64Bytes(t *testing.T) {
	fs := TxOnly([6]byte{2, 0, 0, 0, 0, 1}, [6]byte{2, 0, 0, 0, 0, 2})
	if len(fs) != 256 {
		t.Fatalf("%d flows", len(fs))
	}
	srcs := map[[4]byte]bool{}
	for i, f := range fs {
		if len(f) != 64 || f[23] != 17 || f[12] != 0x08 || f[13] != 0 {
			t.Fatalf("frame %d is not 64 bytes of UDP/IPv4: % x", i, f)
		}
		if ipChecksum(f[14:34]) != 0 {
			t.Errorf("frame %d: bad IPv4 header checksum", i)
		}
		srcs[[4]byte(f[26:30])] = true
	}
	if len(srcs) != 256 {
		t.Errorf("%d distinct source addresses, want 256", len(srcs))
	}
}

func TestWeightsSumToOneAndSkew(t *testing.T) {
	for _, s := range []float64{0, 1.1} {
		w := Weights(1000, s, 7)
		var sum, top float64
		for _, x := range w {
			sum += x
			top = max(top, x)
		}
		if sum < 0.999999 || sum > 1.000001 {
			t.Errorf("s=%v: weights sum to %v", s, sum)
		}
		if s == 0 && top != w[0] {
			t.Errorf("uniform weights differ")
		}
		if s > 0 && top < 0.1 {
			t.Errorf("s=%v: heaviest flow has only %v of the traffic", s, top)
		}
	}
}
