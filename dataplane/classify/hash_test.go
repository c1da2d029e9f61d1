package classify

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

const (
	spreadFlows   = 65536
	spreadBuckets = 256
)

// v4Frame returns an untagged IPv4 frame of protocol proto from src:sp to
// dst:dp.
func v4Frame(src, dst uint32, proto byte, sp, dp uint16) []byte {
	var s, d [4]byte
	binary.BigEndian.PutUint32(s[:], src)
	binary.BigEndian.PutUint32(d[:], dst)
	return cat(eth(0x0800), ipv4x(5, netip.AddrFrom4(s), netip.AddrFrom4(d), proto, 0, tcp(sp, dp)))
}

// v6Frame returns an untagged IPv6 frame of protocol proto from src:sp to
// dst:dp.
func v6Frame(src, dst [16]byte, proto byte, sp, dp uint16) []byte {
	return cat(eth(0x86dd), ipv6x(netip.AddrFrom16(src), netip.AddrFrom16(dst), proto, tcp(sp, dp)))
}

// hashOf classifies frame and fails unless it has class want.
func hashOf(t *testing.T, frame []byte, want Class) uint32 {
	t.Helper()
	r := Frame(frame)
	if r.Class != want {
		t.Fatalf("Frame = %v, want %v", r.Class, want)
	}
	return r.Hash
}

// checkSpread spreads hashes over spreadBuckets buckets with Bucket and
// requires every bucket to hold the mean ±30%; it also requires the same of
// the plain remainder, hash % spreadBuckets. It then deals the buckets
// round-robin to 2, 4 and 8 members and requires the busiest member to carry
// at most 5% more flows (one packet each) than the idlest.
func checkSpread(t *testing.T, name string, hashes []uint32) {
	t.Helper()
	mean := float64(len(hashes)) / spreadBuckets
	for _, red := range []struct {
		name   string
		bucket func(uint32) int
	}{
		{"Bucket", func(h uint32) int { return Bucket(h, spreadBuckets) }},
		{"modulo", func(h uint32) int { return int(h % spreadBuckets) }},
	} {
		var count [spreadBuckets]int
		for _, h := range hashes {
			count[red.bucket(h)]++
		}
		lo, hi := count[0], count[0]
		for _, c := range count {
			lo, hi = min(lo, c), max(hi, c)
		}
		t.Logf("%s, %s: %d buckets hold %d..%d flows", name, red.name, spreadBuckets, lo, hi)
		if float64(lo) < 0.7*mean || float64(hi) > 1.3*mean {
			t.Errorf("%s, %s: buckets hold %d..%d flows, want %.0f±30%%", name, red.name, lo, hi, mean)
		}
	}
	for _, members := range []int{2, 4, 8} {
		load := make([]int, members)
		for _, h := range hashes {
			load[Bucket(h, spreadBuckets)%members]++
		}
		lo, hi := load[0], load[0]
		for _, c := range load {
			lo, hi = min(lo, c), max(hi, c)
		}
		ratio := float64(hi) / float64(lo)
		t.Logf("%s, %d members: busiest/idlest = %.3f", name, members, ratio)
		if ratio > 1.05 {
			t.Errorf("%s, %d members: busiest/idlest = %d/%d = %.3f, want <= 1.05", name, members, hi, lo, ratio)
		}
	}
}

