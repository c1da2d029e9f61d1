package vnet

import "encoding/binary"

// Offload describes a TCP super-frame prepared for a member device that
// segments in hardware (TSO): the header lengths and segment payload size
// the device needs, as DPDK's mbuf offload fields carry them.
type Offload struct {
	L2, L3, L4 int // lengths of the Ethernet (with tags), IP and TCP headers
	MSS        int // payload bytes per segment
	V6         bool
}

// PrepareTSO checks a TCP super-frame from the kernel (h, frame without
// its virtio-net header) and rewrites its headers in place the way DPDK
// asks of a packet handed to a device for TCP segmentation: the IPv4
// header checksum zero (the device computes it per segment) and the TCP
// checksum field holding the pseudo-header sum without the length (the
// device adds each segment's length and payload). The kernel's partial
// sum covers the whole super-frame's length, which no segment has.
// maxSegment bounds a segment's frame, as in Segmenter.Reset.
func PrepareTSO(h Header, frame []byte, maxSegment int) (Offload, error) {
	l, err := openSuper(h, frame, maxSegment, false)
	if err != nil {
		return Offload{}, err
	}
	ip := frame[l.l3:l.l4]
	var src, dst []byte
	if l.v6 {
		src, dst = ip[8:24], ip[24:40]
	} else {
		ip[10], ip[11] = 0, 0
		src, dst = ip[12:16], ip[16:20]
	}
	binary.BigEndian.PutUint16(frame[l.l4+16:], Fold(pseudoSum(src, dst, protoTCP, 0)))
	return Offload{L2: l.l3, L3: l.l4 - l.l3, L4: l.payload - l.l4, MSS: int(h.GSOSize), V6: l.v6}, nil
}
