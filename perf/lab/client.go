package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
)

// AddClient adds a client namespace, "<prefix>-x<k>" for the k-th client
// added this way, to the switch: its eth0 is a veth whose peer x<k> is a
// port of br0, with the given addresses (for example on the subnet of a
// second team). It returns the namespace once the link forwards; Close
// removes it with the rest of the lab.
func (l *Lab) AddClient(ctx context.Context, addrs ...netip.Prefix) (string, error) {
	l.mu.Lock()
	k := l.extraClients
	l.extraClients++
	l.mu.Unlock()
	ns := fmt.Sprintf("%s-x%d", l.Prefix, k)
	port := fmt.Sprintf("x%d", k)
	if err := l.addNamespace(ctx, ns); err != nil {
		return "", err
	}
	mtu := l.Spec.MTU
	if err := ipBatch(ctx, "", fmt.Sprintf("link add eth0 netns %s mtu %d type veth peer name %s netns %s mtu %d", ns, mtu, port, l.Switch, mtu)); err != nil {
		return "", err
	}
	if err := ipBatch(ctx, l.Switch, fmt.Sprintf("link set %s master br0 up", port)); err != nil {
		return "", err
	}
	cmds := []string{"link set lo up"}
	for _, a := range addrs {
		c := fmt.Sprintf("addr add %s dev eth0", a)
		if a.Addr().Is6() {
			c += " nodad"
		}
		cmds = append(cmds, c)
	}
	if err := ipBatch(ctx, ns, append(cmds, "link set eth0 up")...); err != nil {
		return "", err
	}
	// Complete checksums on the wire, as for the lab's own clients.
	if out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off").CombinedOutput(); err != nil {
		return "", cmdError("ethtool -K eth0 tx off in "+ns, out, err)
	}
	err := poll(ctx, func() (bool, error) {
		ok, err := l.running(ns, "eth0")
		if err != nil || !ok {
			return false, err
		}
		return l.forwarding(ctx, port)
	})
	if err != nil {
		return "", fmt.Errorf("lab: client %s: %w", ns, err)
	}
	return ns, nil
}