// TestHashSpreadRandom hashes 65536 distinct random TCP flows, IPv4 and
// IPv6, drawn from a fixed-seed PCG.
func TestHashSpreadRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(0x7ea4, 0x6a7e))
	type flow4 struct {
		src, dst uint32
		sp, dp   uint16
	}
	seen4 := map[flow4]bool{}
	hashes := make([]uint32, 0, spreadFlows)
	for len(hashes) < spreadFlows {
		f := flow4{rng.Uint32(), rng.Uint32(), uint16(rng.Uint32()), uint16(rng.Uint32())}
		if seen4[f] {
			continue
		}
		seen4[f] = true
		hashes = append(hashes, hashOf(t, v4Frame(f.src, f.dst, protoTCP, f.sp, f.dp), ClassL4))
	}
	checkSpread(t, "random ipv4 tcp", hashes)

	type flow6 struct {
		src, dst [16]byte
		sp, dp   uint16
	}
	seen6 := map[flow6]bool{}
	hashes = hashes[:0]
	for len(hashes) < spreadFlows {
		var f flow6
		for i := 0; i < 16; i += 8 {
			binary.BigEndian.PutUint64(f.src[i:], rng.Uint64())
			binary.BigEndian.PutUint64(f.dst[i:], rng.Uint64())
		}
		f.sp, f.dp = uint16(rng.Uint32()), uint16(rng.Uint32())
		if seen6[f] {
			continue
		}
		seen6[f] = true
		hashes = append(hashes, hashOf(t, v6Frame(f.src, f.dst, protoTCP, f.sp, f.dp), ClassL4))
	}
	checkSpread(t, "random ipv6 tcp", hashes)
}

// TestHashSpreadSequential hashes the regular traffic a gateway really
// sees, where weak hashes fail: many clients on consecutive addresses with
// consecutive source ports talking to one server port, and consecutive hosts
// on their address pair alone.
func TestHashSpreadSequential(t *testing.T) {
	const server4 = 0xc000020a // 192.0.2.10
	hashes := make([]uint32, 0, spreadFlows)
	for c := range uint32(256) {
		for p := range uint16(256) {
			hashes = append(hashes, hashOf(t, v4Frame(0x0a000001+c, server4, protoTCP, 32768+p, 443), ClassL4))
		}
	}
	checkSpread(t, "sequential ipv4 tcp", hashes)

	hashes = hashes[:0]
	for c := range uint32(spreadFlows) {
		f := v4Frame(0x0a000000+c, server4, 1, 0, 0) // ICMP
		hashes = append(hashes, hashOf(t, f, ClassL3))
	}
	checkSpread(t, "sequential ipv4 hosts", hashes)

	server6 := netip.MustParseAddr("2001:db8::443").As16()
	hashes = hashes[:0]
	for c := range uint64(256) {
		src := netip.MustParseAddr("2001:db8:1::").As16()
		binary.BigEndian.PutUint64(src[8:], c+1)
		for p := range uint16(256) {
			hashes = append(hashes, hashOf(t, v6Frame(src, server6, protoUDP, 32768+p, 53), ClassL4))
		}
	}
	checkSpread(t, "sequential ipv6 udp", hashes)

	hashes = hashes[:0]
	for c := range uint64(spreadFlows) {
		src := netip.MustParseAddr("2001:db8:1::").As16()
		binary.BigEndian.PutUint64(src[8:], c+1)
		hashes = append(hashes, hashOf(t, v6Frame(src, server6, 58, 0, 0), ClassL3))
	}
	checkSpread(t, "sequential ipv6 hosts", hashes)
}

// TestHashFieldsMatter checks, over random flows, that changing any one
// field of the 5-tuple, including swapping the ports, changes the L4 hash.
func TestHashFieldsMatter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		src, dst := rng.Uint32(), rng.Uint32()
		sp, dp := uint16(rng.Uint32()), uint16(rng.Uint32())
		if sp == dp || src == dst {
			continue
		}
		h := hashOf(t, v4Frame(src, dst, protoTCP, sp, dp), ClassL4)
		variants := map[string][]byte{
			"ports swapped":     v4Frame(src, dst, protoTCP, dp, sp),
			"addresses swapped": v4Frame(dst, src, protoTCP, sp, dp),
			"source changed":    v4Frame(src^1, dst, protoTCP, sp, dp),
			"protocol changed":  v4Frame(src, dst, protoUDP, sp, dp),
			"dst port changed":  v4Frame(src, dst, protoTCP, sp, dp^0x8000),
		}
		for name, f := range variants {
			if hashOf(t, f, ClassL4) == h {
				t.Errorf("%s: %08x:%d > %08x:%d keeps hash %#08x", name, src, sp, dst, dp, h)
			}
		}
	}
}

