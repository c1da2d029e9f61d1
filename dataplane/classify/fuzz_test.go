package classify

import "testing"

// FuzzFrame feeds arbitrary bytes to Frame. It must never panic, and its
// result must be self-consistent: the tag count and L3 offset agree, L3 lies
// inside the frame unless the frame is malformed, only IP classes carry a
// hash, and adding a VLAN tag to a well-formed untagged frame changes
// nothing but Tags, VLAN and L3.
func FuzzFrame(f *testing.F) {
	for _, tc := range frameCases() {
		f.Add(tc.frame)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := Frame(b)
		if r.Class >= NumClasses {
			t.Fatalf("Class = %d", r.Class)
		}
		if r.Tags() > maxTags {
			t.Fatalf("Tags = %d", r.Tags())
		}
		if r.Tags() == 0 && r.VLAN != 0 {
			t.Fatalf("untagged with VLAN %d", r.VLAN)
		}
		if r.VLAN > 0x0fff {
			t.Fatalf("VLAN = %#x", r.VLAN)
		}
		switch r.Class {
		case ClassARP, ClassNonIP, ClassMalformed:
			if r.Hash != 0 {
				t.Fatalf("%v with hash %#x", r.Class, r.Hash)
			}
		}
		if r.Class == ClassMalformed {
			return
		}
		if int(r.L3) > len(b) {
			t.Fatalf("L3 = %d beyond %d bytes", r.L3, len(b))
		}
		if r.L3 != ethHeaderLen+vlanTagLen*uint16(r.Tags()) {
			t.Fatalf("L3 = %d with %d tags", r.L3, r.Tags())
		}
		if (r.Class == ClassL4 || r.Class == ClassL3) && len(b)-int(r.L3) < ipv4MinHeaderLen {
			t.Fatalf("%v with %d bytes after L3", r.Class, len(b)-int(r.L3))
		}
		if r.Class == ClassL4 && len(b)-int(r.L3) < ipv4MinHeaderLen+portsLen {
			t.Fatalf("l4 with %d bytes after L3", len(b)-int(r.L3))
		}
		if again := Frame(b); again != r {
			t.Fatalf("Frame not deterministic: %+v then %+v", r, again)
		}
		if g := general(b); g != r {
			t.Fatalf("Frame = %+v, the general path %+v", r, g)
		}
		if r.Tags() == 0 {
			tagged := make([]byte, 0, len(b)+vlanTagLen)
			tagged = append(tagged, b[:12]...)
			tagged = append(tagged, 0x81, 0x00, 0x20, 0x2a) // VLAN 42, PCP 1
			tagged = append(tagged, b[12:]...)
			want := r
			want.VLAN, want.L3 = 42, r.L3+vlanTagLen
			if got := Frame(tagged); got != want {
				t.Fatalf("tagged = %+v, want %+v", got, want)
			}
		}
	})
}

// TestFastPathsAgree checks that Frame's fast paths (IsFastL4, then
// IsFastV6L4 in frame) classify exactly as the general
// path does, over every frame of the table cut at every length and with
// each header byte set to values that matter to them.
func TestFastPathsAgree(t *testing.T) {
	values := []byte{0, 1, 3, 4, 5, 6, 0x08, 0x11, 0x18, 0x20, 0x3f, 0x40, 0x45, 0x46, 0x60, 0x84, 0x86, 0xdd, 0xff}
	check := func(name string, b []byte) {
		t.Helper()
		if got, want := Frame(b), general(b); got != want {
			t.Fatalf("%s: Frame = %+v, the general path %+v (% x)", name, got, want, b)
		}
		if IsFastL4(b) {
			if r := general(b); r.Class != ClassL4 || r.Hash != FastL4Hash(b) || r.L3 != ethHeaderLen {
				t.Fatalf("%s: IsFastL4 with hash %#x, the general path %+v", name, FastL4Hash(b), r)
			}
		}
		if IsFastV4L3(b) {
			if r := general(b); r.Class != ClassL3 || r.Hash != FastV4L3Hash(b) || r.L3 != ethHeaderLen {
				t.Fatalf("%s: IsFastV4L3 with hash %#x, the general path %+v", name, FastV4L3Hash(b), r)
			}
		}
		if IsFastV6L4(b) {
			if r := general(b); r.Class != ClassL4 || r.Hash != FastV6L4Hash(b) || r.L3 != ethHeaderLen {
				t.Fatalf("%s: IsFastV6L4 with hash %#x, the general path %+v", name, FastV6L4Hash(b), r)
			}
		}
	}
	for _, tc := range frameCases() {
		for n := range len(tc.frame) + 1 {
			check(tc.name, tc.frame[:n])
		}
		for i := 12; i < min(len(tc.frame), 62); i++ {
			for _, v := range values {
				b := append([]byte(nil), tc.frame...)
				b[i] = v
				check(tc.name, b)
			}
		}
	}
}
