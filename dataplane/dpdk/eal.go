package dpdk

/*
#include <stdlib.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_errno.h>

static int tg_eal_errno(void) { return rte_errno; }
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// EALConfig describes how to start DPDK's Environment Abstraction Layer.
// teamgw runs the EAL without telemetry and, on hugepages, with --in-memory
// (no shared files in hugetlbfs, nothing left behind after a crash).
type EALConfig struct {
	// MainCore is the CPU of the EAL main lcore; -1 picks CPU 0.
	MainCore int
	// Hugepages false runs with --no-huge: anonymous memory, virtual
	// devices only (no physical NIC can DMA into it).
	Hugepages bool
	// MemoryMB is the memory the EAL reserves at start-up (-m).
	MemoryMB int
	// FilePrefix names this instance's runtime directory (/var/run/dpdk/P).
	FilePrefix string
	// LogLevel is the EAL's global log level (e.g. "warning").
	LogLevel string
	// PCI lists the PCI devices to allow; empty means --no-pci.
	PCI []string
	// Extra is appended to the argument vector verbatim.
	Extra []string
}

// Args is the EAL argument vector for c (without the program name).
func (c EALConfig) Args() []string {
	core := c.MainCore
	if core < 0 {
		core = 0
	}
	args := []string{"-l", strconv.Itoa(core)}
	if c.Hugepages {
		args = append(args, "--in-memory")
	}
	args = append(args, "--no-telemetry")
	if c.FilePrefix != "" {
		args = append(args, "--file-prefix", c.FilePrefix)
	}
	if !c.Hugepages {
		// --no-huge implies legacy memory, which DPDK 22.11 refuses
		// with --in-memory: the runtime directory of the file prefix
		// holds the instance's files instead (Cleanup removes it).
		args = append(args, "--no-huge")
	}
	if c.MemoryMB > 0 {
		args = append(args, "-m", strconv.Itoa(c.MemoryMB))
	}
	if c.LogLevel != "" {
		args = append(args, "--log-level", c.LogLevel)
	}
	if len(c.PCI) == 0 {
		args = append(args, "--no-pci")
	}
	for _, a := range c.PCI {
		args = append(args, "-a", a)
	}
	return append(args, c.Extra...)
}

// HugepageError reports that the kernel has too few free hugepages.
type HugepageError struct {
	FreeMB, NeedMB int
}

func (e *HugepageError) Error() string {
	return fmt.Sprintf("hugepages: %d MiB free, %d MiB needed: reserve them with `echo %d > /proc/sys/vm/nr_hugepages` (or run `make deps`), or set eal.hugepages = false for virtual devices only",
		e.FreeMB, e.NeedMB, (e.NeedMB+1)/2+64)
}

// FreeHugepagesMB sums the free hugepages of every size the kernel offers.
func FreeHugepagesMB() (int, error) {
	dirs, err := filepath.Glob("/sys/kernel/mm/hugepages/hugepages-*kB")
	if err != nil {
		return 0, err
	}
	total := 0
	for _, d := range dirs {
		kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(d), "hugepages-"), "kB"))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "free_hugepages"))
		if err != nil {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			continue
		}
		total += n * kb / 1024
	}
	return total, nil
}

// CheckHugepages fails with a *HugepageError when fewer than needMB MiB of
// hugepages are free, so a start-up without them ends in one clear line
// instead of a page of EAL messages.
func CheckHugepages(needMB int) error {
	free, err := FreeHugepagesMB()
	if err != nil {
		return err
	}
	if free < needMB {
		return &HugepageError{FreeMB: free, NeedMB: needMB}
	}
	return nil
}

var eal struct {
	sync.Mutex
	up     bool
	prefix string
}

// Init starts the EAL once per process. The EAL pins the calling thread to
// the main lcore; Init runs it on a locked thread and restores that thread's
// CPU affinity afterwards so the Go runtime keeps every CPU.
func Init(c EALConfig) error {
	eal.Lock()
	defer eal.Unlock()
	if eal.up {
		return &Error{Op: "eal init", Err: unix.EALREADY}
	}
	if c.Hugepages {
		if err := CheckHugepages(c.MemoryMB); err != nil {
			return err
		}
	}
	args := append([]string{"teamgw"}, c.Args()...)
	argv := C.malloc(C.size_t(len(args)+1) * C.size_t(unsafe.Sizeof(uintptr(0))))
	av := unsafe.Slice((**C.char)(argv), len(args)+1)
	for i, a := range args {
		av[i] = C.CString(a) // the EAL may keep pointers into argv: never freed
	}
	av[len(args)] = nil

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var saved unix.CPUSet
	if err := unix.SchedGetaffinity(0, &saved); err != nil {
		return fmt.Errorf("dpdk: eal init: %w", err)
	}
	rc := C.rte_eal_init(C.int(len(args)), (**C.char)(argv))
	_ = unix.SchedSetaffinity(0, &saved)
	if rc < 0 {
		err := &Error{Op: "eal init", Err: ealErrno()}
		if c.FilePrefix != "" {
			os.RemoveAll(filepath.Join("/var/run/dpdk", c.FilePrefix))
		}
		return err
	}
	eal.up = true
	eal.prefix = c.FilePrefix
	return nil
}

// Cleanup releases the EAL's resources and removes its runtime directory.
// Ports must be closed first.
func Cleanup() error {
	eal.Lock()
	defer eal.Unlock()
	if !eal.up {
		return nil
	}
	eal.up = false
	rc := C.rte_eal_cleanup()
	if eal.prefix != "" {
		os.RemoveAll(filepath.Join("/var/run/dpdk", eal.prefix))
	}
	if rc < 0 {
		return &Error{Op: "eal cleanup", Err: unix.Errno(-rc)}
	}
	return nil
}

// Initialized reports whether Init succeeded and Cleanup has not run.
func Initialized() bool {
	eal.Lock()
	defer eal.Unlock()
	return eal.up
}

// ealErrno reads rte_errno right after a failed rte_eal_init on the same
// locked thread.
func ealErrno() error {
	e := unix.Errno(C.tg_eal_errno())
	if e == 0 {
		return unix.EINVAL
	}
	return e
}

// RegisterThread makes the calling OS thread an EAL thread with its own
// lcore id (rte_thread_register), so per-lcore mempool caches work. The
// goroutine must be locked to its thread.
func RegisterThread() (lcore int, err error) {
	if C.rte_thread_register() < 0 {
		return -1, &Error{Op: "thread register", Err: ealErrno()}
	}
	return int(C.rte_lcore_id()), nil
}

// UnregisterThread releases the lcore id of the calling thread.
func UnregisterThread() { C.rte_thread_unregister() }
