// Package configs defines the TOML configuration of teamgw, fills in its
// defaults and validates it.
//
// A configuration file has three parts:
//
//	[eal]      # how DPDK's Environment Abstraction Layer is started
//	[control]  # control socket, Prometheus metrics, link polling, logging
//	[[team]]   # one table per team (1 to 4 of them)
//
// Each team names its member ports in a members array. A member is either a
// plain DPDK devargs string or an inline table that also gives the member's
// role and the kernel interface whose carrier is watched; both forms may be
// mixed in one array:
//
//	[[team]]
//	name    = "team0"
//	mode    = "slb"
//	members = ["net_af_packet0,iface=m0", { device = "net_af_packet1,iface=m1", role = "standby" }]
//	address = "192.0.2.1/24"
//
// Loading a file is three explicit steps, all done by [Load] and [Parse]:
// strict decoding (any key the schema does not know is an error), one
// defaults step ([Config.SetDefaults]) and validation ([Config.Validate]),
// which collects every problem together with the path of the field it
// concerns, such as team[0].members[2] or eal.worker_cores[1].
//
// The defaults and limits of teams follow Broadcom's Advanced Server Program
// (BASP) teaming: traffic falls back to a recovered primary member after a
// hold-down of 1.5 seconds unless auto-fallback is disabled, a team has at
// most 8 member ports, and at most 4 teams are configured.
package configs
