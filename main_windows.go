//go:build windows

package main

import (
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// assent.exe is a console program, so that `assent record`, `assent list`
// and the rest print in a terminal like on Linux. Started without arguments
// from the Start menu or Explorer it opens the app, and Windows would leave
// an empty console window beside it: when this process is the only one
// attached to its console (nobody started it from a terminal), let the
// console go.
func init() {
	if len(os.Args) > 1 {
		return
	}
	k := windows.NewLazySystemDLL("kernel32.dll")
	list, free := k.NewProc("GetConsoleProcessList"), k.NewProc("FreeConsole")
	if list.Find() != nil || free.Find() != nil {
		return
	}
	var pids [2]uint32
	if n, _, _ := list.Call(uintptr(unsafe.Pointer(&pids[0])), uintptr(len(pids))); n == 1 {
		free.Call()
	}
}
