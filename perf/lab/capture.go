package lab

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Capture runs tshark on iface in namespace ns with the capture filter
// filter, writing to path, and returns once the capture runs: tshark says
// "Capture started" then (it says "Capturing on" before, and the file may
// exist before), so nothing sent after Capture returns is missed. The
// returned stop function ends the capture and waits for tshark; Close
// stops it too. Capture on the switch side of a member: DPDK's af_packet
// PMD transmits past the kernel's packet taps on the member veth.
func (l *Lab) Capture(ns, iface, filter, path string) (stop func(), err error) {
	pr, pw := io.Pipe()
	capturing := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Capture started") {
				close(capturing)
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	cmd, err := l.Start(ns, io.Discard, pw, "tshark", "-q", "-i", iface, "-f", filter, "-w", path)
	if err != nil {
		pw.Close()
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-capturing:
	case err := <-exited:
		pw.Close()
		return nil, fmt.Errorf("lab: tshark on %s in %s exited before capturing: %v", iface, ns, err)
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
		pw.Close()
		return nil, errors.New("lab: tshark did not start capturing within 10 s")
	}
	done := false
	stop = func() {
		if done {
			return
		}
		done = true
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		pw.Close()
	}
	l.addCloser(stop)
	return stop, nil
}

// LACPDU is one LACPDU read from a capture by ReadLACPDUs.
type LACPDU struct {
	// At is the capture time stamp.
	At time.Time
	// Src is the frame's source MAC address, System the actor's system
	// MAC (the team MAC for teamgw's LACPDUs).
	Src, System string
	// Actor and Partner are the PDU's actor and partner state octets as
	// tshark spells them (e.g. "**DCSG*A": Expired, Defaulted,
	// Distributing, Collecting, Synchronization, Aggregation, Timeout,
	// Activity from left to right; '*' where a flag is clear).
	Actor, Partner string
}

// ReadLACPDUs reads the LACPDUs of the capture file path with tshark.
func ReadLACPDUs(path string) ([]LACPDU, error) {
	out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-E", "separator=|",
		"-e", "frame.time_epoch", "-e", "eth.src", "-e", "lacp.actor.sysid", "-e", "lacp.actor.state_str", "-e", "lacp.partner.state_str",
		"-Y", "slow.subtype == 1").Output()
	if err != nil {
		return nil, fmt.Errorf("lab: tshark -r %s: %w", path, err)
	}
	var pdus []LACPDU
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) < 5 {
			continue
		}
		whole, frac, _ := strings.Cut(f[0], ".")
		sec, err := strconv.ParseInt(whole, 10, 64)
		if err != nil {
			continue
		}
		var nsec int64
		if nsec, err = strconv.ParseInt((frac + "000000000")[:9], 10, 64); err != nil {
			continue
		}
		pdus = append(pdus, LACPDU{At: time.Unix(sec, nsec), Src: f[1], System: f[2], Actor: f[3], Partner: f[4]})
	}
	return pdus, nil
}
