// Command teamctl is the operator CLI of teamgw: it talks to the daemon's
// control socket and prints human tables (or JSON with -json).
//
//	teamctl [-socket PATH] [-json] show [TEAM]
//	teamctl [-socket PATH] [-json] events [-f]
//	teamctl [-socket PATH] [-json] flows TEAM
//	teamctl [-socket PATH] lacp TEAM
//	teamctl [-socket PATH] clients TEAM
//	teamctl [-socket PATH] member enable|disable TEAM MEMBER
//	teamctl [-socket PATH] [-json] member add TEAM DEVARGS [primary|standby]
//	teamctl [-socket PATH] [-json] member remove TEAM MEMBER
//	teamctl [-socket PATH] primary TEAM MEMBER
//	teamctl [-socket PATH] [-json] reload
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/teamgw/teamgw/configs"
	"github.com/teamgw/teamgw/control"
)

func main() {
	socket := flag.String("socket", configs.DefaultSocket, "teamgw control `socket`")
	asJSON := flag.Bool("json", false, "print JSON instead of tables")
	flag.Usage = func() {
		fmt.Fprint(os.Stderr, `usage: teamctl [-socket PATH] [-json] show [TEAM]
       teamctl [-socket PATH] [-json] events [-f]
       teamctl [-socket PATH] [-json] flows TEAM
       teamctl [-socket PATH] lacp TEAM
       teamctl [-socket PATH] clients TEAM
       teamctl [-socket PATH] member enable|disable TEAM MEMBER
       teamctl [-socket PATH] [-json] member add TEAM DEVARGS [primary|standby]
       teamctl [-socket PATH] [-json] member remove TEAM MEMBER
       teamctl [-socket PATH] primary TEAM MEMBER
       teamctl [-socket PATH] [-json] reload
`)
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		args = []string{"show"}
	}
	c := cli{socket: *socket, asJSON: *asJSON}
	switch args[0] {
	case "show":
		req := control.Request{Cmd: "show"}
		if len(args) > 1 {
			req.Team = args[1]
		}
		resp := c.call(req)
		if c.asJSON {
			e := json.NewEncoder(os.Stdout)
			e.SetIndent("", "  ")
			e.Encode(resp.Status)
			return
		}
		printShow(os.Stdout, resp.Status)
	case "events":
		follow := len(args) > 1 && args[1] == "-f"
		if err := events(c.socket, c.asJSON, follow); err != nil {
			fail(err)
		}
	case "flows":
		resp := c.call(control.Request{Cmd: "flows", Team: teamArg(args)})
		if c.asJSON {
			json.NewEncoder(os.Stdout).Encode(resp.Flows)
			return
		}
		printFlows(os.Stdout, resp.Flows)
	case "lacp":
		printLACP(os.Stdout, c.call(control.Request{Cmd: "show", Team: teamArg(args)}).Status.Teams[0])
	case "clients":
		printClients(os.Stdout, c.call(control.Request{Cmd: "show", Team: teamArg(args)}).Status.Teams[0])
	case "member":
		if len(args) > 1 && (args[1] == "add" || args[1] == "remove") {
			c.memberChange(args[1], args[2:])
			return
		}
		fallthrough
	case "primary":
		req := control.Request{Cmd: "primary"}
		rest := args[1:]
		if args[0] == "member" {
			if len(args) < 2 || (args[1] != "enable" && args[1] != "disable") {
				usage()
			}
			req.Cmd, rest = "member-"+args[1], args[2:]
		}
		if len(rest) != 2 {
			usage()
		}
		req.Team, req.Member = rest[0], rest[1]
		c.call(req)
	case "reload":
		resp := c.call(control.Request{Cmd: "reload"})
		if c.asJSON {
			json.NewEncoder(os.Stdout).Encode(struct {
				Changes []string `json:"changes"`
			}{append([]string{}, resp.Changes...)})
			return
		}
		if len(resp.Changes) == 0 {
			fmt.Println("reloaded: no member or VLAN changes")
		}
		for _, ch := range resp.Changes {
			fmt.Println(ch)
		}
	default:
		fmt.Fprintf(os.Stderr, "teamctl: unknown command %q\n", args[0])
		usage()
	}
}

// memberChange adds (args TEAM DEVARGS [ROLE]) or removes (args TEAM
// MEMBER) a member and prints the team as it is afterwards.
func (c cli) memberChange(op string, args []string) {
	req := control.Request{Cmd: "member-" + op}
	switch {
	case op == "add" && (len(args) == 2 || len(args) == 3):
		req.Team, req.Device = args[0], args[1]
		if len(args) == 3 {
			req.Role = args[2]
		}
	case op == "remove" && len(args) == 2:
		req.Team, req.Member = args[0], args[1]
	default:
		usage()
	}
	resp := c.call(req)
	if c.asJSON {
		e := json.NewEncoder(os.Stdout)
		e.SetIndent("", "  ")
		e.Encode(resp.Status.Teams[0])
		return
	}
	printShow(os.Stdout, resp.Status)
}

