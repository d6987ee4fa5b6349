package config

import (
	"strings"
	"testing"
	"time"
)

func TestTheRedisSectionHasDefaultsAndIsChecked(t *testing.T) {
	c, err := parse("f.yaml", []byte(srcRoutes+`
redis:
  addr: 127.0.0.1:6379
  username: ${REDIS_USERNAME:-}
  password: ${REDIS_PASSWORD:-}
  tls: false
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Redis{Addr: "127.0.0.1:6379", Prefix: "highway:", Timeout: Duration(50 * time.Millisecond),
		OnError: RedisFailOpen, MaxEntryBytes: 1 << 20}
	if c.Redis != want {
		t.Errorf("redis = %+v, want %+v", c.Redis, want)
	}
	if d := Default(); d.Redis.On() {
		t.Error("the embedded default needs a Redis")
	}
	for _, bad := range []struct{ yaml, want string }{
		{"redis: {addr: localhost}", `f.yaml:5:15: redis.addr: want host:port, got "localhost"`},
		{"redis: {addr: 'h:6379', on_error: maybe}", `redis.on_error: want open or closed, got "maybe"`},
		{"redis: {addr: 'h:6379', timeout: -1s}", `redis.timeout: must be positive`},
		{"redis: {password: x}", `redis.addr: redis settings without an addr`},
		{"redis: {addr: 'h:6379', timout: 1s}", `redis.timout: unknown field "timout" (did you mean "timeout"?`},
	} {
		_, err := parse("f.yaml", []byte(srcRoutes+bad.yaml+"\n"), env(nil))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: err = %v, want %q", bad.yaml, err, bad.want)
		}
	}
}

func TestARedisPasswordNeverShows(t *testing.T) {
	_, err := parse("f.yaml", []byte(srcRoutes+"redis: {addr: 'h:${REDIS_PASSWORD}', password: '${REDIS_PASSWORD}'}\n"),
		env(map[string]string{"REDIS_PASSWORD": "s3cret-pass"}))
	if err == nil {
		t.Fatal("a bad port was accepted")
	}
	if strings.Contains(err.Error(), "s3cret-pass") {
		t.Errorf("the message shows the password: %v", err)
	}
}

func TestARedisCAFileIsReadAtLoad(t *testing.T) {
	for _, bad := range []struct{ yaml, want string }{
		{"redis: {addr: 'h:6379', tls_ca_file: ca.pem}", "redis.tls_ca_file: a CA file without tls: true"},
		{"redis: {addr: 'h:6379', tls: true, tls_ca_file: /nonexistent/ca.pem}", "redis.tls_ca_file: open /nonexistent/ca.pem"},
		{"redis: {addr: 'h:6379', tls: true, tls_ca_file: /etc/hostname}", "holds no PEM certificate"},
	} {
		_, err := parse("f.yaml", []byte(srcRoutes+bad.yaml+"\n"), env(nil))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: err = %v, want %q", bad.yaml, err, bad.want)
		}
	}
}
