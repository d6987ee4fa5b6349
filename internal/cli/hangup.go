package cli

import (
	"os"
	"os/signal"
	"syscall"
)

// hangups holds the SIGHUPs that arrive from the moment HoldHangups is
// called: one queued is enough, a reload reads the file as it is then.
var hangups = make(chan os.Signal, 1)

// HoldHangups makes SIGHUP harmless from the first instruction of main: its
// default action ends the process, which a reload signal sent while serve
// is still starting must not do. serve's reloader takes the signals held
// (a SIGHUP during start-up reloads once serving); every other command
// gives SIGHUP back its default as it starts.
func HoldHangups() { signal.Notify(hangups, syscall.SIGHUP) }

// releaseHangups gives SIGHUP back its default action, for commands that
// do not reload.
func releaseHangups() {
	signal.Stop(hangups)
	signal.Reset(syscall.SIGHUP)
}