// cli is the connection settings of one teamctl run.
type cli struct {
	socket string
	asJSON bool
}

// call sends req to teamgw; on any error it prints one line and exits 1.
func (c cli) call(req control.Request) *control.Response {
	resp, err := control.Call(c.socket, req)
	if err != nil {
		fail(err)
	}
	return resp
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "teamctl:", err)
	os.Exit(1)
}

func usage() {
	flag.Usage()
	os.Exit(2)
}

// teamArg is the TEAM of "COMMAND TEAM", or a usage error.
func teamArg(args []string) string {
	if len(args) != 2 {
		usage()
	}
	return args[1]
}

// printClients prints the SLB inbound client table: each client's member
// and inbound traffic (totals and decayed rates), then each member's share.
func printClients(w io.Writer, t control.TeamStatus) {
	fmt.Fprintf(w, "team %s  %d clients  directed ARPs sent %d  moved by traffic %d\n", t.Name, len(t.Clients), t.DirectedARPs, t.ClientMoves)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CLIENT\tMAC\tMEMBER\tRX PKTS\tRX BYTES\tPKTS/S\tBYTES/S\tMOVES")
	for _, cl := range t.Clients {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%.0f\t%.0f\t%d\n", cl.IP, cl.MAC, cl.Member, cl.Packets, cl.Bytes, cl.PacketRate, cl.Rate, cl.Moves)
	}
	tw.Flush()
	fmt.Fprintln(tw, "  MEMBER\tCLIENTS\tCLIENT BYTES/S")
	for _, m := range t.Members {
		fmt.Fprintf(tw, "  %s\t%d\t%.0f\n", m.Name, m.Clients, m.ClientLoad)
	}
	tw.Flush()
	if t.ClientsUncounted > 0 {
		fmt.Fprintf(w, "  %d clients not counted: the inbound client table is full\n", t.ClientsUncounted)
	}
	if t.ClientsRefused != nil {
		fmt.Fprint(w, "  neighbours refused as clients:")
		printCounts(w, t.ClientsRefused)
	}
	for _, r := range t.Routers {
		fmt.Fprintf(w, "  router %s (%s): routed traffic, stays on the path member %s\n", r.IP, r.Kind, t.Active)
	}
}

func printShow(w io.Writer, s *control.Status) {
	fmt.Fprintf(w, "teamgw up %s, %d worker(s)\n", time.Since(s.Started).Round(time.Second), len(s.Workers))
	for _, t := range s.Teams {
		fmt.Fprintf(w, "\nteam %s  mode %s  mac %s  path %s  failovers %d  bucket moves %d\n", t.Name, t.Mode, t.MAC, t.Active, t.Failovers, t.BucketMoves)
		for _, a := range t.Addresses {
			fmt.Fprintf(w, "  address %s\n", a)
		}
		for _, v := range t.VLANs {
			fmt.Fprintf(w, "  vlan %d  interface %s  addresses %s\n", v.ID, v.Interface, strings.Join(v.Addresses, " "))
		}
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  MEMBER\tMAC\tROLE\tSTATE\tLINK\tBUCKETS\tDOWNS\tRX PKTS\tTX PKTS\tRX BYTES\tTX BYTES")
		for _, m := range t.Members {
			link := "up"
			if !m.Link || (m.Carrier != nil && !*m.Carrier) {
				link = "down"
			}
			state := m.State
			if m.Path {
				state += "*"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", m.Name, m.MAC, m.Role, state, link, m.Buckets, m.Downs,
				m.Counters.RxPackets, m.Counters.TxPackets, m.Counters.RxBytes, m.Counters.TxBytes)
		}
		k := t.Kernel
		fmt.Fprintf(tw, "  (kernel %s)\t\t\t\t\t\t\t%d\t%d\t%d\t%d\n", t.Name, k.RxPackets, k.TxPackets, k.RxBytes, k.TxBytes)
		tw.Flush()
		fmt.Fprint(w, "  drops:")
		printCounts(w, t.Drops)
		for _, m := range t.Members {
			tso := ""
			switch {
			case m.TSO:
				tso = " (kernel super-frames leave whole: TSO on the device)"
			case m.KernelGSO:
				tso = " (kernel super-frames leave whole: GSO by the member interface's kernel)"
			}
			fmt.Fprintf(w, "  %s offloads: %s%s\n", m.Name, m.TxOffloads, tso)
			if n := m.NIC; n != (control.NICCounters{}) {
				fmt.Fprintf(w, "  %s device: rx_missed=%d rx_nombuf=%d rx_errors=%d tx_errors=%d\n", m.Name, n.RxMissed, n.RxNoMbuf, n.RxErrors, n.TxErrors)
			}
		}
		fmt.Fprint(w, "  from the kernel:")
		printCounts(w, t.Classes)
		kp := t.KernelPath
		fmt.Fprintf(w, "  kernel path: %d queues, offloads %s; super-frames segmented %d, left to member TSO or GSO %d (GSO rejected by the member's kernel: %d full, %d other; %d segmented in backoff), coalesced %d (of %d segments)\n",
			kp.Queues, kp.Offloads, kp.SuperFrames, kp.Offloaded, kp.KernelGSORefusedFull, kp.KernelGSORefusedOther, kp.KernelGSOBackoff, kp.Coalesced, kp.CoalescedSegments)
		if t.ClientsRefused != nil {
			fmt.Fprintf(w, "  clients: %d  refused:", len(t.Clients))
			printCounts(w, t.ClientsRefused)
		}
		fmt.Fprintln(w, "  (* = path member: team MAC, broadcasts, non-IP)")
	}
}

