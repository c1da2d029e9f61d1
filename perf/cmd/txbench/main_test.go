package main

import (
	"slices"
	"strings"
	"testing"
)

func TestTestpmdSendsOnTheBondAlone(t *testing.T) {
	c := testpmdTx(options{core: 1}, 4)
	if len(c.Vdevs) != 5 || c.Vdevs[4] != "net_bonding0,mode=2,xmit_policy=l34,slave=net_null0,slave=net_null1,slave=net_null2,slave=net_null3" {
		t.Errorf("vdevs %v", c.Vdevs)
	}
	if !slices.Contains(c.Args, "--portmask=0x10") || !slices.Contains(c.Args, "--txonly-multi-flow") {
		t.Errorf("args %v: the bond is port 4", c.Args)
	}
	null := testpmdTx(options{core: 1}, 0)
	if len(null.Vdevs) != 1 || strings.Contains(strings.Join(null.Args, " "), "portmask") {
		t.Errorf("ceiling: %+v", null)
	}
}

func TestIntList(t *testing.T) {
	if got, err := intList("2, 4,8", 1, 8); err != nil || !slices.Equal(got, []int{2, 4, 8}) {
		t.Errorf("%v %v", got, err)
	}
	for _, bad := range []string{"0", "9", "x", ""} {
		if _, err := intList(bad, 1, 8); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
