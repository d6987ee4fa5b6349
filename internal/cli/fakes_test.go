package cli

import (
	"net"
	"testing"
)

// TestFakeProvidersStartOnlyWhenAConfigNamesThem: a config that never
// says ${HIGHWAY_MOCK_ADDR} starts no fake LLM endpoints; one that does
// gets their address as a value (twice the same: a reload finds them
// running), and a HIGHWAY_MOCK_ADDR of the user's wins.
func TestFakeProvidersStartOnlyWhenAConfigNamesThem(t *testing.T) {
	env := map[string]string{"OPENAI_KEY": "k"}
	fakes := &fakeProviders{base: func(name string) (string, bool) { v, ok := env[name]; return v, ok }}
	defer fakes.Close()
	if v, ok := fakes.lookup("OPENAI_KEY"); v != "k" || !ok {
		t.Errorf("OPENAI_KEY: %q %v", v, ok)
	}
	if fakes.stop != nil {
		t.Fatal("fake providers started for a config that does not name them")
	}
	addr, ok := fakes.lookup(MockAddrVar)
	if !ok || addr == "" {
		t.Fatalf("%s: %q %v", MockAddrVar, addr, ok)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("nothing listens at the address a config was given: %v", err)
	}
	conn.Close()
	if again, _ := fakes.lookup(MockAddrVar); again != addr {
		t.Errorf("named again: %q, want the running %q", again, addr)
	}
	fakes.Close()
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("the fake providers still listen after Close")
	}
	env[MockAddrVar] = "127.0.0.1:9999"
	mine := &fakeProviders{base: fakes.base}
	if v, _ := mine.lookup(MockAddrVar); v != "127.0.0.1:9999" || mine.stop != nil {
		t.Errorf("with the user's own: %q, started %v", v, mine.stop != nil)
	}
}
