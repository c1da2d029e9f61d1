package configs

import (
	"path/filepath"
	"testing"
)

// TestExamples loads every example configuration shipped with the package.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("examples", "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d example files, want at least 2", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSLBFailoverExample(t *testing.T) {
	cfg, err := Load(filepath.Join("examples", "slb-failover.toml"))
	if err != nil {
		t.Fatal(err)
	}
	tm := cfg.Teams[0]
	if tm.Name != "team0" || len(tm.Members) != 2 || tm.Members[1].Role != RoleStandby ||
		tm.Addresses[0] != "192.0.2.1/24" || tm.PrimaryIndex() != 0 {
		t.Errorf("team = %+v", tm)
	}
}
