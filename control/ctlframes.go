package control

import (
	"encoding/binary"

	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/frame"
)

// Frames for the control plane: the workers hand slow-protocols frames
// (LACP teams) and echo-node probe replies (SLB teams with an echo node)
// to a per-worker ring, tagged with the member port they arrived on; the
// control loop drains the rings every link poll.

// controlFramesPerPoll bounds the frames the control loop takes from one
// worker's ring per link poll, so a storm of slow-protocols frames cannot
// hold the loop (and the LACP timers it runs); what is left waits in the
// ring, and what does not fit there the worker drops and counts.
const controlFramesPerPoll = 256

// controlFrames drains the workers' control rings: LACPDUs go to their
// member's port, Marker PDUs are answered (802.1AX 5.5), echo-node probe
// replies are recorded, anything else is dropped.
func (d *Daemon) controlFrames() {
	var buf [32]*dpdk.Mbuf
	now := d.now()
	for _, r := range d.ctlRings {
		for taken := 0; taken < controlFramesPerPoll; {
			n := r.Dequeue(buf[:])
			if n == 0 {
				break
			}
			taken += n
			for _, m := range buf[:n] {
				switch etherType(m.Data()) {
				case frame.TypeSlow:
					d.slowFrame(m.Port(), m.Data(), now)
				case frame.TypeARP:
					d.probeReply(m.Port(), m.Data())
				}
				m.Free()
			}
		}
	}
}

// memberByPort finds the team and member index of a DPDK port.
func (d *Daemon) memberByPort(port uint16) (*team, int) {
	for _, t := range d.teams {
		for i, m := range t.members {
			if m.port.ID == port {
				return t, i
			}
		}
	}
	return nil, -1
}

// etherType is a frame's EtherType (0 if it is too short).
func etherType(f []byte) uint16 {
	if len(f) < frame.EthHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(f[12:14])
}
