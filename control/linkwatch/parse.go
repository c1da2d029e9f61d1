package linkwatch

import (
	"bytes"
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// msgKind classifies a parsed netlink message.
type msgKind uint8

const (
	// kindNewLink is an RTM_NEWLINK message (a dump reply or a notification).
	kindNewLink msgKind = iota + 1
	// kindDelLink is an RTM_DELLINK notification.
	kindDelLink
	// kindDone is an NLMSG_DONE message that terminates a dump.
	kindDone
	// kindError is an NLMSG_ERROR message (an error or an acknowledgement).
	kindError
)

// attrTypeMask strips the NLA_F_NESTED and NLA_F_NET_BYTEORDER bits from a
// route attribute type.
const attrTypeMask = 0x3fff

// maxNameLen is the longest interface name the kernel accepts (IFNAMSIZ
// minus the terminating NUL).
const maxNameLen = unix.IFNAMSIZ - 1

// linkInfo is the relevant content of one netlink message received on the
// rtnetlink socket.
type linkInfo struct {
	kind     msgKind
	hdrFlags uint16 // nlmsg_flags
	seq      uint32 // nlmsg_seq
	pid      uint32 // nlmsg_pid

	// The following fields are set for kindNewLink and kindDelLink.
	index int    // ifi_index, always positive
	flags uint32 // ifi_flags
	name  string // IFLA_IFNAME, empty if absent or malformed

	// errno is set for kindError; zero means an acknowledgement.
	errno unix.Errno
}

// up reports whether the link is operationally usable: administratively up
// and with carrier.
func (li linkInfo) up() bool {
	const want = unix.IFF_UP | unix.IFF_LOWER_UP
	return li.flags&want == want
}

// nlAlign rounds n up to the netlink alignment of four bytes.
func nlAlign(n int) int {
	return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
}

// parseLinkMessages parses the netlink messages contained in one datagram
// read from an rtnetlink socket. It returns link, done and error messages and
// ignores every other message type. It never trusts the input: a message
// whose length field is inconsistent ends parsing, and link messages that are
// too short or carry a non-positive ifindex are skipped.
func parseLinkMessages(b []byte) []linkInfo {
	var out []linkInfo
	for len(b) >= unix.SizeofNlMsghdr {
		msgLen := int(binary.NativeEndian.Uint32(b[0:4]))
		if msgLen < unix.SizeofNlMsghdr || msgLen > len(b) {
			// The framing is broken; nothing after this point can be
			// located reliably.
			break
		}
		hdr := linkInfo{
			hdrFlags: binary.NativeEndian.Uint16(b[6:8]),
			seq:      binary.NativeEndian.Uint32(b[8:12]),
			pid:      binary.NativeEndian.Uint32(b[12:16]),
		}
		typ := binary.NativeEndian.Uint16(b[4:6])
		body := b[unix.SizeofNlMsghdr:msgLen]

		switch typ {
		case unix.RTM_NEWLINK, unix.RTM_DELLINK:
			if li, ok := parseIfInfo(hdr, body); ok {
				if typ == unix.RTM_NEWLINK {
					li.kind = kindNewLink
				} else {
					li.kind = kindDelLink
				}
				out = append(out, li)
			}
		case unix.NLMSG_DONE:
			hdr.kind = kindDone
			out = append(out, hdr)
		case unix.NLMSG_ERROR:
			if len(body) >= 4 {
				code := int32(binary.NativeEndian.Uint32(body[0:4]))
				hdr.kind = kindError
				if code < 0 {
					hdr.errno = unix.Errno(-int64(code))
				}
				out = append(out, hdr)
			}
		}

		next := nlAlign(msgLen)
		if next > len(b) {
			break
		}
		b = b[next:]
	}
	return out
}

// parseIfInfo decodes the ifinfomsg header and the IFLA_IFNAME attribute of a
// link message body. It reports false if the body is malformed.
func parseIfInfo(li linkInfo, body []byte) (linkInfo, bool) {
	if len(body) < unix.SizeofIfInfomsg {
		return li, false
	}
	// struct ifinfomsg: family(1) pad(1) type(2) index(4) flags(4) change(4).
	index := int32(binary.NativeEndian.Uint32(body[4:8]))
	if index <= 0 {
		return li, false
	}
	li.index = int(index)
	li.flags = binary.NativeEndian.Uint32(body[8:12])

	attrs := body[unix.SizeofIfInfomsg:]
	for len(attrs) >= unix.SizeofRtAttr {
		attrLen := int(binary.NativeEndian.Uint16(attrs[0:2]))
		attrType := binary.NativeEndian.Uint16(attrs[2:4]) & attrTypeMask
		if attrLen < unix.SizeofRtAttr || attrLen > len(attrs) {
			break
		}
		if attrType == unix.IFLA_IFNAME {
			li.name = parseName(attrs[unix.SizeofRtAttr:attrLen])
		}
		next := nlAlign(attrLen)
		if next > len(attrs) {
			break
		}
		attrs = attrs[next:]
	}
	return li, true
}

// parseName returns the NUL-terminated interface name in data, or the empty
// string if the name is empty or longer than the kernel allows.
func parseName(data []byte) string {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		data = data[:i]
	}
	if len(data) == 0 || len(data) > maxNameLen {
		return ""
	}
	return string(data)
}