// TestHashAvalanche flips each input bit of random IPv4 5-tuples and IPv6
// address pairs and requires every output bit to flip with probability
// 0.5 ± 0.1.
func TestHashAvalanche(t *testing.T) {
	const samples = 2000
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(name string, inBits int, hash func(flip int) uint32) {
		t.Helper()
		flips := make([][32]int, inBits)
		for range samples {
			base := hash(-1)
			for i := range inBits {
				d := base ^ hash(i)
				for o := range 32 {
					flips[i][o] += int(d >> o & 1)
				}
			}
		}
		for i := range inBits {
			for o := range 32 {
				if p := float64(flips[i][o]) / samples; p < 0.4 || p > 0.6 {
					t.Errorf("%s: input bit %d flips output bit %d with p=%.3f", name, i, o, p)
				}
			}
		}
	}

	var addrs uint64
	var proto byte
	var ports uint32
	check("ipv4 l4", 64+8+32, func(flip int) uint32 {
		if flip < 0 {
			addrs, proto, ports = rng.Uint64(), byte(rng.Uint32()), rng.Uint32()
		}
		a, p, q := addrs, proto, ports
		switch {
		case flip < 0:
		case flip < 64:
			a ^= 1 << flip
		case flip < 72:
			p ^= 1 << (flip - 64)
		default:
			q ^= 1 << (flip - 72)
		}
		return hashV4L4(a, p, q)
	})
	check("ipv4 l3", 64, func(flip int) uint32 {
		if flip < 0 {
			addrs = rng.Uint64()
			return hashV4L3(addrs)
		}
		return hashV4L3(addrs ^ 1<<flip)
	})
	var a6 addr6
	check("ipv6 l4", 256+8+32, func(flip int) uint32 {
		if flip < 0 {
			a6 = addr6{rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64()}
			proto, ports = byte(rng.Uint32()), rng.Uint32()
		}
		b, p, q := a6, proto, ports
		w := [4]*uint64{&b.s0, &b.s1, &b.d0, &b.d1}
		switch {
		case flip < 0:
		case flip < 256:
			*w[flip/64] ^= 1 << (flip % 64)
		case flip < 264:
			p ^= 1 << (flip - 256)
		default:
			q ^= 1 << (flip - 264)
		}
		return hashV6L4(&b, p, q)
	})
	check("ipv6 l3", 256, func(flip int) uint32 {
		if flip < 0 {
			a6 = addr6{rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64()}
			return hashV6L3(&a6)
		}
		b := a6
		w := [4]*uint64{&b.s0, &b.s1, &b.d0, &b.d1}
		*w[flip/64] ^= 1 << (flip % 64)
		return hashV6L3(&b)
	})
}

func TestBucket(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 8, 256, 1000, 1 << 20, 1 << 32} {
		if got := Bucket(0, n); got != 0 {
			t.Errorf("Bucket(0, %d) = %d, want 0", n, got)
		}
		if got := Bucket(^uint32(0), n); got != n-1 {
			t.Errorf("Bucket(max, %d) = %d, want %d", n, got, n-1)
		}
		// Bucket is monotonic and splits the hash range into n equal
		// parts: the first hash of bucket k is ceil(k * 2^32 / n).
		for _, k := range []int{1, n / 2, n - 1} {
			if k < 1 || k >= n {
				continue
			}
			first := (uint64(k)<<32 + uint64(n) - 1) / uint64(n)
			if got := Bucket(uint32(first), n); got != k {
				t.Errorf("Bucket(%#x, %d) = %d, want %d", first, n, got, k)
			}
			if got := Bucket(uint32(first-1), n); got != k-1 {
				t.Errorf("Bucket(%#x, %d) = %d, want %d", first-1, n, got, k-1)
			}
		}
	}
	for _, n := range []int{0, -1} {
		if got := Bucket(12345, n); got != 0 {
			t.Errorf("Bucket(12345, %d) = %d, want 0", n, got)
		}
	}
	// Every bucket gets exactly its share of a sweep of the top bits.
	const n = 5
	var count [n]int
	for i := range uint32(1 << 16) {
		count[Bucket(i<<16, n)]++
	}
	for k, c := range count {
		if c < (1<<16)/n || c > (1<<16)/n+1 {
			t.Errorf("bucket %d of %d holds %d of 65536 evenly spaced hashes", k, n, c)
		}
	}
}
