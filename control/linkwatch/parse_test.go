package linkwatch

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// testMsg describes a netlink message built by appendMsg.
type testMsg struct {
	typ      uint16
	hdrFlags uint16
	seq      uint32
	pid      uint32
	index    int32
	flags    uint32
	name     string // IFLA_IFNAME; omitted if empty
	errno    int32  // NLMSG_ERROR code (negative errno)
}

// appendAttr appends one route attribute to b.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	var hdr [unix.SizeofRtAttr]byte
	binary.NativeEndian.PutUint16(hdr[0:2], uint16(unix.SizeofRtAttr+len(data)))
	binary.NativeEndian.PutUint16(hdr[2:4], typ)
	b = append(b, hdr[:]...)
	b = append(b, data...)
	for len(b)%unix.NLMSG_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

// appendMsg appends the netlink message described by m to b.
func appendMsg(b []byte, m testMsg) []byte {
	var body []byte
	switch m.typ {
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		var ifi [unix.SizeofIfInfomsg]byte
		binary.NativeEndian.PutUint32(ifi[4:8], uint32(m.index))
		binary.NativeEndian.PutUint32(ifi[8:12], m.flags)
		body = append(body, ifi[:]...)
		body = appendAttr(body, unix.IFLA_MTU, []byte{0xdc, 0x05, 0, 0})
		if m.name != "" {
			body = appendAttr(body, unix.IFLA_IFNAME, append([]byte(m.name), 0))
		}
	case unix.NLMSG_ERROR:
		var e [4 + unix.SizeofNlMsghdr]byte
		binary.NativeEndian.PutUint32(e[0:4], uint32(m.errno))
		body = e[:]
	case unix.NLMSG_DONE:
		body = []byte{0, 0, 0, 0}
	}
	var hdr [unix.SizeofNlMsghdr]byte
	binary.NativeEndian.PutUint32(hdr[0:4], uint32(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint16(hdr[4:6], m.typ)
	binary.NativeEndian.PutUint16(hdr[6:8], m.hdrFlags)
	binary.NativeEndian.PutUint32(hdr[8:12], m.seq)
	binary.NativeEndian.PutUint32(hdr[12:16], m.pid)
	b = append(b, hdr[:]...)
	b = append(b, body...)
	for len(b)%unix.NLMSG_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

const upFlags = unix.IFF_UP | unix.IFF_LOWER_UP | unix.IFF_RUNNING | unix.IFF_BROADCAST

func TestParseLinkMessages(t *testing.T) {
	var b []byte
	b = appendMsg(b, testMsg{typ: unix.RTM_NEWLINK, hdrFlags: unix.NLM_F_MULTI, seq: 7, pid: 42, index: 3, flags: upFlags, name: "a0"})
	b = appendMsg(b, testMsg{typ: unix.RTM_NEWLINK, index: 4, flags: unix.IFF_UP, name: "b0"})
	b = appendMsg(b, testMsg{typ: unix.RTM_NEWADDR})
	b = appendMsg(b, testMsg{typ: unix.RTM_DELLINK, index: 5, flags: upFlags})
	b = appendMsg(b, testMsg{typ: unix.NLMSG_DONE, seq: 7, pid: 42})
	b = appendMsg(b, testMsg{typ: unix.NLMSG_ERROR, seq: 8, pid: 42, errno: -int32(unix.EBUSY)})

	got := parseLinkMessages(b)
	want := []linkInfo{
		{kind: kindNewLink, hdrFlags: unix.NLM_F_MULTI, seq: 7, pid: 42, index: 3, flags: upFlags, name: "a0"},
		{kind: kindNewLink, index: 4, flags: unix.IFF_UP, name: "b0"},
		{kind: kindDelLink, index: 5, flags: upFlags},
		{kind: kindDone, seq: 7, pid: 42},
		{kind: kindError, seq: 8, pid: 42, errno: unix.EBUSY},
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %d messages, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if !got[0].up() || got[1].up() {
		t.Errorf("up() = %v, %v; want true, false", got[0].up(), got[1].up())
	}
}

func TestParseLinkMessagesMalformed(t *testing.T) {
	good := appendMsg(nil, testMsg{typ: unix.RTM_NEWLINK, index: 3, flags: upFlags, name: "a0"})

	// Every truncation of a valid message leaves a length field that
	// exceeds the datagram, so nothing is parsed.
	for n := 0; n < len(good); n++ {
		if got := parseLinkMessages(good[:n]); len(got) != 0 {
			t.Errorf("truncated to %d bytes: parsed %+v", n, got)
		}
	}

	// A length field larger than the datagram stops parsing.
	bad := append([]byte(nil), good...)
	binary.NativeEndian.PutUint32(bad[0:4], uint32(len(bad)+4))
	if got := parseLinkMessages(bad); len(got) != 0 {
		t.Errorf("oversized length: parsed %+v", got)
	}

	// A length field smaller than the header stops parsing.
	binary.NativeEndian.PutUint32(bad[0:4], 3)
	if got := parseLinkMessages(bad); len(got) != 0 {
		t.Errorf("undersized length: parsed %+v", got)
	}

	// A zero or negative ifindex is rejected.
	neg := appendMsg(nil, testMsg{typ: unix.RTM_NEWLINK, index: -1, flags: upFlags, name: "a0"})
	if got := parseLinkMessages(neg); len(got) != 0 {
		t.Errorf("negative ifindex: parsed %+v", got)
	}

	// A broken attribute keeps the message but drops the name.
	broken := append([]byte(nil), good...)
	attr := broken[unix.SizeofNlMsghdr+unix.SizeofIfInfomsg:]
	binary.NativeEndian.PutUint16(attr[0:2], 0xffff)
	got := parseLinkMessages(broken)
	if len(got) != 1 || got[0].name != "" || got[0].index != 3 {
		t.Errorf("broken attribute: parsed %+v", got)
	}

	// An over-long name is ignored.
	long := appendMsg(nil, testMsg{typ: unix.RTM_NEWLINK, index: 3, flags: upFlags, name: "abcdefghijklmnopq"})
	got = parseLinkMessages(long)
	if len(got) != 1 || got[0].name != "" {
		t.Errorf("long name: parsed %+v", got)
	}
}

func FuzzParseLinkMessages(f *testing.F) {
	f.Add([]byte{})
	f.Add(appendMsg(nil, testMsg{typ: unix.RTM_NEWLINK, index: 3, flags: upFlags, name: "a0"}))
	f.Add(appendMsg(nil, testMsg{typ: unix.RTM_DELLINK, index: 9, name: "eth0"}))
	f.Add(appendMsg(nil, testMsg{typ: unix.NLMSG_ERROR, errno: -int32(unix.ENOBUFS)}))
	multi := appendMsg(nil, testMsg{typ: unix.RTM_NEWLINK, hdrFlags: unix.NLM_F_MULTI, seq: 1, index: 1, name: "lo"})
	multi = appendMsg(multi, testMsg{typ: unix.RTM_NEWLINK, hdrFlags: unix.NLM_F_MULTI, seq: 1, index: 2, flags: upFlags, name: "veth0"})
	multi = appendMsg(multi, testMsg{typ: unix.NLMSG_DONE, seq: 1})
	f.Add(multi)
	f.Add(multi[:len(multi)-7])

	f.Fuzz(func(t *testing.T, b []byte) {
		msgs := parseLinkMessages(b)
		// Each parsed message consumes at least one header.
		if len(msgs) > len(b)/unix.SizeofNlMsghdr {
			t.Fatalf("parsed %d messages from %d bytes", len(msgs), len(b))
		}
		for _, li := range msgs {
			switch li.kind {
			case kindNewLink, kindDelLink:
				if li.index <= 0 {
					t.Fatalf("non-positive ifindex %d", li.index)
				}
				if len(li.name) > maxNameLen {
					t.Fatalf("name %q too long", li.name)
				}
			case kindDone, kindError:
			default:
				t.Fatalf("unexpected kind %d", li.kind)
			}
		}
	})
}
