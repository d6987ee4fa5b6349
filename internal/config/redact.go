package config

import (
	"regexp"
	"strings"
)

// minSecret is the shortest value from the environment that messages
// hide: shorter ones (a port, a flag) would garble every message they
// appear in and are no one's secret.
const minSecret = 4

// redact hides secrets in every message of es: each value the environment
// gave a ${...}, and the password and query values of any URL, so that
// neither highway check nor a refused reload prints a key.
func (d *decoder) redact(es Errors) Errors {
	for _, e := range es {
		e.Reason = d.redactText(e.Reason)
	}
	return es
}

func (d *decoder) redactText(s string) string {
	for _, secret := range d.secrets {
		if len(secret) >= minSecret {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return anyURL.ReplaceAllStringFunc(s, redactURL)
}

var anyURL = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)

// redactURL keeps a URL's scheme, user name, host and path, and the names
// of its query parameters; it hides the password and the values. It works
// on the text, so a URL that does not parse (a template) is hidden too.
func redactURL(raw string) string {
	scheme, rest, _ := strings.Cut(raw, "://")
	authority, path := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		user, _, hasPassword := strings.Cut(authority[:at], ":")
		if hasPassword {
			user += ":REDACTED"
		}
		authority = user + authority[at:]
	}
	path, query, hasQuery := strings.Cut(path, "?")
	if hasQuery {
		query, fragment, hasFragment := strings.Cut(query, "#")
		pairs := strings.Split(query, "&")
		for i, p := range pairs {
			if k, _, ok := strings.Cut(p, "="); ok {
				pairs[i] = k + "=REDACTED"
			}
		}
		path += "?" + strings.Join(pairs, "&")
		if hasFragment {
			path += "#" + fragment
		}
	}
	return scheme + "://" + authority + path
}
