// Package testenv tells tests which real parts (sound server, Secret Service,
// X server, PostgreSQL) the environment provides.
//
// scripts/with-real-parts.sh starts the parts and sets the variables read
// here. Outside CI a missing part skips the test; with CI=true it fails it,
// so a CI run can never pass by skipping what it must run.
package testenv

import (
	"os"
	"testing"
)

// CI reports whether the tests run under CI (CI=true).
func CI() bool { return os.Getenv("CI") == "true" }

func need(t testing.TB, ok bool, what, how string) {
	t.Helper()
	if ok {
		return
	}
	if CI() {
		t.Fatalf("%s is required under CI but not available: %s", what, how)
	}
	t.Skipf("%s not available (%s); run through scripts/with-real-parts.sh", what, how)
}

// RequireKeyring needs a real Secret Service (gnome-keyring on a D-Bus session).
func RequireKeyring(t testing.TB) {
	t.Helper()
	need(t, os.Getenv("ASSENT_TEST_KEYRING") == "1", "a Secret Service (OS keyring)", "ASSENT_TEST_KEYRING is not 1")
}

// RequirePulse needs a real PulseAudio server with the null sink "callsink";
// its monitor "callsink.monitor" is the default source.
func RequirePulse(t testing.TB) {
	t.Helper()
	need(t, os.Getenv("ASSENT_TEST_PULSE") == "1", "a PulseAudio sound server", "ASSENT_TEST_PULSE is not 1")
}

// RequireDisplay needs an X server (Xvfb) on $DISPLAY.
func RequireDisplay(t testing.TB) {
	t.Helper()
	need(t, os.Getenv("DISPLAY") != "", "an X server", "DISPLAY is empty")
}

// RequirePostgres needs a PostgreSQL server and returns its DSN.
func RequirePostgres(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("ASSENT_TEST_PG_DSN")
	need(t, dsn != "", "a PostgreSQL server", "ASSENT_TEST_PG_DSN is empty")
	return dsn
}
