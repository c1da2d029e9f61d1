package dataplane

import (
	"bytes"
	"testing"
	"time"

	"github.com/teamgw/teamgw/dataplane/dpdk"
	"github.com/teamgw/teamgw/dataplane/dpdk/dpdktest"
	"github.com/teamgw/teamgw/dataplane/frame"
)

// vlanRig is a rig whose team also has VLAN 10 on its own kernel port.
func vlanRig(t *testing.T) (*rig, *ringPort) {
	t.Helper()
	var v10 *ringPort
	r := newRig(t, 2, func(r *rig, wc *WorkerConfig) {
		v10 = newRingPort(t, r.pool)
		wc.Teams[0].VLANs = []VLANPort{{ID: 10, Tap: v10.port}}
	})
	return r, v10
}

func tagged(f []byte, vid uint16) []byte {
	out := append([]byte{}, f[:12]...)
	out = append(out, 0x81, 0x00, byte(vid>>8), byte(vid))
	return append(out, f[12:]...)
}

func TestVLANFramesFromTheKernelLeaveTagged(t *testing.T) {
	r, v10 := vlanRig(t)
	f := ethFrame(clientMAC, teamMAC, 7)
	v10.send(f)
	got := r.members[0].collect(1)[0]
	if want := tagged(f, 10); !bytes.Equal(got, want) {
		t.Errorf("member sent\n%x\nwant\n%x", got, want)
	}
	r.tap.send(f)
	if got := r.members[0].collect(1)[0]; !bytes.Equal(got, f) {
		t.Errorf("untagged port's frame left as %x, want it untagged", got)
	}
}

func TestTaggedFramesReachTheirVLANUntagged(t *testing.T) {
	r, v10 := vlanRig(t)
	f := ethFrame(teamMAC, clientMAC, 8)
	r.members[0].send(tagged(f, 10))
	if got := v10.collect(1)[0]; !bytes.Equal(got, f) {
		t.Errorf("VLAN 10 port got %x, want %x", got, f)
	}
	r.members[0].send(tagged(f, 0)) // priority-tagged: the team's own port
	if got := r.tap.collect(1)[0]; !bytes.Equal(got, f) {
		t.Errorf("priority-tagged frame reached the kernel as %x, want %x", got, f)
	}
	r.members[0].send(tagged(ethFrame(frame.Broadcast, clientMAC, 9), 20))
	waitCounter(t, &r.w.Counters().Teams[0].Drops[DropUnknownVLAN], 1)
	r.tap.quiet()
	v10.quiet()
}

func TestTeamWithoutVLANsPassesTaggedFramesThrough(t *testing.T) {
	r := newRig(t, 2)
	f := tagged(ethFrame(teamMAC, clientMAC, 5), 42)
	r.members[0].send(f)
	if got := r.tap.collect(1)[0]; !bytes.Equal(got, f) {
		t.Errorf("kernel got %x, want the tagged frame untouched %x", got, f)
	}
}

// TestSlowProtocolFramesGoToControl checks the LACP path: with
// SlowToControl, slow-protocols frames from any member, even an inactive
// one, reach the control ring with their arrival port.
func TestSlowProtocolFramesGoToControl(t *testing.T) {
	ctl, err := dpdk.NewRing(dpdktest.Name("ctl"), 64, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Free()
	r := newRig(t, 2, func(r *rig, wc *WorkerConfig) {
		ts := SingleMember(teamMAC, 2, 0)
		ts.SlowToControl = true
		r.publishState(ts)
		wc.Control = ctl
	})
	lacpdu := ethFrame(frame.MAC{0x01, 0x80, 0xc2, 0, 0, 2}, clientMAC, 1)
	lacpdu[12], lacpdu[13] = 0x88, 0x09
	r.members[1].send(lacpdu) // member 1 is not active
	buf := make([]*dpdk.Mbuf, 4)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if n := ctl.Dequeue(buf); n > 0 {
			if buf[0].Port() != r.members[1].port.ID || !bytes.Equal(buf[0].Data(), lacpdu) {
				t.Errorf("control got port %d %x", buf[0].Port(), buf[0].Data())
			}
			buf[0].Free()
			r.tap.quiet()
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the LACPDU did not reach the control ring")
}

// TestSlowProtocolFloodIsBudgeted floods a member with slow-protocols
// frames from a stranger and interleaves the partner's LACPDUs: the
// stranger gets at most SlowBudget frames to control within the flood
// (the rest count as slow_flood) while every partner LACPDU gets through.
func TestSlowProtocolFloodIsBudgeted(t *testing.T) {
	ctl, err := dpdk.NewRing(dpdktest.Name("ctl"), 1024, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Free()
	partner := frame.MAC{0x02, 0x5e, 0, 0, 0, 1}
	r := newRig(t, 2, func(r *rig, wc *WorkerConfig) {
		ts := SingleMember(teamMAC, 2, 0)
		ts.SlowToControl = true
		ts.PartnerMAC[0] = partner
		r.publishState(ts)
		wc.Control = ctl
	})
	slow := func(src frame.MAC) []byte {
		f := ethFrame(frame.MAC{0x01, 0x80, 0xc2, 0, 0, 2}, src, 1)
		f[12], f[13] = 0x88, 0x09
		return f
	}
	const flood, partnerPDUs = 400, 8
	for i := range flood {
		r.members[0].send(slow(clientMAC))
		if i%(flood/partnerPDUs) == 0 {
			r.members[0].send(slow(partner))
		}
	}
	buf := make([]*dpdk.Mbuf, 64)
	fromPartner, fromStranger := 0, 0
	deadline := time.Now().Add(5 * time.Second)
	for fromPartner < partnerPDUs && time.Now().Before(deadline) {
		n := ctl.Dequeue(buf)
		for _, m := range buf[:n] {
			if frame.MAC(m.Data()[6:12]) == partner {
				fromPartner++
			} else {
				fromStranger++
			}
			m.Free()
		}
		if n == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(20 * time.Millisecond)
	for n := ctl.Dequeue(buf); n > 0; n = ctl.Dequeue(buf) {
		for _, m := range buf[:n] {
			fromStranger++
			m.Free()
		}
	}
	dropped := r.w.Counters().Teams[0].Drops[DropSlowFlood].Load()
	if fromPartner != partnerPDUs {
		t.Errorf("%d of the partner's %d LACPDUs reached control", fromPartner, partnerPDUs)
	}
	// The flood takes well under a second: a few windows at most.
	if fromStranger > 4*SlowBudget || uint64(fromStranger)+dropped != flood {
		t.Errorf("stranger: %d to control, %d dropped as slow_flood, of %d", fromStranger, dropped, flood)
	}
}