// printCounts prints name=value pairs in name order on one line.
func printCounts(w io.Writer, m map[string]uint64) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, " %s=%d", k, m[k])
	}
	fmt.Fprintln(w)
}

// events prints the daemon's event log; with follow it keeps printing new
// events until interrupted.
func events(socket string, asJSON, follow bool) error {
	var seq uint64
	enc := json.NewEncoder(os.Stdout)
	for {
		resp, err := control.Call(socket, control.Request{Cmd: "events", Since: seq})
		if err != nil {
			return err
		}
		for _, e := range resp.Events {
			seq = e.Seq
			if asJSON {
				enc.Encode(e)
				continue
			}
			keys := make([]string, 0, len(e.Attrs))
			for k := range e.Attrs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var kv []string
			for _, k := range keys {
				kv = append(kv, k+"="+e.Attrs[k])
			}
			fmt.Printf("%s  #%-3d %s  %s\n", e.Time.Format("2006-01-02T15:04:05.000"), e.ID, e.Msg, strings.Join(kv, " "))
		}
		if !follow {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// printFlows prints the flow table: buckets and traffic per member, then
// the busiest buckets.
func printFlows(w io.Writer, ft *control.FlowTable) {
	type agg struct {
		buckets        int
		packets, bytes uint64
		load           float64
	}
	per := map[string]*agg{}
	var names []string
	for _, b := range ft.Buckets {
		a := per[b.Member]
		if a == nil {
			a = &agg{}
			per[b.Member] = a
			names = append(names, b.Member)
		}
		a.buckets++
		a.packets += b.Packets
		a.bytes += b.Bytes
		a.load += b.Load
	}
	sort.Strings(names)
	fmt.Fprintf(w, "team %s  %d buckets  bucket moves %d\n", ft.Team, len(ft.Buckets), ft.BucketMoves)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  MEMBER\tBUCKETS\tPACKETS\tBYTES\tRECENT LOAD")
	for _, n := range names {
		a := per[n]
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%.0f\n", n, a.buckets, a.packets, a.bytes, a.load)
	}
	tw.Flush()
	top := slices.Clone(ft.Buckets)
	sort.Slice(top, func(i, j int) bool { return top[i].Bytes > top[j].Bytes })
	fmt.Fprintln(w, "  busiest buckets:")
	for _, b := range top[:min(8, len(top))] {
		if b.Bytes == 0 {
			break
		}
		fmt.Fprintf(w, "    %3d  %-16s %d packets, %d bytes\n", b.Bucket, b.Member, b.Packets, b.Bytes)
	}
}

// printLACP prints each member's 802.1AX actor and partner, state bits
// spelled out, machine states, PDU and marker counters, and the team's
// counters of answered markers and ignored frames.
func printLACP(w io.Writer, t control.TeamStatus) {
	fmt.Fprintf(w, "team %s  mode %s\n", t.Name, t.Mode)
	if l := t.LACP; l != nil {
		fmt.Fprintf(w, "  partner %s key %d  markers answered %d  ignored: bad frames %d, looped lacpdus %d\n",
			l.PartnerSystem, l.PartnerKey, l.MarkersAnswered, l.Bad, l.Looped)
	}
	for _, m := range t.Members {
		l := m.LACP
		if l == nil {
			fmt.Fprintf(w, "  %s: not an LACP member\n", m.Name)
			continue
		}
		sel := "selected"
		if !l.Selected {
			sel = "not aggregated: " + l.Reason
		}
		fmt.Fprintf(w, "  %s  (%s)\n", m.Name, sel)
		fmt.Fprintf(w, "    actor    %s  [%s]\n", l.Actor, l.ActorState)
		fmt.Fprintf(w, "    partner  %s  [%s]\n", l.Partner, l.PartnerState)
		fmt.Fprintf(w, "    receive %s  mux %s  lacpdus rx %d tx %d  expired %d  defaulted %d\n",
			l.Receive, l.Mux, l.PDUsRx, l.PDUsTx, l.Expired, l.Defaulted)
		pending := ""
		if l.MarkerPending {
			pending = "  (marker out: leaving distribution)"
		}
		rtt := "-"
		if l.LastMarkerRTT > 0 {
			rtt = l.LastMarkerRTT.String()
		}
		fmt.Fprintf(w, "    markers sent %d  answered %d  timed out %d  unmatched responses %d  last round trip %s%s\n",
			l.MarkersTx, l.MarkerResponses, l.MarkerTimeouts, l.MarkerUnmatched, rtt, pending)
	}
}
