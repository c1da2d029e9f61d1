package configs

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that whatever it accepts is
// valid and that applying the defaults again changes nothing.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(withMembers(`["net_af_packet0,iface=m0", { device = "net_af_packet1,iface=m1", role = "standby" }]`)))
	f.Add([]byte(withTeam("[eal]\nhugepages = false\nworker_cores = [0]\n[control]\nmetrics = \"off\"\n", "mac = \"02:00:00:00:00:01\"\naddresses = [\"2001:db8::1/64\"]\nfallback_delay = \"0\"\ngarp_count = 0\n")))
	f.Add([]byte("[[team]]\nname = \"t\"\n[[team.members]]\ndevice = \"03:00.0\"\nrole = \"primary\"\n[[team.members]]\ndevice = \"03:00.1\"\n"))
	f.Add([]byte(withMembers(`["0000:03:00.0,rxq=2", "net_null0,a=b,,c"]`)))
	f.Add([]byte("team = [{name = \"t\", members = [\"net_null0\", \"net_null1\"]}]\n"))
	f.Add([]byte("[eal]\nmemory_mb = \"x\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.toml", data)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
		}
		before := clone(cfg)
		cfg.SetDefaults()
		if !reflect.DeepEqual(before, cfg) {
			t.Fatalf("SetDefaults is not idempotent:\nbefore %+v\nafter  %+v", before, cfg)
		}
	})
}

// clone returns a deep copy of cfg.
func clone(cfg *Config) *Config {
	c := *cfg
	c.EAL.WorkerCores = append([]int(nil), cfg.EAL.WorkerCores...)
	c.EAL.ExtraArgs = append([]string(nil), cfg.EAL.ExtraArgs...)
	if cfg.EAL.Hugepages != nil {
		c.EAL.Hugepages = boolPtr(*cfg.EAL.Hugepages)
	}
	c.Teams = nil
	for _, t := range cfg.Teams {
		t.Addresses = append([]string(nil), t.Addresses...)
		t.Members = append([]Member(nil), t.Members...)
		if t.AutoFallback != nil {
			t.AutoFallback = boolPtr(*t.AutoFallback)
		}
		c.Teams = append(c.Teams, t)
	}
	return &c
}
